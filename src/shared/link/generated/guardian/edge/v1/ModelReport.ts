// Original file: proto/guardian/edge/v1/link.proto

import type { CameraModel as _guardian_edge_v1_CameraModel, CameraModel__Output as _guardian_edge_v1_CameraModel__Output } from '../../../guardian/edge/v1/CameraModel.ts';

/**
 * The outcome of a ModelPush or ModelRollback (request_id echoed), or a change the edge made itself (a model that
 * failed to load, rolled back; request_id empty).
 */
export interface ModelReport {
  'requestId'?: (string);
  'modelId'?: (string);
  'cameras'?: (_guardian_edge_v1_CameraModel)[];
}

/**
 * The outcome of a ModelPush or ModelRollback (request_id echoed), or a change the edge made itself (a model that
 * failed to load, rolled back; request_id empty).
 */
export interface ModelReport__Output {
  'requestId': (string);
  'modelId': (string);
  'cameras': (_guardian_edge_v1_CameraModel__Output)[];
}
