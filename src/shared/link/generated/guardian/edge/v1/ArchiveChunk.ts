// Original file: proto/guardian/edge/v1/link.proto

import type { ArchiveHeader as _guardian_edge_v1_ArchiveHeader, ArchiveHeader__Output as _guardian_edge_v1_ArchiveHeader__Output } from '../../../guardian/edge/v1/ArchiveHeader.ts';
import type { ArchiveEnd as _guardian_edge_v1_ArchiveEnd, ArchiveEnd__Output as _guardian_edge_v1_ArchiveEnd__Output } from '../../../guardian/edge/v1/ArchiveEnd.ts';

export interface ArchiveChunk {
  /**
   * first message
   */
  'header'?: (_guardian_edge_v1_ArchiveHeader | null);
  /**
   * at most 256 KiB each
   */
  'data'?: (Buffer | Uint8Array | string);
  /**
   * last message
   */
  'end'?: (_guardian_edge_v1_ArchiveEnd | null);
  'body'?: "header"|"data"|"end";
}

export interface ArchiveChunk__Output {
  /**
   * first message
   */
  'header'?: (_guardian_edge_v1_ArchiveHeader__Output | null);
  /**
   * at most 256 KiB each
   */
  'data'?: (Buffer);
  /**
   * last message
   */
  'end'?: (_guardian_edge_v1_ArchiveEnd__Output | null);
  'body'?: "header"|"data"|"end";
}
