// Original file: proto/guardian/edge/v1/link.proto

import type { ControlOpen as _guardian_edge_v1_ControlOpen, ControlOpen__Output as _guardian_edge_v1_ControlOpen__Output } from '../../../guardian/edge/v1/ControlOpen.ts';
import type { RequestFailed as _guardian_edge_v1_RequestFailed, RequestFailed__Output as _guardian_edge_v1_RequestFailed__Output } from '../../../guardian/edge/v1/RequestFailed.ts';

export interface EdgeMessage {
  'open'?: (_guardian_edge_v1_ControlOpen | null);
  'failed'?: (_guardian_edge_v1_RequestFailed | null);
  'body'?: "open"|"failed";
}

export interface EdgeMessage__Output {
  'open'?: (_guardian_edge_v1_ControlOpen__Output | null);
  'failed'?: (_guardian_edge_v1_RequestFailed__Output | null);
  'body'?: "open"|"failed";
}
