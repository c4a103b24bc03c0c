// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface PingRequest {
  'sentMs'?: (number | string | Long);
}

export interface PingRequest__Output {
  'sentMs': (number);
}
