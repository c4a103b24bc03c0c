// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface ClipHeader {
  'totalSize'?: (number | string | Long);
  'start'?: (number | string | Long);
  /**
   * inclusive
   */
  'end'?: (number | string | Long);
  'contentType'?: (string);
}

export interface ClipHeader__Output {
  'totalSize': (number);
  'start': (number);
  /**
   * inclusive
   */
  'end': (number);
  'contentType': (string);
}
