// The media process: everything native (demux, decode, recording, motion, inference) for all cameras, so a crash
// or hang in libav or an inference runtime cannot take down the API, the database or the link.

import { join } from 'node:path';

import type { MediaSource } from '../../../bindings/index.ts';
import { exportClip, openSource } from '../../../bindings/index.ts';
import { type Config, cameraSettingsSchema, validateConfig } from '../../shared/config.ts';
import { GuardianError } from '../../shared/errors.ts';
import { restrictUmask } from '../../shared/fs-perms.ts';
import { createLogger } from '../../shared/log.ts';
import { fileSha256 } from '../anomaly/clip-analyser.ts';
import { loadAnomalyModel } from '../anomaly/kinds.ts';
import { type AnomalyChange, LiveAnomaly } from '../anomaly/live.ts';
import { observationsOf } from '../anomaly/objects.ts';
import { type CameraDirectory, CameraManager } from '../cameras/manager.ts';
import { createBackend } from '../detect/backend.ts';
import { resolveModel } from '../detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../detect/pipeline.ts';
import { defaultSecondLook, secondLook } from '../detect/second-look.ts';
import { type TamperChange, TamperDetector } from '../detect/tamper.ts';
import { RecorderRelay } from '../recording/relay.ts';
import { measureFile } from '../recording/service.ts';
import type {
  CameraEntry,
  CameraHealth,
  CameraRuntime,
  ConfigureReport,
  FromMedia,
  MediaMethod,
  MediaMethods,
  ToMedia,
} from './protocol.ts';

// What FFmpeg writes here (recording segments, clips) is private: 0600 files in 0700 directories.
restrictUmask();

const send = (m: FromMedia) => process.send?.(m);
/** How long one live-view frame keeps an idle camera decoding every frame. */
const LIVE_WAKE_MS = 10_000;
const log = createLogger().child({ component: 'media' });

process.on('message', (msg: ToMedia) => {
  if (msg.type === 'init') void init(msg).catch((err) => send({ type: 'fatal', error: String(err?.message ?? err) }));
});
process.on('disconnect', () => process.exit(0)); // the main process is gone

async function init(msg: Extract<ToMedia, { type: 'init' }>) {
  let config = validateConfig(msg.config);
  // The cameras to run, as the main process sent them (it owns the database), and their health for the heartbeat.
  const cameras = new Map<string, CameraEntry>();
  const health = new Map<string, CameraHealth>();
  const directory: CameraDirectory = {
    ids: () => [...cameras.keys()],
    entry: (id) => cameras.get(id),
    setHealth: (id, h) => health.set(id, h),
  };
  const recorder = new RecorderRelay(
    { root: join(config.dataDir, 'recordings'), segmentSeconds: config.recording.segmentSeconds },
    (cameraId, event) => send({ type: 'recording', cameraId, event }),
  );

  // The detector: rebuilt live when model, backend, device or threads change (the old one closes after the swap).
  const loadDetector = async (d: Config['detection']) => {
    const spec = resolveModel(d.model);
    const made = await createBackend({
      backend: d.backend,
      modelPath: spec.path,
      device: d.device,
      threads: d.threads,
      // Measured: batching helps ONNX Runtime near saturation (16 busy cameras: 5 dropped frames instead of 68) and
      // slows OpenVINO's CPU plugin (0.85×); on a GPU device OpenVINO batches too.
      batch: d.backend === 'openvino' && d.device === 'CPU' ? 1 : d.batch,
    });
    if (made.fallbackReason) log.warn({ reason: made.fallbackReason }, 'inference backend fallback');
    if (made.batchNote) log.warn({ reason: made.batchNote }, 'detection.batch not applied');
    return { spec, backend: made.backend, fallback: made.fallbackReason ?? null, sha256: fileSha256(spec.path) };
  };
  let detector = await loadDetector(config.detection);

  const pipelines = new Map<string, DetectionPipeline>();
  const sources = new Map<string, MediaSource>();
  const stats = new Map<string, { frames: number; detected: number; skipped: number; inference: number[] }>();
  // Tamper detection per camera on every sampled frame's grey plane; changes go to the main process as they happen.
  const tampers = new Map<string, TamperDetector>();
  const dropTamper = (cameraId?: string) => {
    for (const [id, td] of tampers) {
      if (cameraId && id !== cameraId) continue;
      for (const c of td.finish(Date.now() / 1000)) sendTamper(id, c, null);
      tampers.delete(id);
    }
  };
  const sendTamper = (cameraId: string, c: TamperChange, frameIndex: number | null) =>
    send({ type: 'tamper', cameraId, kind: c.kind, state: c.state, wallClockMs: Math.round(c.atS * 1000), frameIndex });
  // Anomaly scoring per camera with an active model and anomaly enabled (src/edge/anomaly/live.ts): loaded at the
  // camera's first frame after the model was set, dropped (open events end) when it changes or the camera restarts.
  const anomalyModels = new Map<string, { dir: string; version: number }>();
  const anomalies = new Map<string, LiveAnomaly | 'loading' | 'failed'>();
  const scoreFailures = new Map<string, number>();
  const sendAnomaly = (cameraId: string, version: number, c: AnomalyChange) =>
    send({ type: 'anomaly', cameraId, version, ...c, score: Math.round(c.score * 1000) / 1000 });
  const anomalyEnabled = (cameraId: string) => config.cameras[cameraId]?.anomaly?.enabled ?? true;
  const dropAnomaly = async (cameraId?: string) => {
    for (const [id, la] of [...anomalies]) {
      if (cameraId && id !== cameraId) continue;
      anomalies.delete(id);
      if (la instanceof LiveAnomaly) for (const c of await la.finish()) sendAnomaly(id, la.version, c);
    }
  };
  const anomalyFor = (cameraId: string): LiveAnomaly | undefined => {
    const la = anomalies.get(cameraId);
    if (la instanceof LiveAnomaly) return la;
    const m = anomalyModels.get(cameraId);
    if (la || !m || !anomalyEnabled(cameraId)) return undefined;
    anomalies.set(cameraId, 'loading');
    loadAnomalyModel(m.dir).then(
      (model) => {
        if (anomalies.get(cameraId) !== 'loading' || anomalyModels.get(cameraId) !== m) return void model.close();
        const sensitivity = config.cameras[cameraId]?.anomaly?.sensitivity ?? 'medium';
        anomalies.set(cameraId, new LiveAnomaly(model, m.version, sensitivity));
        log.info({ camera: cameraId, version: m.version, fps: model.file.params.fps }, 'anomaly scoring on');
      },
      (err) => {
        if (anomalies.get(cameraId) === 'loading') anomalies.set(cameraId, 'failed');
        log.warn({ camera: cameraId, err: err?.message ?? String(err) }, 'anomaly model could not load');
        send({ type: 'anomalyModelFailed', cameraId, version: m.version, message: err?.message ?? String(err) });
      },
    );
    return undefined;
  };
  const idleDecodeDefaults = cameraSettingsSchema.parse({}).idleDecode;
  const pipelineFor = (cameraId: string) => {
    let p = pipelines.get(cameraId);
    if (!p) {
      const cam = config.cameras[cameraId];
      const m = config.detection.motion;
      p = new DetectionPipeline(detector.spec, detector.backend, {
        ...defaultPipelineOptions,
        tracker: { ...defaultPipelineOptions.tracker, minHits: config.events.minHits },
        classes: config.detection.classes,
        motion: m.enabled
          ? { enabled: true, threshold: m.threshold, minArea: m.minArea, mask: cam?.motionMasks ?? [] }
          : { enabled: false },
        zones: cam?.zones ?? [],
        objectMasks: cam?.objectMasks ?? [],
        idleDecode: cam?.idleDecode ?? idleDecodeDefaults,
      });
      pipelines.set(cameraId, p);
    }
    return p;
  };

  const manager = new CameraManager(
    directory,
    log,
    {
      stallTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      backoff: { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 },
      source: { tensor: detector.spec.tensor, motionWidth: 160, snapshotFrames: 8 },
      onFrame: async (frame, source, cameraId) => {
        sources.set(cameraId, source);
        if (config.detection.tamper.enabled && frame.motion) {
          let td = tampers.get(cameraId);
          if (!td) tampers.set(cameraId, (td = new TamperDetector()));
          for (const c of td.update(frame.motion, frame.wallClockMs / 1000)) sendTamper(cameraId, c, frame.index);
        }
        // A frame converted for the previous model, while the cameras restart after a model change: skip it.
        if (frame.tensor && frame.tensor.data.length !== 3 * detector.spec.size * detector.spec.size) return;
        const pipeline = pipelineFor(cameraId);
        const r = await pipeline.process(frame, source);
        const la = anomalyFor(cameraId);
        if (la && !la.due(frame)) la.observe(frame);
        else if (la)
          // After detection (its tracks are the object cues), beside the next frames: the frame loop does not wait
          // for the anomaly score. Object cues only when the camera runs the detector they were learned with.
          la.score(
            frame,
            detector.spec.tensor,
            la.model.objectDetector?.sha256 === detector.sha256
              ? observationsOf(pipeline.tracker.tracks(), frame.pts)
              : [],
          ).then(
            (changes) => {
              scoreFailures.delete(cameraId);
              if (anomalies.get(cameraId) === la) for (const c of changes) sendAnomaly(cameraId, la.version, c);
            },
            (err) => {
              const message = err?.message ?? String(err);
              const n = (scoreFailures.get(cameraId) ?? 0) + 1;
              scoreFailures.set(cameraId, n);
              log.warn({ camera: cameraId, err: message }, 'anomaly scoring failed');
              // A model that keeps failing to run is dropped, and the main process rolls it back.
              if (n >= 3 && anomalies.get(cameraId) === la) {
                anomalies.set(cameraId, 'failed');
                scoreFailures.delete(cameraId);
                void la.finish().then(
                  (ends) => {
                    for (const c of ends) sendAnomaly(cameraId, la.version, c);
                  },
                  () => undefined,
                );
                send({
                  type: 'anomalyModelFailed',
                  cameraId,
                  version: la.version,
                  message: `it failed to run: ${message}`,
                });
              }
            },
          );
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
    recorder,
  );

  const anomalyRuntime = (cameraId: string): CameraRuntime['anomaly'] => {
    const la = anomalies.get(cameraId);
    if (!(la instanceof LiveAnomaly)) return null;
    return {
      version: la.version,
      frames: la.frames,
      msPerFrame: la.msPerFrame(),
      recalibrating: la.recalibrating,
      recalibrations: la.recalibrations,
      unusual: la.unusual,
    };
  };
  let last = new Map<string, { frames: number; detected: number; skipped: number; t: number }>();
  setInterval(() => {
    const runtime: Record<string, CameraRuntime> = {};
    const now = performance.now();
    const next = new Map<string, { frames: number; detected: number; skipped: number; t: number }>();
    for (const cam of cameras.values()) {
      const h = manager.supervisor(cam.id)?.health() ?? health.get(cam.id);
      if (!h) continue; // not started yet
      const st = stats.get(cam.id) ?? { frames: 0, detected: 0, skipped: 0, inference: [] };
      const prev = last.get(cam.id) ?? { frames: st.frames, detected: st.detected, skipped: st.skipped, t: now - 1000 };
      const dt = Math.max(0.001, (now - prev.t) / 1000);
      const rs = recorder.cameraStatus(cam.id);
      const inf = [...st.inference].sort((a, b) => a - b);
      runtime[cam.id] = {
        ...h,
        tamper: tampers.get(cam.id)?.current ?? null,
        anomaly: anomalyRuntime(cam.id),
        keyframesOnly: pipelines.get(cam.id)?.idleDecode.idle ?? false,
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
    send({ type: 'heartbeat', cameras: runtime, rss: process.memoryUsage().rss });
  }, 1000).unref();

  /** Applies a new configuration: everything live, except what the camera streams are opened with. */
  const configure = async (next: Config): Promise<ConfigureReport> => {
    const prev = config;
    config = next;
    const live: string[] = [];
    const restartedCameras: string[] = [];
    const changed = <T>(a: T, b: T) => JSON.stringify(a) !== JSON.stringify(b);
    const d = (c: Config) => [
      c.detection.model,
      c.detection.backend,
      c.detection.device,
      c.detection.threads,
      c.detection.batch,
    ];
    if (changed(d(prev), d(next))) {
      const old = detector;
      detector = await loadDetector(next.detection);
      live.push('detection.model', 'detection.backend', 'detection.device', 'detection.threads', 'detection.batch');
      if (old.spec.size !== detector.spec.size || changed(old.spec.tensor, detector.spec.tensor)) {
        // Another input size: the sources must convert frames for it.
        manager.setOptions({ source: { tensor: detector.spec.tensor, motionWidth: 160, snapshotFrames: 8 } });
        restartedCameras.push('detection.model');
      }
      pipelines.clear();
      await old.backend.close();
    }
    // The main process applies the other recording settings (retention, disk, clips) to its index at once.
    if (prev.recording.segmentSeconds !== next.recording.segmentSeconds) {
      recorder.setSegmentSeconds(next.recording.segmentSeconds);
      restartedCameras.push('recording.segmentSeconds');
    }
    if (prev.detection.tamper.enabled !== next.detection.tamper.enabled) {
      if (!next.detection.tamper.enabled) dropTamper(); // open tamper events end now
      live.push('detection.tamper.enabled');
    }
    // Anomaly: switched off cameras end their open events; sensitivity applies from the next scored frame.
    for (const [id, la] of anomalies) {
      if (!anomalyEnabled(id)) await dropAnomaly(id);
      else if (la instanceof LiveAnomaly) la.setSensitivity(next.cameras[id]?.anomaly?.sensitivity ?? 'medium');
      else if (la === 'failed') anomalies.delete(id); // tried again at the next frame
    }
    // Thresholds, classes, zones, masks and minHits: rebuilt pipelines pick them up at the next frame (track ids stay
    // unique, so no new object continues an old event).
    pipelines.clear();
    if (restartedCameras.length) {
      sources.clear();
      await manager.reloadAll();
    }
    return {
      live,
      restartedCameras,
      backend: { name: detector.backend.name, fallback: detector.fallback },
    };
  };

  const methods: { [M in MediaMethod]: (p: MediaMethods[M]['params']) => Promise<MediaMethods[M]['result']> } = {
    async snapshot(p) {
      const src = sources.get(p.cameraId);
      if (!src) throw new GuardianError('NOT_FOUND', 'camera has no live source');
      // A live viewer wants a fluid picture: an idle camera decodes every frame again while someone watches.
      if (p.live) pipelines.get(p.cameraId)?.idleDecode.wake(LIVE_WAKE_MS, src);
      return src.snapshot({
        ...(typeof p.frameIndex === 'number' ? { index: p.frameIndex } : {}),
        width: p.width,
        quality: p.quality,
      });
    },
    async secondLook(p) {
      const src = sources.get(p.cameraId);
      if (!src) throw new GuardianError('NOT_FOUND', 'camera has no live source');
      return secondLook(
        src,
        { index: p.frameIndex, width: p.width, height: p.height },
        { box: p.box, label: p.label },
        { spec: detector.spec, backend: detector.backend, decode: { minScore: 0.1, iou: 0.45 } },
        { ...defaultSecondLook, confirmScore: p.confirmScore },
      );
    },
    async startCameras(p) {
      for (const c of p.cameras) cameras.set(c.id, c);
      manager.start();
      return true;
    },
    async reloadCamera(p) {
      if (p.camera) cameras.set(p.cameraId, p.camera);
      else {
        cameras.delete(p.cameraId);
        health.delete(p.cameraId);
      }
      pipelines.delete(p.cameraId);
      sources.delete(p.cameraId);
      dropTamper(p.cameraId);
      await dropAnomaly(p.cameraId);
      await manager.reload(p.cameraId);
      return true;
    },
    async setAnomalyModel(p) {
      if (p.model) anomalyModels.set(p.cameraId, p.model);
      else anomalyModels.delete(p.cameraId);
      await dropAnomaly(p.cameraId);
      return true;
    },
    async exportClip(p) {
      return exportClip(p);
    },
    async measure(p) {
      return (await measureFile(p.path)) ?? null;
    },
    async testCamera(p) {
      const src = await openSource(p.url, { fps: 1, connectTimeoutMs: 8000, readTimeoutMs: 8000 });
      try {
        const frame = await src.read();
        const jpeg = frame ? await src.snapshot({ index: frame.index, width: 640 }) : null;
        return { info: src.info, preview: jpeg };
      } finally {
        await src.close();
      }
    },
    async configure(p) {
      return configure(validateConfig(p.config));
    },
  };
  process.on('message', (msg: ToMedia) => {
    if (msg.type !== 'request') return;
    const fn = methods[msg.method] as ((p: unknown) => Promise<unknown>) | undefined;
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
    await manager.stop(); // finishes the segments being written
    await dropAnomaly();
    await detector.backend.close();
    process.exit(0);
  });
  send({ type: 'ready', backend: detector.backend.name, fallback: detector.fallback });
}
