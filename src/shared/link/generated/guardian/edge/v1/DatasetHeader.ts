// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface DatasetHeader {
  /**
   * the edge's id for this upload (a replay of the same id is answered with the same dataset)
   */
  'uploadId'?: (string);
  'name'?: (string);
  'size'?: (number | string | Long);
  'sha256'?: (string);
}

export interface DatasetHeader__Output {
  /**
   * the edge's id for this upload (a replay of the same id is answered with the same dataset)
   */
  'uploadId': (string);
  'name': (string);
  'size': (number);
  'sha256': (string);
}
