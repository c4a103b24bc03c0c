// Original file: proto/guardian/edge/v1/link.proto

import type { DatasetHeader as _guardian_edge_v1_DatasetHeader, DatasetHeader__Output as _guardian_edge_v1_DatasetHeader__Output } from '../../../guardian/edge/v1/DatasetHeader.ts';
import type { ArchiveEnd as _guardian_edge_v1_ArchiveEnd, ArchiveEnd__Output as _guardian_edge_v1_ArchiveEnd__Output } from '../../../guardian/edge/v1/ArchiveEnd.ts';

export interface DatasetChunk {
  'header'?: (_guardian_edge_v1_DatasetHeader | null);
  'data'?: (Buffer | Uint8Array | string);
  'end'?: (_guardian_edge_v1_ArchiveEnd | null);
  'body'?: "header"|"data"|"end";
}

export interface DatasetChunk__Output {
  'header'?: (_guardian_edge_v1_DatasetHeader__Output | null);
  'data'?: (Buffer);
  'end'?: (_guardian_edge_v1_ArchiveEnd__Output | null);
  'body'?: "header"|"data"|"end";
}
