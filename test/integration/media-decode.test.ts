// Decoding real files from ../shared: frame counts against ffprobe, sampling by time, snapshots, concurrency.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { openSource } from '../../bindings/index.ts';
import { sharedPath } from '../../src/shared/paths.ts';
import { ffprobeFrameCount, ffprobeJson, media, tempDir } from '../helpers.ts';

async function decodeAll(file: string, fps: number) {
  const src = await openSource(file, { fps, motionWidth: 160, tensor: { size: 64 } });
  const pts: number[] = [];
  for await (const f of src) pts.push(f.pts);
  const stats = src.stats();
  await src.close();
  return { info: src.info, stats, pts };
}

describe('media core: decoding real files', function () {
  this.timeout(180_000);

  const videos = [
    ...Object.values(media),
    ...readdirSync(sharedPath('datasets', 'ped2', 'test'))
      .filter((f) => f.endsWith('.mp4'))
      .map((f) => sharedPath('datasets', 'ped2', 'test', f)),
  ];

  it('decodes exactly as many frames as ffprobe -count_frames, and samples 5 fps by duration', async () => {
    // Two at a time: each decode uses its own native thread.
    const queue = [...videos];
    const failures: string[] = [];
    const worker = async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const [expected, got] = await Promise.all([ffprobeFrameCount(file), decodeAll(file, 5)]);
        if (got.stats.decoded !== expected) failures.push(`${file}: decoded ${got.stats.decoded}, ffprobe ${expected}`);
        const duration = got.info.durationSeconds ?? 0;
        const wantSampled = duration * 5;
        if (Math.abs(got.stats.sampled - wantSampled) > 1.5)
          failures.push(`${file}: sampled ${got.stats.sampled} at 5 fps for ${duration} s`);
        if (got.stats.dropped !== 0) failures.push(`${file}: ${got.stats.dropped} frames dropped while reading a file`);
      }
    };
    await Promise.all([worker(), worker()]);
    assert.deepEqual(failures, []);
  });

  it('samples by presentation time: 5 fps from 10 and 15 fps sources are 0.2 s apart', async () => {
    for (const file of [media.vtest, media.vtest1080]) {
      const { pts } = await decodeAll(file, 5);
      for (let i = 1; i < pts.length; i++) {
        const gap = (pts[i] ?? 0) - (pts[i - 1] ?? 0);
        assert.ok(Math.abs(gap - 0.2) < 0.01, `${file}: gap ${gap} at sample ${i}`);
      }
    }
  });

  it('reports stream information like ffprobe', async () => {
    const src = await openSource(media.vtest1080, { fps: 1 });
    const ref = await ffprobeJson(media.vtest1080);
    assert.equal(src.info.codec, ref.streams[0]?.codec_name);
    assert.equal(src.info.width, 1920);
    assert.equal(src.info.height, 1080);
    assert.equal(src.info.fps, 15);
    assert.equal(src.info.profile, 'High');
    assert.ok(Math.abs((src.info.durationSeconds ?? 0) - Number(ref.format.duration)) < 0.1);
    assert.equal(src.info.live, false);
    await src.close();
  });

  it('gives frame metadata: index, pts, wall clock, keyframes, counters and buffers of the right size', async () => {
    const before = Date.now();
    const src = await openSource(media.vtest, { fps: 5, motionWidth: 160, tensor: { size: 416 } });
    const frames = [];
    for (let i = 0; i < 12; i++) {
      const f = await src.read();
      assert.ok(f);
      frames.push(f);
    }
    await src.close();
    frames.forEach((f, i) => {
      assert.equal(f.index, i);
      assert.ok(f.wallClockMs >= before && f.wallClockMs <= Date.now() + 1);
      assert.equal(f.tensor?.data.length, 3 * 416 * 416);
      assert.ok(f.tensor?.data instanceof Float32Array);
      assert.deepEqual([f.motion?.width, f.motion?.height, f.motion?.data.length], [160, 120, 160 * 120]);
      assert.ok(f.counters.sampled >= i + 1, 'counters are taken when the frame is delivered');
    });
    // vtest has a GOP of 20 frames (2 s): sample 0 and sample 10 (pts 2.0) are keyframes, sample 1 is not.
    assert.equal(frames[0]?.keyframe, true);
    assert.equal(frames[1]?.keyframe, false);
    assert.equal(frames[10]?.keyframe, true);
    assert.ok((frames[11]?.counters.decoded ?? 0) >= 23);
  });

  it('encodes JPEG snapshots of sampled frames at full and reduced size', async () => {
    const dir = tempDir();
    try {
      const src = await openSource(media.vtest1080, { fps: 5 });
      const first = await src.read();
      const second = await src.read();
      assert.ok(first && second);
      const full = await src.snapshot({ index: first.index });
      const small = await src.snapshot({ width: 320, quality: 70 });
      await assert.rejects(src.snapshot({ index: 999_999 }), { code: 'NO_FRAME' });
      await src.close();
      for (const [name, jpeg, w, h] of [
        ['full.jpg', full, 1920, 1080],
        ['small.jpg', small, 320, 180],
      ] as const) {
        assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
        const path = join(dir.path, name);
        writeFileSync(path, jpeg);
        const probe = await ffprobeJson(path);
        assert.equal(probe.streams[0]?.codec_name, 'mjpeg');
        assert.deepEqual([probe.streams[0]?.width, probe.streams[0]?.height], [w, h]);
      }
    } finally {
      dir.remove();
    }
  });

  it('decodes four sources concurrently with correct counts', async () => {
    const files = [media.vtest, media.vtest1080, media.city, media.vtest];
    const results = await Promise.all(files.map((f) => decodeAll(f, 5)));
    const expected = await Promise.all(files.map((f) => ffprobeFrameCount(f)));
    assert.deepEqual(
      results.map((r) => r.stats.decoded),
      expected,
    );
  });
});
