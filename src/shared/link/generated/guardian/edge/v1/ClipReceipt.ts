// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface ClipReceipt {
  'bytes'?: (number | string | Long);
}

export interface ClipReceipt__Output {
  'bytes': (number);
}
