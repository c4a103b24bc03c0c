// The tamper detector on synthetic grey planes (160x120 at 5 fps): hysteresis, what is no fault (noise, slow
// darkness, short occlusions, a camera that starts covered), and the re-learning of a camera re-aimed for good.
// test/integration/tamper.test.ts runs it on real video.
import assert from 'node:assert/strict';

import { type TamperChange, TamperDetector } from '../../src/edge/detect/tamper.ts';
import { seededRandom } from '../../src/shared/seeded-random.ts';

const W = 160;
const H = 120;

// A "world" wider than the view: rectangles of many grey levels over a gradient, so every block has texture.
const WORLD_W = 320;
const world = (() => {
  const r = seededRandom(7);
  const img = new Float64Array(WORLD_W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < WORLD_W; x++) img[y * WORLD_W + x] = 60 + x / 4 + y / 3;
  for (let k = 0; k < 400; k++) {
    const w = 3 + Math.floor(r() * 14);
    const h = 3 + Math.floor(r() * 14);
    const x0 = Math.floor(r() * (WORLD_W - w));
    const y0 = Math.floor(r() * (H - h));
    const v = 20 + r() * 200;
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) img[y * WORLD_W + x] = v;
  }
  return img;
})();

const noise = seededRandom(11);

/** The view at horizontal offset `at`, times `gain`, with sensor noise of ±`grain` grey levels. */
function view({ at = 0, gain = 1, grain = 3 }: { at?: number; gain?: number; grain?: number } = {}) {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = (world[y * WORLD_W + x + at] as number) * gain + (noise() - 0.5) * 2 * grain;
      data[y * W + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  return { data, width: W, height: H };
}

const flat = (value: number, grain = 1) => {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(value + (noise() - 0.5) * 2 * grain);
  return { data, width: W, height: H };
};

type Plane = ReturnType<typeof view>;

/** Feeds frames at 5 fps from `from` to `to` seconds; returns the changes with the time they were reported. */
function run(d: TamperDetector, from: number, to: number, frame: (t: number) => Plane) {
  const out: (TamperChange & { reportedS: number })[] = [];
  for (let i = Math.round(from * 5); i < Math.round(to * 5); i++) {
    const t = i / 5;
    for (const c of d.update(frame(t), t)) out.push({ ...c, reportedS: t });
  }
  return out;
}

const brief = (cs: TamperChange[]) => cs.map((c) => `${c.kind} ${c.state} ${c.atS.toFixed(1)}`);

describe('tamper detector (synthetic planes)', () => {
  it('a textured scene with sensor noise raises nothing for ten minutes', () => {
    const d = new TamperDetector();
    assert.deepEqual(
      run(d, 0, 600, () => view()),
      [],
    );
    assert.ok(d.learned);
    assert.equal(d.current, null);
    const f = d.features;
    assert.ok(f && f.alignment > 0.9 && f.structure > 0.9 && Math.abs(f.sharpness - 1) < 0.1, JSON.stringify(f));
  });

  it('covered: reported from when it began, confirmed after 3 s, ended 2 s after the picture is back', () => {
    const d = new TamperDetector();
    const changes = run(d, 0, 40, (t) => (t >= 10 && t < 20 ? flat(90) : view()));
    assert.deepEqual(brief(changes), ['covered start 10.0', 'covered end 20.0']);
    assert.deepEqual(
      changes.map((c) => c.reportedS),
      [13, 22],
    );
  });

  it('a black picture is covered too; a dimmed one that still shows the scene is dark', () => {
    const black = run(new TamperDetector(), 0, 30, (t) => (t >= 10 && t < 20 ? flat(2, 0.5) : view()));
    assert.deepEqual(brief(black), ['covered start 10.0', 'covered end 20.0']);
    const dim = run(new TamperDetector(), 0, 30, (t) => view(t >= 10 && t < 20 ? { gain: 0.2 } : {}));
    assert.deepEqual(brief(dim), ['dark start 10.0', 'dark end 20.0']);
  });

  it('night falling slowly, lights switched off (to 55 %) and on, and heavy noise are no fault', () => {
    // 0.2 % darker per second for ten minutes: to 30 % of the daylight level.
    const night = run(new TamperDetector(), 0, 600, (t) => view({ gain: 1 - 0.7 * (t / 600) }));
    assert.deepEqual(brief(night), []);
    const lights = run(new TamperDetector(), 0, 60, (t) =>
      view({ gain: t >= 10 && t < 25 ? 0.55 : t >= 35 && t < 50 ? 1.3 : 1, grain: t >= 50 ? 25 : 3 }),
    );
    assert.deepEqual(brief(lights), []);
  });

  it('hysteresis: a hand over the lens for 2 s starts nothing; one frame of picture does not end a cover', () => {
    const d = new TamperDetector();
    assert.deepEqual(
      run(d, 0, 20, (t) => (t >= 8 && t < 10 ? flat(60) : view())),
      [],
    );
    const changes = run(d, 20, 50, (t) => (t >= 25 && t < 40 && Math.abs(t - 32) > 0.1 ? flat(60) : view()));
    assert.deepEqual(brief(changes), ['covered start 25.0', 'covered end 40.0']);
  });

  it('frozen: a plane repeated bit for bit; a static scene with noise is not frozen', () => {
    const still = view();
    const d = new TamperDetector();
    const changes = run(d, 0, 40, (t) => (t >= 10 && t < 25 ? still : view()));
    assert.deepEqual(brief(changes), ['frozen start 10.2', 'frozen end 25.0']);
    assert.equal(changes[0]?.reportedS, 15.2, 'after 5 s of identical frames');
    // Across a gap (a reconnect) or time going back (a file looped), frames are not compared: it starts over.
    const e = new TamperDetector();
    run(e, 0, 9, () => still);
    assert.equal(e.current, 'frozen');
    const f = new TamperDetector();
    run(f, 0, 7.6, () => still);
    run(f, 7.6, 9, () => view());
    assert.deepEqual(brief(run(f, 30, 34, () => still)), [], 'pending again after the gap, not yet 5 s');
    assert.equal(brief(run(f, 34, 36, () => still))[0], 'frozen start 30.2');
  });

  it('moved: the view shifted by a fifth is reported; after relearnMovedSeconds (10 min; 2 here) it is the new reference', () => {
    const d = new TamperDetector({ relearnMovedSeconds: 120 });
    const changes = run(d, 0, 200, (t) => view({ at: t >= 20 ? 32 : 0 }));
    assert.deepEqual(brief(changes), ['moved start 20.0', 'moved end 146.0']);
    assert.equal(changes[0]?.reportedS, 26);
    assert.equal(d.current, null, 'the new view is normal now');
    // A shake of a few pixels is no re-aim.
    assert.deepEqual(
      brief(run(new TamperDetector(), 0, 60, (t) => view({ at: 4 + Math.round(3 * Math.sin(t * 7)) }))),
      [],
    );
  });

  it('a camera that starts covered learns its scene once it shows one (no `moved` when the cover comes off)', () => {
    const d = new TamperDetector();
    assert.deepEqual(
      run(d, 0, 60, (t) => (t < 20 ? flat(40) : view())),
      [],
    );
    assert.ok(d.learned);
    assert.deepEqual(brief(run(d, 60, 80, (t) => (t >= 65 ? flat(40) : view()))), ['covered start 65.0']);
  });

  it('finish() ends what is active; another plane size starts over', () => {
    const d = new TamperDetector();
    run(d, 0, 20, (t) => (t >= 10 ? flat(90) : view()));
    assert.equal(d.current, 'covered');
    const other = { data: new Uint8Array(160 * 90), width: 160, height: 90 };
    assert.deepEqual(brief(d.update(other, 20)), ['covered end 20.0']);
    assert.equal(d.learned, false);
    assert.deepEqual(d.finish(21), []);
  });
});
