// Original file: proto/guardian/edge/v1/link.proto

import type { CameraHealth as _guardian_edge_v1_CameraHealth, CameraHealth__Output as _guardian_edge_v1_CameraHealth__Output } from '../../../guardian/edge/v1/CameraHealth.ts';
import type { Long } from '@grpc/proto-loader';

export interface TelemetryReport {
  'timeMs'?: (number | string | Long);
  'cpuPercent'?: (number | string);
  'memoryPercent'?: (number | string);
  'diskPercent'?: (number | string);
  'outboxLength'?: (number | string | Long);
  'uptimeSeconds'?: (number | string | Long);
  'cameras'?: (_guardian_edge_v1_CameraHealth)[];
  'linkLatencyMs'?: (number | string);
  'handshakeAgeSeconds'?: (number | string);
  '_handshakeAgeSeconds'?: "handshakeAgeSeconds";
}

export interface TelemetryReport__Output {
  'timeMs': (number);
  'cpuPercent': (number);
  'memoryPercent': (number);
  'diskPercent': (number);
  'outboxLength': (number);
  'uptimeSeconds': (number);
  'cameras': (_guardian_edge_v1_CameraHealth__Output)[];
  'linkLatencyMs': (number);
  'handshakeAgeSeconds'?: (number);
  '_handshakeAgeSeconds'?: "handshakeAgeSeconds";
}
