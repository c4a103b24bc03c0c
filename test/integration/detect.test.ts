// Detection accuracy on real video with the shipped models, both inference backends, tracking and cropping.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { type Frame, openSource } from '../../bindings/index.ts';
import { createBackend } from '../../src/edge/detect/backend.ts';
import { createOnnxRuntimeBackend } from '../../src/edge/detect/backends/onnxruntime.ts';
import { createOpenVinoBackend } from '../../src/edge/detect/backends/openvino.ts';
import { decode, resolveModel } from '../../src/edge/detect/models.ts';
import { iou } from '../../src/edge/detect/nms.ts';
import { DetectionPipeline, defaultPipelineOptions, type FrameResult } from '../../src/edge/detect/pipeline.ts';
import type { Detection, InferenceBackend } from '../../src/edge/detect/types.ts';
import { EventGenerator } from '../../src/edge/events/generator.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { media } from '../helpers.ts';

const VEHICLES = ['car', 'truck', 'bus'];
const PARKED_VAN: [number, number, number, number] = [652, 42, 725, 99]; // where the van stands in vtest

async function runPipeline(
  file: string,
  backend: InferenceBackend,
  model: 'yolox' | 'nanodet',
  opts: { motion?: boolean; untilPts?: number } = {},
): Promise<FrameResult[]> {
  const spec = resolveModel(model);
  const pipeline = new DetectionPipeline(spec, backend, {
    ...defaultPipelineOptions,
    motion: opts.motion === false ? { enabled: false } : { enabled: true },
  });
  const src = await openSource(file, { fps: 5, tensor: spec.tensor, motionWidth: 160 });
  const results: FrameResult[] = [];
  try {
    for await (const f of src) {
      results.push(await pipeline.process(f, src));
      if (opts.untilPts !== undefined && f.pts >= opts.untilPts) break;
    }
  } finally {
    await src.close();
  }
  return results;
}

/** The fastest available backend for long runs: OpenVINO when set up, else ONNX Runtime. */
async function fastBackend(model: 'yolox' | 'nanodet'): Promise<InferenceBackend> {
  return (await createBackend({ backend: 'openvino', modelPath: resolveModel(model).path, threads: 2 })).backend;
}

describe('detection accuracy (YOLOX-nano, NanoDet)', function () {
  this.timeout(240_000);
  let wholeVtest: FrameResult[] | undefined;
  let ort: InferenceBackend;
  before(async () => {
    ort = await createOnnxRuntimeBackend(resolveModel('yolox').path, 2);
  });
  after(async () => ort?.close());

  it('vtest at 5 s: at least 5 persons and the parked van (car or truck)', async () => {
    const results = await runPipeline(media.vtest, ort, 'yolox', { untilPts: 5 });
    const at5 = results.find((r) => Math.abs(r.pts - 5) < 0.01);
    assert.ok(at5?.detected);
    const persons = at5.detections.filter((d) => d.label === 'person');
    assert.ok(persons.length >= 5, `${persons.length} persons: ${JSON.stringify(at5.detections)}`);
    assert.ok(
      at5.detections.some((d) => VEHICLES.includes(d.label) && iou(d.box, PARKED_VAN) > 0.5),
      'the van',
    );
  });

  it('city-no-people: no person or vehicle above 0.5 on any frame (both models)', async () => {
    for (const model of ['yolox', 'nanodet'] as const) {
      const backend = await fastBackend(model);
      const results = await runPipeline(media.city, backend, model, { motion: false });
      await backend.close();
      assert.equal(results.length, 38);
      assert.ok(results.every((r) => r.detected));
      const bad = results.flatMap((r) =>
        r.detections.filter((d) => (d.label === 'person' || VEHICLES.includes(d.label)) && d.score > 0.5),
      );
      assert.deepEqual(bad, [], `${model} false positives`);
    }
  });

  it('whole vtest: boxes inside the image, no duplicates, a stable id for a walking person, one track for the van', async () => {
    const backend = await fastBackend('yolox');
    const results = await runPipeline(media.vtest, backend, 'yolox');
    await backend.close();
    wholeVtest = results;
    assert.equal(results.length, 398);
    const tracks = new Map<number, { label: string; first: number; last: number; x0: number; x1: number; n: number }>();
    for (const r of results) {
      for (const d of r.detections) {
        const [x1, y1, x2, y2] = d.box;
        assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 768 && y2 <= 576 && x2 > x1 && y2 > y1, `box ${d.box}`);
        const cx = (x1 + x2) / 2;
        const t = tracks.get(d.trackId) ?? { label: d.label, first: r.pts, last: r.pts, x0: cx, x1: cx, n: 0 };
        t.last = r.pts;
        t.x1 = cx;
        t.n++;
        tracks.set(d.trackId, t);
      }
      for (const a of r.detections)
        for (const b of r.detections)
          if (a !== b && a.label === b.label) assert.ok(iou(a.box, b.box) <= 0.45, `duplicate ${a.label} at ${r.pts}`);
    }
    // Somebody walks across the scene for many seconds under one id.
    const walkers = [...tracks.values()].filter(
      (t) => t.label === 'person' && t.last - t.first >= 8 && Math.abs(t.x1 - t.x0) >= 150,
    );
    assert.ok(walkers.length >= 1, 'a person tracked across the scene with one id');
    // The parked van is one object for the whole video, not a new one every few seconds.
    const vanTracks = new Set<number>();
    for (const r of results)
      for (const d of r.detections)
        if (VEHICLES.includes(d.label) && iou(d.box, PARKED_VAN) > 0.5) vanTracks.add(d.trackId);
    assert.equal(vanTracks.size, 1, `van track ids: ${[...vanTracks]}`);
    const van = tracks.get([...vanTracks][0] ?? -1);
    assert.ok(van && van.last - van.first > 70, 'tracked from start to end');
  });

  it('whole vtest as events: the van and the car are vehicle events, never person ones, and parked ones end', async () => {
    const results = wholeVtest ?? (await runPipeline(media.vtest, await fastBackend('yolox'), 'yolox'));
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    const endAfterSeconds = 5;
    const gen = new EventGenerator(
      store,
      { classes: new Set(Object.keys(defaultPipelineOptions.classes)), endAfterSeconds, requiredZones: () => [] },
      { snapshot: async () => null, ended: () => undefined },
      createLogger({ level: 'silent' }),
    );
    // When each track was last seen moving: an event may last that long plus endAfterSeconds, no longer.
    const moving = new Map<number, { first: number; lastMoving: number }>();
    for (const r of results) {
      for (const d of r.detections) {
        const m = moving.get(d.trackId) ?? { first: r.pts, lastMoving: r.pts };
        if (!d.stationary) m.lastMoving = r.pts;
        moving.set(d.trackId, m);
      }
      gen.handle({
        cameraId: 'vtest',
        frameIndex: r.frame,
        pts: r.pts,
        wallClockMs: r.pts * 1000,
        width: 768,
        height: 576,
        detections: r.detections,
      });
    }
    gen.finishAll();
    const events = store.list({ limit: 500 }).events;
    const vehicleEvents = events.filter((e) => e.labels.some((l) => VEHICLES.includes(l)));
    assert.ok(vehicleEvents.length >= 2, `the van and the car: ${JSON.stringify(events.map((e) => e.labels))}`);
    for (const e of events) {
      const groups = new Set(e.labels.map((l) => (VEHICLES.includes(l) ? 'vehicle' : l)));
      assert.equal(groups.size, 1, `one class group per event: ${e.labels}`);
      const m = moving.get(e.trackId);
      assert.ok(m);
      const seconds = ((e.endMs ?? 0) - e.startMs) / 1000;
      assert.ok(
        seconds <= m.lastMoving - m.first + endAfterSeconds + 0.5,
        `event of ${e.labels} lasted ${seconds} s; its object moved for ${m.lastMoving - m.first} s`,
      );
    }
    // The van stands for the whole 80 s video: its event ends within seconds of it being found stationary.
    const van = vehicleEvents.find((e) => e.boxPath.some((p) => iou(p.slice(1) as Detection['box'], PARKED_VAN) > 0.5));
    assert.ok(van?.endMs && van.endMs - van.startMs < 20_000, `van event ${JSON.stringify(van)}`);
    db.close();
  });

  it('OpenVINO and ONNX Runtime agree on the same frames (IoU >= 0.9, scores within 0.02)', async function () {
    const spec = resolveModel('yolox');
    let ov: InferenceBackend;
    try {
      ov = await createOpenVinoBackend(spec.path, 'CPU', 2);
    } catch (err) {
      console.log(`      skipped: ${(err as Error).message}`);
      this.skip();
    }
    const src = await openSource(media.vtest, { fps: 1, tensor: spec.tensor });
    let compared = 0;
    try {
      for await (const f of src) {
        if (f.index % 8 !== 0) continue;
        const g = {
          offsetX: 0,
          offsetY: 0,
          scaleX: f.tensor?.scaleX ?? 1,
          scaleY: f.tensor?.scaleY ?? 1,
          frameWidth: 768,
          frameHeight: 576,
        };
        const input = f.tensor?.data as Float32Array;
        const [a, b] = [await ort.run(input, spec.size), await ov.run(input, spec.size)];
        const opts = { minScore: 0.3, iou: 0.45 };
        const da = decode(a, spec, g, opts).filter((d) => d.score >= 0.35);
        const db = decode(b, spec, g, opts);
        for (const d of da) {
          const match = db
            .filter((x: Detection) => x.classId === d.classId)
            .sort((x, y) => iou(y.box, d.box) - iou(x.box, d.box))[0];
          assert.ok(match, `${d.label} ${d.score} has no OpenVINO counterpart`);
          assert.ok(iou(match.box, d.box) >= 0.9, `IoU ${iou(match.box, d.box)}`);
          assert.ok(Math.abs(match.score - d.score) <= 0.02, `scores ${d.score} vs ${match.score}`);
          compared++;
        }
      }
    } finally {
      await src.close();
      await ov.close();
    }
    assert.ok(compared >= 40, `${compared} detections compared`);
  });

  it('on 1080p, a crop around motion finds the same people as the full frame, mapped to frame coordinates', async () => {
    const spec = resolveModel('yolox');
    const src = await openSource(media.vtest1080, {
      fps: 5,
      tensor: spec.tensor,
      motionWidth: 160,
      snapshotFrames: 32,
    });
    let frame: Frame | null = null;
    for await (const f of src) if (f.pts >= 5 && (frame = f)) break;
    assert.ok(frame);
    const opts = { minScore: 0.5, iou: 0.45 };
    const full = decode(
      await ort.run(frame.tensor?.data as Float32Array, spec.size),
      spec,
      {
        offsetX: 0,
        offsetY: 0,
        scaleX: frame.tensor?.scaleX ?? 1,
        scaleY: frame.tensor?.scaleY ?? 1,
        frameWidth: 1920,
        frameHeight: 1080,
      },
      opts,
    ).filter((d) => d.label === 'person');
    const target = full[0];
    assert.ok(target, 'a person in the full frame');
    const cx = (target.box[0] + target.box[2]) / 2;
    const cy = (target.box[1] + target.box[3]) / 2;
    const crop = await src.cropTensor(frame.index, {
      x: Math.round(Math.max(0, cx - 300)),
      y: Math.round(Math.max(0, cy - 300)),
      width: 600,
      height: 600,
    });
    await src.close();
    const inCrop = decode(
      await ort.run(crop.data as Float32Array, spec.size),
      spec,
      {
        offsetX: crop.offsetX,
        offsetY: crop.offsetY,
        scaleX: crop.scaleX,
        scaleY: crop.scaleY,
        frameWidth: 1920,
        frameHeight: 1080,
      },
      opts,
    ).filter((d) => d.label === 'person');
    const best = Math.max(...inCrop.map((d) => iou(d.box, target.box)));
    // The crop's box is tighter (more pixels), so the two differ somewhat; a wrong mapping would not overlap at all.
    assert.ok(best >= 0.5, `best IoU between crop and full-frame detection ${best}`);
    // The crop sees people at 2.5x the resolution, so it finds at least as many within its area.
    assert.ok(
      inCrop.length >=
        full.filter(
          (d) =>
            d.box[0] >= crop.offsetX &&
            d.box[2] <= crop.offsetX + 600 &&
            d.box[1] >= crop.offsetY &&
            d.box[3] <= crop.offsetY + 600,
        ).length,
    );
  });

  it('NanoDet finds the people too', async () => {
    const backend = await createOnnxRuntimeBackend(resolveModel('nanodet').path, 2);
    const results = await runPipeline(media.vtest, backend, 'nanodet', { untilPts: 5 });
    await backend.close();
    const at5 = results.find((r) => Math.abs(r.pts - 5) < 0.01);
    assert.ok((at5?.detections.filter((d) => d.label === 'person').length ?? 0) >= 4, JSON.stringify(at5?.detections));
  });
});

describe('guardian detect', function () {
  this.timeout(120_000);
  const run = promisify(execFile);
  const guardian = join(projectRoot, 'bin', 'guardian.mjs');

  it('--jsonl prints one JSON line per sampled frame and a summary', async () => {
    const { stdout } = await run(
      process.execPath,
      [guardian, 'detect', media.city, '--model', 'nanodet', '--fps', '5', '--jsonl'],
      {
        maxBuffer: 32 << 20,
      },
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const frames = lines.filter((l) => 'frame' in l);
    assert.equal(frames.length, 38);
    assert.deepEqual(Object.keys(frames[0]), ['frame', 'pts', 'motion', 'detections']);
    const summary = lines.at(-1).summary;
    assert.equal(summary.frames, 38);
    assert.equal(summary.backend, 'onnxruntime');
    assert.ok(summary.timings.inferenceMs.p50 > 0);
  });

  it('falls back to ONNX Runtime, saying why, when OpenVINO cannot load', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      [guardian, 'detect', media.city, '--backend', 'openvino', '--fps', '1', '--jsonl'],
      { env: { ...process.env, GUARDIAN_OPENVINO_LIBS: '/nonexistent/openvino' }, maxBuffer: 32 << 20 },
    );
    assert.match(stderr, /OpenVINO could not load .*using ONNX Runtime/);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}').summary;
    assert.equal(summary.backend, 'onnxruntime');
    assert.match(summary.fallback, /not found/);
  });
});
