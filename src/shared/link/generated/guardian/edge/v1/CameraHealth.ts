// Original file: proto/guardian/edge/v1/link.proto


export interface CameraHealth {
  'id'?: (string);
  'status'?: (string);
  'fps'?: (number | string);
  'lastError'?: (string);
}

export interface CameraHealth__Output {
  'id': (string);
  'status': (string);
  'fps': (number);
  'lastError': (string);
}
