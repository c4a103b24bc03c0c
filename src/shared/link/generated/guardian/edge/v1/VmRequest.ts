// Original file: proto/guardian/edge/v1/link.proto

import type { ClipRequest as _guardian_edge_v1_ClipRequest, ClipRequest__Output as _guardian_edge_v1_ClipRequest__Output } from '../../../guardian/edge/v1/ClipRequest.ts';
import type { Cancel as _guardian_edge_v1_Cancel, Cancel__Output as _guardian_edge_v1_Cancel__Output } from '../../../guardian/edge/v1/Cancel.ts';
import type { ModelPush as _guardian_edge_v1_ModelPush, ModelPush__Output as _guardian_edge_v1_ModelPush__Output } from '../../../guardian/edge/v1/ModelPush.ts';
import type { ModelRollback as _guardian_edge_v1_ModelRollback, ModelRollback__Output as _guardian_edge_v1_ModelRollback__Output } from '../../../guardian/edge/v1/ModelRollback.ts';

export interface VmRequest {
  'requestId'?: (string);
  'clip'?: (_guardian_edge_v1_ClipRequest | null);
  'cancel'?: (_guardian_edge_v1_Cancel | null);
  'model'?: (_guardian_edge_v1_ModelPush | null);
  'rollback'?: (_guardian_edge_v1_ModelRollback | null);
  'body'?: "clip"|"cancel"|"model"|"rollback";
}

export interface VmRequest__Output {
  'requestId': (string);
  'clip'?: (_guardian_edge_v1_ClipRequest__Output | null);
  'cancel'?: (_guardian_edge_v1_Cancel__Output | null);
  'model'?: (_guardian_edge_v1_ModelPush__Output | null);
  'rollback'?: (_guardian_edge_v1_ModelRollback__Output | null);
  'body'?: "clip"|"cancel"|"model"|"rollback";
}
