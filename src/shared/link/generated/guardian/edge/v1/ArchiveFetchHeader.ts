// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

export interface ArchiveFetchHeader {
  /**
   * the whole object's ciphertext bytes
   */
  'totalSize'?: (number | string | Long);
  /**
   * of the whole object: a reader can tell the object was replaced between two reads
   */
  'sha256'?: (string);
  /**
   * the range that follows (end inclusive); with header_only, nothing follows
   */
  'start'?: (number | string | Long);
  'end'?: (number | string | Long);
}

export interface ArchiveFetchHeader__Output {
  /**
   * the whole object's ciphertext bytes
   */
  'totalSize': (number);
  /**
   * of the whole object: a reader can tell the object was replaced between two reads
   */
  'sha256': (string);
  /**
   * the range that follows (end inclusive); with header_only, nothing follows
   */
  'start': (number);
  'end': (number);
}
