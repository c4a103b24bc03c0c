// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface HelloReply {
  'vmVersion'?: (string);
  'serverTimeMs'?: (number | string | Long);
  'heartbeatSeconds'?: (number);
}

export interface HelloReply__Output {
  'vmVersion': (string);
  'serverTimeMs': (number);
  'heartbeatSeconds': (number);
}
