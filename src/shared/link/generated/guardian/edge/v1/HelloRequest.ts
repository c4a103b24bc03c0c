// Original file: proto/guardian/edge/v1/link.proto

import type { Camera as _guardian_edge_v1_Camera, Camera__Output as _guardian_edge_v1_Camera__Output } from '../../../guardian/edge/v1/Camera.ts';

export interface HelloRequest {
  'edgeId'?: (string);
  'version'?: (string);
  'cameras'?: (_guardian_edge_v1_Camera)[];
}

export interface HelloRequest__Output {
  'edgeId': (string);
  'version': (string);
  'cameras': (_guardian_edge_v1_Camera__Output)[];
}
