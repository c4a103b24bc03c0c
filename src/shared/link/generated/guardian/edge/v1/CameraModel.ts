// Original file: proto/guardian/edge/v1/link.proto


/**
 * The anomaly model a camera runs (or what became of a deployment to it).
 */
export interface CameraModel {
  'cameraId'?: (string);
  /**
   * knn-patch, cae
   */
  'kind'?: (string);
  /**
   * the edge's version number of the camera's model
   */
  'version'?: (number);
  /**
   * the VM's catalog id, when it came from the VM
   */
  'modelId'?: (string);
  /**
   * of the model's main file
   */
  'sha256'?: (string);
  /**
   * active, failed, rolled_back
   */
  'state'?: (string);
  /**
   * why, for failed and rolled_back
   */
  'message'?: (string);
  /**
   * every version kept on the edge, newest first (rollback goes to the one below)
   */
  'versions'?: (number)[];
}

/**
 * The anomaly model a camera runs (or what became of a deployment to it).
 */
export interface CameraModel__Output {
  'cameraId': (string);
  /**
   * knn-patch, cae
   */
  'kind': (string);
  /**
   * the edge's version number of the camera's model
   */
  'version': (number);
  /**
   * the VM's catalog id, when it came from the VM
   */
  'modelId': (string);
  /**
   * of the model's main file
   */
  'sha256': (string);
  /**
   * active, failed, rolled_back
   */
  'state': (string);
  /**
   * why, for failed and rolled_back
   */
  'message': (string);
  /**
   * every version kept on the edge, newest first (rollback goes to the one below)
   */
  'versions': (number)[];
}
