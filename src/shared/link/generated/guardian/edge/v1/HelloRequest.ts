// Original file: proto/guardian/edge/v1/link.proto

import type { Camera as _guardian_edge_v1_Camera, Camera__Output as _guardian_edge_v1_Camera__Output } from '../../../guardian/edge/v1/Camera.ts';
import type { CameraModel as _guardian_edge_v1_CameraModel, CameraModel__Output as _guardian_edge_v1_CameraModel__Output } from '../../../guardian/edge/v1/CameraModel.ts';

export interface HelloRequest {
  'edgeId'?: (string);
  'version'?: (string);
  'cameras'?: (_guardian_edge_v1_Camera)[];
  /**
   * the anomaly model each camera runs
   */
  'models'?: (_guardian_edge_v1_CameraModel)[];
}

export interface HelloRequest__Output {
  'edgeId': (string);
  'version': (string);
  'cameras': (_guardian_edge_v1_Camera__Output)[];
  /**
   * the anomaly model each camera runs
   */
  'models': (_guardian_edge_v1_CameraModel__Output)[];
}
