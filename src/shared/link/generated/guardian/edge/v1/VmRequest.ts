// Original file: proto/guardian/edge/v1/link.proto

import type { ClipRequest as _guardian_edge_v1_ClipRequest, ClipRequest__Output as _guardian_edge_v1_ClipRequest__Output } from '../../../guardian/edge/v1/ClipRequest.ts';
import type { Cancel as _guardian_edge_v1_Cancel, Cancel__Output as _guardian_edge_v1_Cancel__Output } from '../../../guardian/edge/v1/Cancel.ts';

export interface VmRequest {
  'requestId'?: (string);
  'clip'?: (_guardian_edge_v1_ClipRequest | null);
  'cancel'?: (_guardian_edge_v1_Cancel | null);
  'body'?: "clip"|"cancel";
}

export interface VmRequest__Output {
  'requestId': (string);
  'clip'?: (_guardian_edge_v1_ClipRequest__Output | null);
  'cancel'?: (_guardian_edge_v1_Cancel__Output | null);
  'body'?: "clip"|"cancel";
}
