// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A clip of an event, or a byte range of it (end inclusive, as in HTTP Range).
 */
export interface ClipRequest {
  'eventId'?: (string);
  'start'?: (number | string | Long);
  'end'?: (number | string | Long);
  '_end'?: "end";
}

/**
 * A clip of an event, or a byte range of it (end inclusive, as in HTTP Range).
 */
export interface ClipRequest__Output {
  'eventId': (string);
  'start': (number);
  'end'?: (number);
  '_end'?: "end";
}
