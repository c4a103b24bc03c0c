// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Which bytes of an archived object to read back: inclusive ciphertext offsets, as in HTTP Range.
 */
export interface ArchiveFetchRequest {
  'eventId'?: (string);
  /**
   * clip, snapshot, metadata
   */
  'kind'?: (string);
  'start'?: (number | string | Long);
  /**
   * inclusive; absent or past the end: to the end
   */
  'end'?: (number | string | Long);
  /**
   * only the header (size and SHA-256), no bytes
   */
  'headerOnly'?: (boolean);
  '_end'?: "end";
}

/**
 * Which bytes of an archived object to read back: inclusive ciphertext offsets, as in HTTP Range.
 */
export interface ArchiveFetchRequest__Output {
  'eventId': (string);
  /**
   * clip, snapshot, metadata
   */
  'kind': (string);
  'start': (number);
  /**
   * inclusive; absent or past the end: to the end
   */
  'end'?: (number);
  /**
   * only the header (size and SHA-256), no bytes
   */
  'headerOnly': (boolean);
  '_end'?: "end";
}
