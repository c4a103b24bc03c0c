// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface ClipEnd {
  'bytes'?: (number | string | Long);
}

export interface ClipEnd__Output {
  'bytes': (number);
}
