// Original file: proto/guardian/edge/v1/link.proto


export interface ControlOpen {
  'edgeId'?: (string);
}

export interface ControlOpen__Output {
  'edgeId': (string);
}
