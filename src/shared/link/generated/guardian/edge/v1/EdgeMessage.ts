// Original file: proto/guardian/edge/v1/link.proto

import type { ControlOpen as _guardian_edge_v1_ControlOpen, ControlOpen__Output as _guardian_edge_v1_ControlOpen__Output } from '../../../guardian/edge/v1/ControlOpen.ts';
import type { RequestFailed as _guardian_edge_v1_RequestFailed, RequestFailed__Output as _guardian_edge_v1_RequestFailed__Output } from '../../../guardian/edge/v1/RequestFailed.ts';
import type { ModelReport as _guardian_edge_v1_ModelReport, ModelReport__Output as _guardian_edge_v1_ModelReport__Output } from '../../../guardian/edge/v1/ModelReport.ts';

export interface EdgeMessage {
  'open'?: (_guardian_edge_v1_ControlOpen | null);
  'failed'?: (_guardian_edge_v1_RequestFailed | null);
  'model'?: (_guardian_edge_v1_ModelReport | null);
  'body'?: "open"|"failed"|"model";
}

export interface EdgeMessage__Output {
  'open'?: (_guardian_edge_v1_ControlOpen__Output | null);
  'failed'?: (_guardian_edge_v1_RequestFailed__Output | null);
  'model'?: (_guardian_edge_v1_ModelReport__Output | null);
  'body'?: "open"|"failed"|"model";
}
