// Original file: proto/guardian/edge/v1/link.proto

import type { EventAck as _guardian_edge_v1_EventAck, EventAck__Output as _guardian_edge_v1_EventAck__Output } from '../../../guardian/edge/v1/EventAck.ts';

export interface EventAcks {
  'acks'?: (_guardian_edge_v1_EventAck)[];
}

export interface EventAcks__Output {
  'acks': (_guardian_edge_v1_EventAck__Output)[];
}
