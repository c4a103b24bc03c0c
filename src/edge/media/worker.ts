// The media process: everything native (demux, decode, recording, motion, inference) for all cameras, so a crash
// or hang in libav or an inference runtime cannot take down the API, the database or the link.
import { join } from 'node:path';

import type { MediaSource } from '../../../bindings/index.ts';
import { openSource } from '../../../bindings/index.ts';
import { validateConfig } from '../../shared/config.ts';
import { openDatabase } from '../../shared/db.ts';
import { createLogger } from '../../shared/log.ts';
import { CameraManager } from '../cameras/manager.ts';
import { CameraRegistry } from '../cameras/registry.ts';
import { createBackend } from '../detect/backend.ts';
import { resolveModel } from '../detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../detect/pipeline.ts';
import { RecordingService } from '../recording/service.ts';
import type { CameraRuntime, FromMedia, ToMedia } from './protocol.ts';

const send = (m: FromMedia) => process.send?.(m);
const log = createLogger().child({ component: 'media' });

process.on('message', (msg: ToMedia) => {
  if (msg.type === 'init') void init(msg).catch((err) => send({ type: 'fatal', error: String(err?.message ?? err) }));
});
process.on('disconnect', () => process.exit(0)); // the main process is gone

async function init(msg: Extract<ToMedia, { type: 'init' }>) {
  let config = validateConfig(msg.config);
  const db = openDatabase(msg.dbPath);
  const registry = new CameraRegistry(db);
  const r = config.recording;
  const recording = new RecordingService(
    db,
    {
      root: join(config.dataDir, 'recordings'),
      segmentSeconds: r.segmentSeconds,
      retention: { continuousDays: r.continuousDays, eventDays: r.eventDays },
      preRollSeconds: r.preRollSeconds,
      postRollSeconds: r.postRollSeconds,
      eventsBufferSeconds: r.eventsBufferSeconds,
      disk: { minFreeBytes: r.minFreeBytes, minFreeMinutes: r.minFreeMinutes },
    },
    log,
  );
  await recording.reconcile();
  recording.start();
  for (const [id, cam] of Object.entries(config.cameras)) recording.setMode(id, cam.recordMode);

  const spec = resolveModel(config.detection.model);
  const { backend, fallbackReason } = await createBackend({
    backend: config.detection.backend,
    modelPath: spec.path,
    device: config.detection.device,
    threads: config.detection.threads,
  });
  if (fallbackReason) log.warn({ reason: fallbackReason }, 'inference backend fallback');

  const pipelines = new Map<string, DetectionPipeline>();
  const sources = new Map<string, MediaSource>();
  const stats = new Map<string, { frames: number; detected: number; skipped: number; inference: number[] }>();
  const pipelineFor = (cameraId: string) => {
    let p = pipelines.get(cameraId);
    if (!p) {
      const cam = config.cameras[cameraId];
      const m = config.detection.motion;
      p = new DetectionPipeline(spec, backend, {
        ...defaultPipelineOptions,
        classes: config.detection.classes,
        motion: m.enabled
          ? { enabled: true, threshold: m.threshold, minArea: m.minArea, mask: cam?.motionMasks ?? [] }
          : { enabled: false },
        zones: cam?.zones ?? [],
        objectMasks: cam?.objectMasks ?? [],
      });
      pipelines.set(cameraId, p);
    }
    return p;
  };

  const manager = new CameraManager(
    registry,
    log,
    {
      stallTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      backoff: { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 },
      source: { tensor: spec.tensor, motionWidth: 160, snapshotFrames: 8 },
      onFrame: async (frame, source, cameraId) => {
        sources.set(cameraId, source);
        const r = await pipelineFor(cameraId).process(frame, source);
        const st = stats.get(cameraId) ?? { frames: 0, detected: 0, skipped: 0, inference: [] };
        st.frames++;
        st.skipped = frame.counters.dropped;
        if (r.detected) {
          st.detected++;
          st.inference.push(r.timings.inferenceMs);
          if (st.inference.length > 50) st.inference.shift();
        }
        stats.set(cameraId, st);
        send({
          type: 'frame',
          motion: r.motion,
          detected: r.detected,
          inferenceMs: r.timings.inferenceMs,
          frame: {
            cameraId,
            frameIndex: frame.index,
            pts: frame.pts,
            wallClockMs: frame.wallClockMs,
            width: frame.width,
            height: frame.height,
            detections: r.detections.map((d) => ({
              trackId: d.trackId,
              label: d.label,
              score: d.score,
              box: d.box,
              confirmed: d.confirmed,
              stationary: d.stationary,
              zones: d.zones,
            })),
          },
        });
      },
    },
    recording,
  );
  manager.start();

  let last = new Map<string, { frames: number; detected: number; skipped: number; t: number }>();
  setInterval(() => {
    const cameras: Record<string, CameraRuntime> = {};
    const now = performance.now();
    const next = new Map<string, { frames: number; detected: number; skipped: number; t: number }>();
    for (const cam of registry.list()) {
      const h = manager.supervisor(cam.id)?.health() ?? cam.health;
      const st = stats.get(cam.id) ?? { frames: 0, detected: 0, skipped: 0, inference: [] };
      const prev = last.get(cam.id) ?? { frames: st.frames, detected: st.detected, skipped: st.skipped, t: now - 1000 };
      const dt = Math.max(0.001, (now - prev.t) / 1000);
      const rs = recording.cameraStatus(cam.id);
      const inf = [...st.inference].sort((a, b) => a - b);
      cameras[cam.id] = {
        ...h,
        detectFps: Math.round(((st.detected - prev.detected) / dt) * 10) / 10,
        skippedFps: Math.round((Math.max(0, st.skipped - prev.skipped) / dt) * 10) / 10,
        inferenceMs: inf.length ? Math.round((inf[Math.floor(inf.length / 2)] ?? 0) * 10) / 10 : null,
        recording: rs.recording && !rs.paused,
        recordingPaused: rs.paused,
        recordingReason: rs.reason,
      };
      next.set(cam.id, { frames: st.frames, detected: st.detected, skipped: st.skipped, t: now });
    }
    last = next;
    send({ type: 'heartbeat', cameras, rss: process.memoryUsage().rss });
  }, 1000).unref();

  const methods: Record<string, (p: Record<string, unknown>) => Promise<unknown>> = {
    async snapshot(p) {
      const src = sources.get(String(p.cameraId));
      if (!src) throw Object.assign(new Error('camera has no live source'), { code: 'NOT_FOUND' });
      return src.snapshot({
        ...(typeof p.frameIndex === 'number' ? { index: p.frameIndex } : {}),
        width: typeof p.width === 'number' ? p.width : 0,
        quality: typeof p.quality === 'number' ? p.quality : 85,
      });
    },
    async clip(p) {
      return recording.clip(String(p.cameraId), Number(p.startMs), Number(p.endMs), String(p.output));
    },
    async reloadCamera(p) {
      pipelines.delete(String(p.cameraId));
      sources.delete(String(p.cameraId));
      await manager.reload(String(p.cameraId));
      return true;
    },
    async testCamera(p) {
      const src = await openSource(String(p.url), { fps: 1, connectTimeoutMs: 8000, readTimeoutMs: 8000 });
      try {
        const frame = await src.read();
        const jpeg = frame ? await src.snapshot({ index: frame.index, width: 640 }) : null;
        return { info: src.info, preview: jpeg };
      } finally {
        await src.close();
      }
    },
    async configure(p) {
      // Thresholds, classes, zones and masks: rebuilt pipelines pick them up at the next frame.
      config = validateConfig(p.config);
      pipelines.clear();
      return true;
    },
    async claim(p) {
      return recording.claimForEvent(String(p.cameraId), Number(p.startMs), Number(p.endMs));
    },
  };
  process.on('message', (msg: ToMedia) => {
    if (msg.type !== 'request') return;
    const fn = methods[msg.method];
    if (!fn)
      return send({
        type: 'response',
        id: msg.id,
        ok: false,
        error: { code: 'INVALID_ARGUMENT', message: `unknown method ${msg.method}` },
      });
    fn(msg.params).then(
      (result) => send({ type: 'response', id: msg.id, ok: true, result }),
      (err: { code?: string; message?: string }) =>
        send({
          type: 'response',
          id: msg.id,
          ok: false,
          error: { code: err?.code ?? 'MEDIA_ERROR', message: err?.message ?? String(err) },
        }),
    );
  });
  process.on('SIGTERM', async () => {
    await manager.stop();
    recording.stop();
    await backend.close();
    db.close();
    process.exit(0);
  });
  send({ type: 'ready', backend: backend.name, fallback: fallbackReason });
}
