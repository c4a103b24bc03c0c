// Original file: proto/guardian/edge/v1/link.proto


export interface ModelFetchRequest {
  'modelId'?: (string);
}

export interface ModelFetchRequest__Output {
  'modelId': (string);
}
