// Original file: proto/guardian/edge/v1/link.proto

import type { Event as _guardian_edge_v1_Event, Event__Output as _guardian_edge_v1_Event__Output } from '../../../guardian/edge/v1/Event.ts';
import type { Long } from '@grpc/proto-loader';

export interface EventEnvelope {
  /**
   * the edge's outbox id, echoed in the acknowledgement
   */
  'deliveryId'?: (number | string | Long);
  /**
   * event.start, event.update, event.end
   */
  'kind'?: (string);
  'event'?: (_guardian_edge_v1_Event | null);
}

export interface EventEnvelope__Output {
  /**
   * the edge's outbox id, echoed in the acknowledgement
   */
  'deliveryId': (number);
  /**
   * event.start, event.update, event.end
   */
  'kind': (string);
  'event': (_guardian_edge_v1_Event__Output | null);
}
