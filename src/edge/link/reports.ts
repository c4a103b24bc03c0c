// What the edge tells its server about itself: the hello (version and cameras) and the periodic telemetry report,
// mapped from the registry, the media process's camera runtime and the telemetry sampler.
import type { HelloRequest } from '../../shared/link/generated/guardian/edge/v1/HelloRequest.ts';
import type { TelemetryReport } from '../../shared/link/generated/guardian/edge/v1/TelemetryReport.ts';
import type { CameraRegistry } from '../cameras/registry.ts';
import type { MediaProcess } from '../media/process.ts';
import type { Telemetry } from '../telemetry.ts';

export function helloReport(
  version: string,
  registry: CameraRegistry,
  media: MediaProcess,
  models: HelloRequest['models'] = [],
): Omit<HelloRequest, 'edgeId'> {
  return {
    version,
    models,
    cameras: registry.list().map((c) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      status: media.cameras[c.id]?.status ?? 'unknown',
    })),
  };
}

export function telemetryReport(telemetry: Telemetry): Omit<TelemetryReport, 'linkLatencyMs' | 'handshakeAgeSeconds'> {
  const t = telemetry.snapshot();
  return {
    timeMs: Date.now(),
    cpuPercent: t.now.cpuPercent,
    memoryPercent: t.now.memoryPercent,
    diskPercent: t.now.diskPercent,
    outboxLength: t.outboxLength,
    uptimeSeconds: t.uptimeSeconds,
    cameras: Object.entries(t.cameras).map(([id, c]) => ({
      id,
      status: c.status,
      fps: c.inputFps ?? 0,
      lastError: c.lastError ?? '',
    })),
  };
}
