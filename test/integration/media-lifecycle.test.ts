// Closing at any moment, backpressure for live sources, real-time pacing and looping (the demo camera).
import assert from 'node:assert/strict';

import { openSource } from '../../bindings/index.ts';
import { media } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('media core: lifecycle', function () {
  this.timeout(60_000);

  it('close during decode: pending and later reads resolve null, close is idempotent', async () => {
    const src = await openSource(media.vtest1080, { fps: 0, tensor: { size: 416 }, motionWidth: 160 });
    assert.ok(await src.read());
    const pending = src.read();
    await src.close();
    await src.close();
    const after = await pending;
    assert.ok(after === null || typeof after.index === 'number');
    assert.equal(await src.read(), null);
    assert.equal(src.stats().state, 'ended');
  });

  it('close right after open and while many sources run does not crash', async () => {
    for (let round = 0; round < 5; round++) {
      const sources = await Promise.all(
        [media.vtest, media.vtest1080, media.city].map((f) => openSource(f, { fps: 5, tensor: { size: 320 } })),
      );
      await Promise.all(
        sources.map(async (s, i) => {
          for (let k = 0; k < round + i; k++) await s.read();
          await s.close();
        }),
      );
    }
  });

  it('a source nobody closes is collected without crashing', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await openSource(media.city, { fps: 5 });
      await s.read();
      // dropped without close: it decodes to the end, then becomes collectable
    }
    await sleep(1500);
    global.gc?.();
  });

  it('drop backpressure keeps only the newest sampled frame and never stalls demux', async () => {
    const src = await openSource(media.vtest, { fps: 5, backpressure: 'drop', tensor: { size: 320 } });
    // JS is "busy": nothing is read while the decoder runs on.
    const deadline = Date.now() + 20_000;
    while (src.stats().sampled < 40 && Date.now() < deadline) await sleep(50);
    const stats = src.stats();
    assert.ok(stats.sampled >= 40, `demux kept going without reads: ${stats.sampled} sampled`);
    // At most three frames are in flight (being converted, waiting for conversion, waiting for JS).
    assert.ok(stats.dropped >= stats.sampled - 3, `${stats.dropped} dropped of ${stats.sampled}`);
    const first = await src.read();
    assert.ok(first);
    const atDelivery = first.counters.sampled;
    assert.ok(first.index >= atDelivery - 3, `read sample ${first.index}, the newest of ${atDelivery}`);
    assert.ok(first.counters.dropped >= first.index - 2, 'the older sampled frames were dropped');
    await src.close();
  });

  it('wait backpressure (files) loses nothing even when JS is slow', async () => {
    const src = await openSource(media.city, { fps: 5 });
    let n = 0;
    for await (const f of src) {
      assert.equal(f.index, n++);
      if (n % 10 === 0) await sleep(50);
    }
    assert.equal(src.stats().dropped, 0);
    assert.equal(n, src.stats().sampled);
  });

  it('real-time pacing plays a file at its own speed', async () => {
    const src = await openSource(media.vtest, { fps: 5, realtime: true });
    const t0 = performance.now();
    const first = await src.read();
    let last = first;
    while (performance.now() - t0 < 1500) last = (await src.read()) ?? last;
    await src.close();
    const mediaElapsed = (last?.pts ?? 0) - (first?.pts ?? 0);
    const wall = (performance.now() - t0) / 1000;
    assert.ok(Math.abs(mediaElapsed - wall) < 0.4, `media ${mediaElapsed.toFixed(2)} s vs wall ${wall.toFixed(2)} s`);
  });

  it('looping continues timestamps across the end of the file', async () => {
    const src = await openSource(media.city, { fps: 5, loop: true });
    const duration = src.info.durationSeconds ?? 0;
    let prev = -1;
    let last = 0;
    for (;;) {
      const f = await src.read();
      assert.ok(f);
      assert.ok(f.pts > prev, `pts ${f.pts} after ${prev}`);
      prev = f.pts;
      last = f.pts;
      if (f.pts > duration * 2.2) break;
    }
    assert.ok(src.stats().loops >= 2);
    assert.ok(last > duration * 2);
    await src.close();
  });

  it('hardware decode falls back to software with the reason (no VAAPI GPU exists on this machine)', async () => {
    // There is no /dev/dri GPU here; what can be tested is the fallback and its report.
    const auto = await openSource(media.city, { fps: 1, hwaccel: 'auto' });
    assert.equal(auto.info.hwaccel, 'none');
    await auto.close();
    const forced = await openSource(media.city, { fps: 1, hwaccel: 'vaapi', vaapiDevice: '/dev/dri/renderD199' });
    assert.equal(forced.info.hwaccel, 'none');
    assert.match(forced.info.hwaccelError ?? '', /VAAPI|renderD/);
    assert.ok(await forced.read(), 'software decoding still delivers frames');
    await forced.close();
    const off = await openSource(media.city, { fps: 1, hwaccel: 'none' });
    assert.equal(off.info.hwaccel, 'none');
    assert.equal(off.info.hwaccelError, null);
    await off.close();
  });
});
