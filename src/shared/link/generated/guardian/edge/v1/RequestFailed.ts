// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface RequestFailed {
  'requestId'?: (string);
  /**
   * NOT_FOUND, RANGE, UNAVAILABLE
   */
  'code'?: (string);
  'message'?: (string);
  /**
   * with RANGE: the clip's size, for Content-Range
   */
  'totalSize'?: (number | string | Long);
}

export interface RequestFailed__Output {
  'requestId': (string);
  /**
   * NOT_FOUND, RANGE, UNAVAILABLE
   */
  'code': (string);
  'message': (string);
  /**
   * with RANGE: the clip's size, for Content-Range
   */
  'totalSize': (number);
}
