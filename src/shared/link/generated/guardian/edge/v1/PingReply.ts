// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface PingReply {
  'sentMs'?: (number | string | Long);
  'serverTimeMs'?: (number | string | Long);
}

export interface PingReply__Output {
  'sentMs': (number);
  'serverTimeMs': (number);
}
