// Applying a saved configuration to the running edge: everything at once, in the process that owns it. The main
// process applies what it holds (recording index and retention, record modes, defaults for new cameras, event
// rules, the telemetry interval); the media process applies detection and restarts the camera streams only for a
// new segment length or a model of another input size. The report says which.
import type { Config } from '../shared/config.ts';
import type { CameraRegistry } from './cameras/registry.ts';
import type { EventGenerator } from './events/generator.ts';
import type { MediaProcess } from './media/process.ts';
import type { ConfigureReport } from './media/protocol.ts';
import { type RecordingService, recordingConfig } from './recording/service.ts';
import type { Telemetry } from './telemetry.ts';

export type ApplyReport = ConfigureReport | { live: string[]; restartedCameras: []; pending: string };

export async function applyConfig(
  prev: Config,
  next: Config,
  s: {
    media: MediaProcess;
    recording: RecordingService;
    registry: CameraRegistry;
    generator: EventGenerator;
    telemetry: Telemetry;
  },
): Promise<ApplyReport> {
  s.media.setConfig(next); // what a (re)started media process begins with
  s.registry.defaults.detectFps = next.detection.fps;
  s.generator.setOptions(next);
  if (prev.telemetry.intervalSeconds !== next.telemetry.intervalSeconds) {
    s.telemetry.stop();
    s.telemetry.start(next.telemetry.intervalSeconds);
  }
  // Recording settings apply to the index here at once (retention, disk watermark, clips, record modes).
  Object.assign(s.recording.config, recordingConfig(next.dataDir, next.recording));
  for (const [id, cam] of Object.entries(next.cameras)) s.recording.setMode(id, cam.recordMode);
  s.recording.enforce().catch(() => undefined); // retention runs again on its timer (and logs there)
  const recordingLive = (Object.keys(next.recording) as (keyof Config['recording'])[])
    .filter((k) => k !== 'segmentSeconds' && JSON.stringify(prev.recording[k]) !== JSON.stringify(next.recording[k]))
    .map((k) => `recording.${k}`);
  if (!s.media.ready)
    return { live: recordingLive, restartedCameras: [], pending: 'detection applies when the media process starts' };
  const report = await s.media.request('configure', { config: next }, 60_000);
  report.live.push(...recordingLive);
  s.media.backend = report.backend;
  return report;
}
