// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Install a catalog model on cameras: the edge fetches the file (FetchModel), checks size and sha256, checks the
 * model against its kind, keeps the previous version, activates it, and answers with a ModelReport.
 */
export interface ModelPush {
  'modelId'?: (string);
  'kind'?: (string);
  /**
   * of the model file
   */
  'size'?: (number | string | Long);
  'sha256'?: (string);
  /**
   * the model dir's model.json
   */
  'modelJson'?: (string);
  'cameraIds'?: (string)[];
}

/**
 * Install a catalog model on cameras: the edge fetches the file (FetchModel), checks size and sha256, checks the
 * model against its kind, keeps the previous version, activates it, and answers with a ModelReport.
 */
export interface ModelPush__Output {
  'modelId': (string);
  'kind': (string);
  /**
   * of the model file
   */
  'size': (number);
  'sha256': (string);
  /**
   * the model dir's model.json
   */
  'modelJson': (string);
  'cameraIds': (string)[];
}
