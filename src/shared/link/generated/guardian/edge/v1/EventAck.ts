// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/guardian/edge/v1/link.proto

export const _guardian_edge_v1_EventAck_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  /**
   * inserted or updated
   */
  STORED: 'STORED',
  /**
   * already held (a replay)
   */
  UNCHANGED: 'UNCHANGED',
  /**
   * malformed: retrying will not help
   */
  REJECTED: 'REJECTED',
} as const;

export type _guardian_edge_v1_EventAck_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  /**
   * inserted or updated
   */
  | 'STORED'
  | 1
  /**
   * already held (a replay)
   */
  | 'UNCHANGED'
  | 2
  /**
   * malformed: retrying will not help
   */
  | 'REJECTED'
  | 3

export type _guardian_edge_v1_EventAck_Status__Output = typeof _guardian_edge_v1_EventAck_Status[keyof typeof _guardian_edge_v1_EventAck_Status]

export interface EventAck {
  'deliveryId'?: (number | string | Long);
  'eventId'?: (string);
  'status'?: (_guardian_edge_v1_EventAck_Status);
  'error'?: (string);
}

export interface EventAck__Output {
  'deliveryId': (number);
  'eventId': (string);
  'status': (_guardian_edge_v1_EventAck_Status__Output);
  'error': (string);
}
