// Original file: proto/guardian/edge/v1/link.proto

import type { EventEnvelope as _guardian_edge_v1_EventEnvelope, EventEnvelope__Output as _guardian_edge_v1_EventEnvelope__Output } from '../../../guardian/edge/v1/EventEnvelope.ts';

export interface EventBatch {
  'events'?: (_guardian_edge_v1_EventEnvelope)[];
}

export interface EventBatch__Output {
  'events': (_guardian_edge_v1_EventEnvelope__Output)[];
}
