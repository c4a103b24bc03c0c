// Original file: proto/guardian/edge/v1/link.proto

import type { ArchiveFetchHeader as _guardian_edge_v1_ArchiveFetchHeader, ArchiveFetchHeader__Output as _guardian_edge_v1_ArchiveFetchHeader__Output } from '../../../guardian/edge/v1/ArchiveFetchHeader.ts';

export interface ArchiveFetchChunk {
  /**
   * first message
   */
  'header'?: (_guardian_edge_v1_ArchiveFetchHeader | null);
  /**
   * at most 256 KiB each, end - start + 1 bytes in all
   */
  'data'?: (Buffer | Uint8Array | string);
  'body'?: "header"|"data";
}

export interface ArchiveFetchChunk__Output {
  /**
   * first message
   */
  'header'?: (_guardian_edge_v1_ArchiveFetchHeader__Output | null);
  /**
   * at most 256 KiB each, end - start + 1 bytes in all
   */
  'data'?: (Buffer);
  'body'?: "header"|"data";
}
