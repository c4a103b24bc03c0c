// Original file: proto/guardian/edge/v1/link.proto


export interface DatasetReceipt {
  'datasetId'?: (string);
  'images'?: (number);
  'normal'?: (number);
}

export interface DatasetReceipt__Output {
  'datasetId': (string);
  'images': (number);
  'normal': (number);
}
