// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

// Original file: proto/guardian/edge/v1/link.proto

export const _guardian_edge_v1_ArchiveReceipt_Status = {
  STATUS_UNSPECIFIED: 'STATUS_UNSPECIFIED',
  /**
   * stored (or replaced) and indexed
   */
  STORED: 'STORED',
  /**
   * the VM already held these exact bytes under this key: nothing was written
   */
  UNCHANGED: 'UNCHANGED',
} as const;

export type _guardian_edge_v1_ArchiveReceipt_Status =
  | 'STATUS_UNSPECIFIED'
  | 0
  /**
   * stored (or replaced) and indexed
   */
  | 'STORED'
  | 1
  /**
   * the VM already held these exact bytes under this key: nothing was written
   */
  | 'UNCHANGED'
  | 2

export type _guardian_edge_v1_ArchiveReceipt_Status__Output = typeof _guardian_edge_v1_ArchiveReceipt_Status[keyof typeof _guardian_edge_v1_ArchiveReceipt_Status]

export interface ArchiveReceipt {
  'status'?: (_guardian_edge_v1_ArchiveReceipt_Status);
  'bucket'?: (string);
  'key'?: (string);
  'size'?: (number | string | Long);
  'sha256'?: (string);
}

export interface ArchiveReceipt__Output {
  'status': (_guardian_edge_v1_ArchiveReceipt_Status__Output);
  'bucket': (string);
  'key': (string);
  'size': (number);
  'sha256': (string);
}
