// Original file: proto/guardian/edge/v1/link.proto


/**
 * Return these cameras to the version below the one they run.
 */
export interface ModelRollback {
  'cameraIds'?: (string)[];
}

/**
 * Return these cameras to the version below the one they run.
 */
export interface ModelRollback__Output {
  'cameraIds': (string)[];
}
