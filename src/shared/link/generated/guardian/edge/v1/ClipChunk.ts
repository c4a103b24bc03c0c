// Original file: proto/guardian/edge/v1/link.proto

import type { ClipHeader as _guardian_edge_v1_ClipHeader, ClipHeader__Output as _guardian_edge_v1_ClipHeader__Output } from '../../../guardian/edge/v1/ClipHeader.ts';
import type { ClipEnd as _guardian_edge_v1_ClipEnd, ClipEnd__Output as _guardian_edge_v1_ClipEnd__Output } from '../../../guardian/edge/v1/ClipEnd.ts';
import type { ClipError as _guardian_edge_v1_ClipError, ClipError__Output as _guardian_edge_v1_ClipError__Output } from '../../../guardian/edge/v1/ClipError.ts';

export interface ClipChunk {
  'requestId'?: (string);
  'header'?: (_guardian_edge_v1_ClipHeader | null);
  'data'?: (Buffer | Uint8Array | string);
  'end'?: (_guardian_edge_v1_ClipEnd | null);
  'error'?: (_guardian_edge_v1_ClipError | null);
  'body'?: "header"|"data"|"end"|"error";
}

export interface ClipChunk__Output {
  'requestId': (string);
  'header'?: (_guardian_edge_v1_ClipHeader__Output | null);
  'data'?: (Buffer);
  'end'?: (_guardian_edge_v1_ClipEnd__Output | null);
  'error'?: (_guardian_edge_v1_ClipError__Output | null);
  'body'?: "header"|"data"|"end"|"error";
}
