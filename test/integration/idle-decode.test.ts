// Idle cameras decode keyframes only (src/edge/detect/idle-decode.ts, MediaSource.setKeyframesOnly): a clip that
// shows the first frame of vtest.mp4 frozen for 16 s, then 8 s of vtest (people walking), keyframes every 2 s,
// played in real time like a camera. Through the real pipeline (YOLOX on ONNX Runtime): after the configured quiet
// time (5 s) only keyframes are decoded;
// the first keyframe after the motion starts is analysed and finds the people (at most one group of pictures
// late); every frame is decoded again from the keyframe after that; and a recording of the same source holds every
// frame. Then the running edge: the camera goes idle in /api/status, and a live viewer wakes it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { openSource, type RecorderEvent } from '../../bindings/index.ts';
import { createBackend } from '../../src/edge/detect/backend.ts';
import { IdleDecode } from '../../src/edge/detect/idle-decode.ts';
import { resolveModel } from '../../src/edge/detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../../src/edge/detect/pipeline.ts';
import type { InferenceBackend } from '../../src/edge/detect/types.ts';
import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { execFileAsync, ffprobeFrameCount, media, tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FREEZE_S = 16;

/** vtest's first `seconds` with its first frame held for `freeze` seconds before them, 10 fps, GOP 2 s. */
async function stillThenMotion(out: string, freeze: number, seconds: number): Promise<void> {
  await execFileAsync('ffmpeg', [
    ...['-v', 'error', '-y', '-t', String(seconds), '-i', media.vtest],
    ...['-vf', `tpad=start_duration=${freeze}:start_mode=clone`, '-an', '-c:v', 'libx264', '-preset', 'ultrafast'],
    ...['-g', '20', '-keyint_min', '20', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-threads', '2', out],
  ]);
}

describe('idle cameras decode keyframes only', function () {
  this.timeout(180_000);
  const dir = tempDir('guardian-idle-decode-');
  const clip = join(dir.path, 'still-then-walk.mp4');
  const still = join(dir.path, 'still.mp4');
  let backend: InferenceBackend;
  before(async () => {
    await Promise.all([stillThenMotion(clip, FREEZE_S, 8), stillThenMotion(still, 120, 0.1)]);
    backend = (await createBackend({ backend: 'onnxruntime', modelPath: resolveModel('yolox').path, threads: 1 }))
      .backend;
  });
  after(async () => {
    await backend?.close();
    dir.remove();
  });

  it('policy: idle after the quiet time, awake on activity, on a live viewer, and on a new source', () => {
    const calls: boolean[] = [];
    const src = { setKeyframesOnly: (on: boolean) => calls.push(on) };
    const idle = new IdleDecode({ enabled: true, afterSeconds: 10 });
    assert.equal(idle.update(false, 0, src, 0), false);
    assert.deepEqual(calls, [false], 'a source is told its mode the first time it is seen');
    assert.equal(idle.update(false, 9.9, src, 0), false);
    assert.equal(idle.update(false, 10, src, 0), true);
    assert.equal(idle.update(false, 12, src, 0), true);
    assert.deepEqual(calls, [false, true], 'told once per change');
    assert.equal(idle.update(true, 14, src, 0), false, 'motion wakes it at once');
    assert.equal(idle.update(false, 23, src, 0), false);
    assert.equal(idle.update(false, 24, src, 0), true);
    idle.wake(5000, undefined, 1000);
    assert.equal(idle.idle, false, 'a live viewer wakes the source last told');
    assert.equal(idle.update(false, 40, src, 5999), false, 'and it stays awake while the viewer watches');
    assert.equal(idle.update(false, 41, src, 6000), true);
    assert.equal(idle.update(false, 2, src, 6000), false, 'a timestamp that went back restarts the count');
    const other = { setKeyframesOnly: (on: boolean) => calls.push(on) };
    calls.length = 0;
    idle.update(false, 2.2, other, 6000);
    assert.deepEqual(calls, [false], 'a reconnected camera (a new source) is told too');
    const off = new IdleDecode({ enabled: false, afterSeconds: 5 });
    assert.equal(off.update(false, 100, src, 0), false);
  });

  it('decodes keyframes only while nothing moves, detects at the first keyframe after motion, records every frame', async () => {
    const spec = resolveModel('yolox');
    const recordings = join(dir.path, 'rec');
    const segments: RecorderEvent[] = [];
    const src = await openSource(clip, {
      fps: 5,
      tensor: spec.tensor,
      motionWidth: 160,
      realtime: true,
      record: { dir: recordings, camera: 'cam', segmentSeconds: 10 },
      onRecord: (e: RecorderEvent) => {
        if (e.type === 'segment') segments.push(e);
      },
    });
    const pipeline = new DetectionPipeline(spec, backend, {
      ...defaultPipelineOptions,
      idleDecode: { enabled: true, afterSeconds: 5 },
    });
    const frames: { pts: number; key: boolean; motion: boolean; persons: number; idle: boolean }[] = [];
    for await (const f of src) {
      const r = await pipeline.process(f, src);
      frames.push({
        pts: Math.round(f.pts * 10) / 10,
        key: f.keyframe,
        motion: r.motion,
        persons: r.detections.filter((d) => d.label === 'person').length,
        idle: r.keyframesOnly,
      });
    }
    const stats = src.stats();
    await src.close();
    const trace = frames.map((f) => `${f.pts}${f.key ? 'K' : ''}${f.motion ? 'M' : ''}${f.idle ? 'i' : ''}`).join(' ');

    // Idle from 5 s of stillness (plus the motion detector's calibration); from the next keyframe on, one frame
    // per group of pictures.
    const firstIdle = frames.findIndex((f) => f.idle);
    assert.ok(firstIdle >= 0 && frames[firstIdle]!.pts <= 8, trace);
    const quiet = frames.filter((f) => f.pts > frames[firstIdle]!.pts + 2.1 && f.pts < FREEZE_S);
    assert.ok(quiet.length >= 3, trace);
    assert.ok(
      quiet.every((f) => f.key && !f.motion && f.persons === 0),
      `only keyframes, nothing detected: ${trace}`,
    );
    assert.ok(stats.skippedPackets >= 60, `packets not decoded: ${stats.skippedPackets}`);
    assert.equal(stats.decoded + stats.skippedPackets, 240, 'every packet decoded or skipped');

    // The motion is seen at the first keyframe after it began (GOP 2 s), and the model finds the people there.
    const firstMotion = frames.find((f) => f.pts >= FREEZE_S && f.motion);
    assert.ok(firstMotion && firstMotion.key && firstMotion.pts - FREEZE_S <= 2, trace);
    assert.ok(firstMotion.persons >= 3, `people at the first keyframe with motion: ${firstMotion.persons}`);
    // Then every sampled frame (5 fps) from the next keyframe on.
    const tail = frames.filter((f) => f.pts > firstMotion.pts + 2);
    assert.ok(tail.length >= 18 && tail.every((f) => !f.idle && f.persons > 0), trace);
    const gaps = tail.slice(1).map((f, i) => f.pts - tail[i]!.pts);
    assert.ok(Math.max(...gaps) < 0.25, `every sampled frame: ${trace}`);

    // Recording is untouched: the segments hold all 240 frames, as ffprobe counts them.
    const files = readdirSync(recordings, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.mp4'));
    assert.ok(segments.length >= 2 && files.length === segments.length, `${files} / ${segments.length} segments`);
    let recorded = 0;
    for (const e of segments) recorded += await ffprobeFrameCount(e.path);
    assert.equal(recorded, 240);
  });

  describe('on the running edge', () => {
    let edge: Edge;
    let auth: Record<string, string>;
    const status = async () => {
      const res = await fetch(`${edge.url}/api/status`, { headers: auth });
      const body = (await res.json()) as { cameras: { id: string; keyframesOnly?: boolean; status: string }[] };
      return body.cameras.find((c) => c.id === 'still');
    };
    const until = async (what: string, ok: () => Promise<boolean>, ms: number) => {
      const t0 = Date.now();
      while (!(await ok())) {
        assert.ok(Date.now() - t0 < ms, `${what}: ${JSON.stringify(await status())}`);
        await sleep(250);
      }
    };
    before(async () => {
      edge = await startEdge(
        validateConfig({
          dataDir: join(dir.path, 'data'),
          http: { host: '127.0.0.1', port: 0 },
          cameraSources: { mediaDirs: [dir.path] },
          cameras: { still: { idleDecode: { afterSeconds: 5 } } },
          recording: { minFreeBytes: 0, minFreeMinutes: 0 },
        }),
        { log: createLogger({ level: 'silent' }) },
      );
      auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('test').token}` };
      const res = await fetch(`${edge.url}/api/cameras`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'still', name: 'Still', kind: 'file', recordUrl: still, detectFps: 5 }),
      });
      assert.equal(res.status, 201, await res.text());
    });
    after(async () => {
      await edge?.stop();
    });

    it('goes idle in the status after the quiet time, and a live viewer wakes it', async () => {
      await until('idle', async () => (await status())?.keyframesOnly === true, 40_000);
      const ac = new AbortController();
      const viewer = await fetch(`${edge.url}/api/cameras/still/live.mjpeg?fps=4`, {
        headers: auth,
        signal: ac.signal,
      });
      assert.equal(viewer.status, 200);
      const reader = viewer.body!.getReader();
      const reading = (async () => {
        try {
          for (;;) if ((await reader.read()).done) break;
        } catch {
          // aborted
        }
      })();
      try {
        await until('awake while watched', async () => (await status())?.keyframesOnly === false, 8000);
      } finally {
        ac.abort();
        await reading;
      }
    });
  });
});
