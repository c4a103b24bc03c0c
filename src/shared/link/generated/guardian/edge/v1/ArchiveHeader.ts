// Original file: proto/guardian/edge/v1/link.proto

import type { Long } from '@grpc/proto-loader';

/**
 * What an archive upload stores: the object's identity and the ciphertext's size and SHA-256.
 */
export interface ArchiveHeader {
  /**
   * the event's ULID (already delivered by PushEvents)
   */
  'eventId'?: (string);
  /**
   * the event's camera
   */
  'cameraId'?: (string);
  /**
   * clip, snapshot, metadata
   */
  'kind'?: (string);
  /**
   * ciphertext bytes that follow
   */
  'size'?: (number | string | Long);
  /**
   * lowercase hex SHA-256 of those bytes
   */
  'sha256'?: (string);
  /**
   * the event is protected: never evicted for quota or retention
   */
  'protected'?: (boolean);
}

/**
 * What an archive upload stores: the object's identity and the ciphertext's size and SHA-256.
 */
export interface ArchiveHeader__Output {
  /**
   * the event's ULID (already delivered by PushEvents)
   */
  'eventId': (string);
  /**
   * the event's camera
   */
  'cameraId': (string);
  /**
   * clip, snapshot, metadata
   */
  'kind': (string);
  /**
   * ciphertext bytes that follow
   */
  'size': (number);
  /**
   * lowercase hex SHA-256 of those bytes
   */
  'sha256': (string);
  /**
   * the event is protected: never evicted for quota or retention
   */
  'protected': (boolean);
}
