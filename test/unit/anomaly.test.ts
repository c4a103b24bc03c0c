// The anomaly model's pieces that need no video: AUROC against hand-computed cases, the model dir's checks (every
// way a dir can fail to be a model), the ONNX edits, the nearest-neighbour graph, k-center, labels and the split.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { tensorPresets } from '../../bindings/index.ts';
import { auroc, ratesAt } from '../../src/edge/anomaly/auroc.ts';
import { type ClipInfo, frameLabels, readLabels } from '../../src/edge/anomaly/dataset.ts';
import { motionEnergy } from '../../src/edge/anomaly/features.ts';
import { kCenter, splitClips } from '../../src/edge/anomaly/fit.ts';
import { NearestNeighbours, nearestGraph } from '../../src/edge/anomaly/knn.ts';
import {
  BANK_FILE,
  combine,
  MODEL_FILE,
  objectCells,
  PastMean,
  readModelDir,
  regimeOf,
  writeModelDir,
} from '../../src/edge/anomaly/model.ts';
import {
  calibrateObjects,
  OBJECT_CALIBRATION_FLOORS,
  ObjectNormsBuilder,
  type ObjectObservation,
  scoreObjects,
} from '../../src/edge/anomaly/objects.ts';
import { addGraphOutputs, readGraph } from '../../src/shared/onnx-edit.ts';
import { tempDir } from '../helpers.ts';

describe('anomaly: AUROC', () => {
  it('matches a hand-computed case (3 of 4 positive–negative pairs ordered right)', () => {
    // positives 0.35, 0.8; negatives 0.1, 0.4: 0.35>0.1 ✓, 0.35>0.4 ✗, 0.8>0.1 ✓, 0.8>0.4 ✓ → 3/4
    assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  });

  it('counts a tie as one half', () => {
    // positives 0.5, 0.9; negatives 0.5, 0.2: tie ½, 0.5>0.2 1, 0.9 beats both 2 → 3.5/4
    assert.equal(auroc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]), 0.875);
    assert.equal(auroc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, null with one class', () => {
    assert.equal(auroc([1, 2, 3, 4], [0, 0, 1, 1]), 1);
    assert.equal(auroc([4, 3, 2, 1], [0, 0, 1, 1]), 0);
    assert.equal(auroc([1, 2], [0, 0]), null);
    assert.equal(auroc([1, 2], [1, 1]), null);
    assert.throws(() => auroc([1, 2], [1]), RangeError);
  });

  it('TPR/FPR at a threshold (strictly above counts as anomalous)', () => {
    assert.deepEqual(ratesAt([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.35), { tpr: 0.5, fpr: 0.5 });
    assert.deepEqual(ratesAt([0.1, 0.2], [0, 0], 0.15), { tpr: null, fpr: 0.5 });
  });
});

const P = 2 * 2;
const D = 3;

function tinyModel(): {
  model: Parameters<typeof writeModelDir>[1];
  banks: { background: Float32Array; foreground: Float32Array }[];
} {
  return {
    model: {
      kind: 'knn-patch',
      version: 2,
      created: new Date(0).toISOString(),
      params: {
        backbone: { tensor: '623', channels: D, grid: 2, sha256: 'x'.repeat(64), file: 'nanodet-m-320.onnx' },
        grid: 2,
        channels: D,
        fps: 10,
        motionWidth: 160,
        motionGate: 3,
        backgroundPerCell: 2,
        foregroundBank: 5,
        smoothFrames: 5,
        thresholdPercentile: 99,
      },
      regimes: [{ name: 'colour', calibration: { appearance: 1, motion: 10 } }],
      objects: null,
      threshold: 1.5,
      fit: {
        dataset: '/x',
        fitClips: ['a.mp4'],
        heldOutClips: ['b.mp4'],
        fitFrames: 10,
        heldOutFrames: 5,
        foregroundPool: 5,
        seconds: 1,
      },
    },
    banks: [
      {
        background: Float32Array.from({ length: P * 2 * D }, (_, i) => i),
        foreground: Float32Array.from({ length: 5 * D }, (_, i) => -i),
      },
    ],
  };
}

describe('anomaly: model dir', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('guardian-anomaly-');
  });
  afterEach(() => tmp.remove());

  const write = () => {
    const { model, banks } = tinyModel();
    const dir = join(tmp.path, 'model');
    writeModelDir(dir, model, banks);
    return dir;
  };
  const patchJson = (dir: string, change: (m: Record<string, unknown>) => void) => {
    const m = JSON.parse(readFileSync(join(dir, MODEL_FILE), 'utf8'));
    change(m);
    writeFileSync(join(dir, MODEL_FILE), JSON.stringify(m));
  };
  const fails = (dir: string, code: string, message: RegExp) =>
    assert.throws(
      () => readModelDir(dir),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, code, err.message);
        assert.match(err.message, message);
        return true;
      },
    );

  it('round-trips: params, threshold and both banks come back bit for bit', () => {
    const dir = write();
    const { model, banks } = readModelDir(dir);
    const t = tinyModel();
    assert.equal(model.kind, 'knn-patch');
    assert.equal(model.version, 2);
    assert.equal(model.threshold, 1.5);
    assert.deepEqual(model.params, t.model.params);
    assert.deepEqual(Array.from(banks[0]?.background ?? []), Array.from(t.banks[0]?.background ?? [1]));
    assert.deepEqual(Array.from(banks[0]?.foreground ?? []), Array.from(t.banks[0]?.foreground ?? [1]));
    assert.equal(model.regimes[0]?.foregroundRows, 5);
    assert.equal(model.regimes[0]?.backgroundRows, P * 2);
  });

  it('two regimes round-trip in order, each with its own bank and calibration', () => {
    const { model, banks } = tinyModel();
    const mono = {
      background: Float32Array.from({ length: P * 2 * D }, (_, i) => 100 + i),
      foreground: Float32Array.from({ length: 3 * D }, (_, i) => 50 + i),
    };
    const dir = join(tmp.path, 'two');
    writeModelDir(
      dir,
      { ...model, regimes: [...model.regimes, { name: 'mono', calibration: { appearance: 2, motion: 20 } }] },
      [...banks, mono],
    );
    const r = readModelDir(dir);
    assert.deepEqual(
      r.model.regimes.map((g) => [g.name, g.calibration.motion, g.foregroundRows]),
      [
        ['colour', 10, 5],
        ['mono', 20, 3],
      ],
    );
    assert.deepEqual(Array.from(r.banks[1]?.foreground ?? []), Array.from(mono.foreground));
    assert.deepEqual(Array.from(r.banks[1]?.background ?? []), Array.from(mono.background));
  });

  it('a version 1 dir (one bank, calibration at the top) still loads, as one `any` regime without objects', () => {
    const dir = write();
    patchJson(dir, (m) => {
      const regimes = m.regimes as { calibration: unknown; backgroundRows: number; foregroundRows: number }[];
      m.version = 1;
      m.calibration = regimes[0]?.calibration;
      m.bank = {
        ...(m.bank as object),
        backgroundRows: regimes[0]?.backgroundRows,
        foregroundRows: regimes[0]?.foregroundRows,
      };
      delete m.regimes;
      delete m.objects;
    });
    const { model, banks } = readModelDir(dir);
    assert.equal(model.version, 1);
    assert.deepEqual(
      model.regimes.map((r) => [r.name, r.calibration.motion, r.foregroundRows]),
      [['any', 10, 5]],
    );
    assert.equal(model.objects, null);
    assert.equal(banks[0]?.foreground.length, 5 * D);
  });

  it('refits replace a model; a dir that is something else is refused and left alone', () => {
    const dir = write();
    const { model, banks } = tinyModel();
    writeModelDir(dir, { ...model, threshold: 2 }, banks);
    assert.equal(readModelDir(dir).model.threshold, 2);
    const other = join(tmp.path, 'other');
    writeModelDir(join(other, 'sub'), model, banks); // creates parents
    writeFileSync(join(other, 'notes.txt'), 'mine');
    assert.throws(() => writeModelDir(other, model, banks), /exists and is not an anomaly model/);
    assert.equal(readFileSync(join(other, 'notes.txt'), 'utf8'), 'mine');
  });

  it('missing dir → NOT_FOUND; a dir without model.json → not a model', () => {
    fails(join(tmp.path, 'nope'), 'NOT_FOUND', /does not exist/);
    fails(tmp.path, 'INVALID_ARGUMENT', /is not an anomaly model: no model\.json/);
    const file = join(tmp.path, 'file');
    writeFileSync(file, 'x');
    fails(file, 'INVALID_ARGUMENT', /not a directory/);
  });

  it('model.json that is not JSON, another kind, another version, or incomplete', () => {
    const dir = write();
    writeFileSync(join(dir, MODEL_FILE), '{');
    fails(dir, 'INVALID_ARGUMENT', /is not JSON/);
    const d2 = join(tmp.path, 'k');
    writeModelDir(d2, tinyModel().model, tinyModel().banks);
    patchJson(d2, (m) => {
      m.kind = 'cae';
    });
    fails(d2, 'INVALID_ARGUMENT', /of kind "cae", not knn-patch/);
    patchJson(d2, (m) => {
      m.kind = 'knn-patch';
      m.version = 3;
    });
    fails(d2, 'INVALID_ARGUMENT', /version 3; this Guardian reads versions 1 and 2/);
    patchJson(d2, (m) => {
      m.version = 2;
      delete m.threshold;
    });
    fails(d2, 'INVALID_ARGUMENT', /lacks params, regimes, calibration, bank or threshold/);
    patchJson(d2, (m) => {
      m.threshold = 1;
      m.regimes = [];
    });
    fails(d2, 'INVALID_ARGUMENT', /lacks params, regimes/);
  });

  it('a missing, truncated or altered bank is refused', () => {
    const dir = write();
    const bank = join(dir, BANK_FILE);
    const bytes = readFileSync(bank);
    writeFileSync(bank, bytes.subarray(0, bytes.length - 4));
    fails(dir, 'CORRUPT_DATA', /has \d+ bytes; the model says \d+/);
    const altered = Buffer.from(bytes);
    altered[0] = (altered[0] as number) ^ 1;
    writeFileSync(bank, altered);
    fails(dir, 'CORRUPT_DATA', /does not match its checksum/);
    writeFileSync(bank, bytes);
    assert.ok(readModelDir(dir));
    rmSync(bank);
    fails(dir, 'INVALID_ARGUMENT', /its memory bank bank\.bin is missing/);
  });
});

describe('anomaly: scoring pieces', () => {
  it('nearest-neighbour graph (onnxruntime) equals a brute-force search', async () => {
    const dim = 7;
    const k = 30;
    let seed = 1;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const bank = Float32Array.from({ length: k * dim }, rand);
    const x = Float32Array.from({ length: 9 * dim }, () => rand() * 2);
    assert.ok(nearestGraph(bank, dim).length > bank.length * 4);
    const nn = await NearestNeighbours.create(bank, dim);
    try {
      const d = await nn.distances(x, 9);
      for (let r = 0; r < 9; r++) {
        let best = Number.POSITIVE_INFINITY;
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let c = 0; c < dim; c++) s += ((x[r * dim + c] as number) - (bank[j * dim + c] as number)) ** 2;
          best = Math.min(best, s);
        }
        assert.ok(Math.abs((d[r] as number) - Math.sqrt(best)) < 1e-4, `row ${r}: ${d[r]} vs ${Math.sqrt(best)}`);
      }
      assert.equal((await nn.distances(x, 0)).length, 0);
    } finally {
      await nn.close();
    }
  });

  it('k-center picks spread-out vectors: two clusters give one from each', () => {
    const pool = Float32Array.from([0, 0, 0.1, 0, 0, 0.1, 10, 10, 10.1, 10]);
    const c = kCenter(pool, 5, 2, 2);
    const xs = [c[0], c[2]].map((v) => Math.round((v as number) / 10));
    assert.deepEqual(xs.sort(), [0, 1]);
    assert.equal(kCenter(pool, 5, 2, 9).length, 10); // never more than the pool
  });

  it('motion energy is the mean |difference| per cell, zero without a previous frame', () => {
    const a = new Uint8Array(4 * 4);
    const b = new Uint8Array(4 * 4);
    b[0] = 40; // top-left cell (2x2 px) gets 40/4
    assert.deepEqual(Array.from(motionEnergy(b, a, 4, 4, 2)), [10, 0, 0, 0]);
    assert.deepEqual(Array.from(motionEnergy(b, undefined, 4, 4, 2)), [0, 0, 0, 0]);
  });

  it('combine adds calibrated cues, takes the max cell, and names the cue; smoothing uses the past only', () => {
    const c = combine(
      { appearance: Float32Array.from([0.5, 0.2, 3, 0.1]), motion: Float32Array.from([0, 40, 1, 0]) },
      { appearance: 1, motion: 10 },
    );
    assert.deepEqual({ cell: c.cell, cue: c.cue }, { cell: 1, cue: 'motion' });
    assert.ok(Math.abs(c.raw - 4.2) < 1e-6 && Math.abs(c.ratio - 4) < 1e-6);
    const m = new PastMean(3);
    assert.deepEqual(
      [3, 6, 9, 0].map((v) => m.push(v)),
      [3, 4.5, 6, 5],
    );
  });
});

describe('anomaly: object cues', () => {
  // A walkway along the bottom of a 400×400 frame: people walking right at ~0.3 box heights per second.
  const W = 400;
  const person = (x: number, vx: number, h = 80, label = 'person', score = 0.9): ObjectObservation => ({
    label,
    score,
    box: [x, 300 - h, x + h / 2, 300],
    velocity: [vx, 0],
  });
  const norms = () => {
    const b = new ObjectNormsBuilder();
    for (let i = 0; i < 400; i++) b.add([person((i * 7) % 300, 20 + (i % 5))], W, W);
    const n = b.build({ model: 'yolox', sha256: 'x', classes: { person: { minScore: 0.5 } } });
    return calibrateObjects(
      n,
      Array.from({ length: 50 }, (_, i) => ({ objects: [person((i * 13) % 300, 22)], width: W, height: W })),
    );
  };

  it('a person walking the usual path adds nothing; a bicycle, a runner, the wrong way or the wrong size do', () => {
    const n = norms();
    assert.equal(scoreObjects(n, [person(100, 22)], W, W)?.value, 0);
    const bike = scoreObjects(n, [person(100, 60, 80, 'bicycle', 0.8)], W, W);
    assert.ok(bike && bike.value > 1 && bike.cue === 'class', JSON.stringify(bike));
    assert.match(bike.explanation, /bicycle: not seen here in normal footage/);
    const runner = scoreObjects(n, [person(100, 100)], W, W);
    assert.ok(runner && runner.value > 0.5 && runner.cue === 'speed', JSON.stringify(runner));
    assert.match(runner.explanation, /person moving 4\.\d× faster than usual here/);
    const back = scoreObjects(n, [person(100, -22)], W, W);
    assert.ok(back && back.value > 0 && back.cue === 'direction', JSON.stringify(back));
    const giant = scoreObjects(n, [person(100, 22, 240)], W, W);
    assert.ok(giant && giant.value > 0 && giant.cue === 'size', JSON.stringify(giant));
  });

  it('the calibration never goes below its floors (held-out footage of people only)', () => {
    const n = norms();
    for (const cue of ['class', 'speed', 'direction', 'size'] as const)
      assert.ok(n.calibration[cue] >= OBJECT_CALIBRATION_FLOORS[cue], cue);
  });

  it("objects add to the cells under their box, and the object's box becomes the region", () => {
    const n = norms();
    const { cells, best } = objectCells(n, [person(20, 60, 190, 'bicycle')], W, W, 2);
    assert.equal(best?.label, 'bicycle');
    // The box [20,110]-[115,300] covers the centre of the bottom-left cell (100, 300) only.
    assert.ok((cells[2] as number) > 1 && cells[0] === 0 && cells[1] === 0 && cells[3] === 0, String(cells));
    const c = combine(
      { appearance: new Float32Array(4), motion: new Float32Array(4), object: cells },
      { appearance: 1, motion: 1 },
    );
    assert.deepEqual({ cell: c.cell, cue: c.cue }, { cell: 2, cue: 'object' });
  });
});

describe('anomaly: day and night regimes', () => {
  const p = tensorPresets.nanodet;
  const tensor = (bgr: (x: number) => [number, number, number]) => {
    const n = p.size * p.size;
    const t = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      const v = bgr(i % p.size);
      for (let c = 0; c < 3; c++) t[c * n + i] = ((v[c] as number) - (p.mean?.[c] ?? 0)) / (p.std?.[c] ?? 1);
    }
    return t;
  };
  it('a grey (IR) picture is mono, a dim colour one is colour', () => {
    const regime = (bgr: (x: number) => [number, number, number]) =>
      regimeOf(tensor(bgr), p.size, p.mean ?? [], p.std ?? []);
    assert.equal(
      regime((x) => [x % 200, x % 200, x % 200]),
      'mono',
    );
    // H.264 chroma noise on a grey picture: a level or two.
    assert.equal(
      regime((x) => [60 + (x % 2), 61, 60]),
      'mono',
    );
    assert.equal(
      regime(() => [20, 30, 45]),
      'colour',
    );
  });
});

describe('anomaly: ONNX edits', () => {
  it('adds graph outputs, or replaces them (a sub-model), leaving the rest of the file as it was', () => {
    const g = nearestGraph(Float32Array.from([1, 2, 3, 4]), 2);
    assert.deepEqual(readGraph(g).outputs, ['d2']);
    assert.deepEqual(
      readGraph(g).nodes.map((n) => n.opType),
      ['MatMul', 'Add', 'ReduceMin'],
    );
    assert.deepEqual(readGraph(addGraphOutputs(g, ['xw'])).outputs, ['d2', 'xw']);
    assert.deepEqual(readGraph(addGraphOutputs(g, ['xw', 'dist'], { replace: true })).outputs, ['xw', 'dist']);
    assert.throws(() => readGraph(Uint8Array.from([0x0a, 0xff])), /not a valid ONNX model/);
  });
});

describe('anomaly: datasets', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('guardian-anomaly-');
  });
  afterEach(() => tmp.remove());
  const clip = (name: string, seconds = 10): ClipInfo => ({ name, path: `/x/${name}`, fps: 10, seconds });
  const labels = (doc: unknown) => writeFileSync(join(tmp.path, 'labels.json'), JSON.stringify(doc));

  it('reads labels and turns inclusive ranges into per-frame flags', () => {
    labels({
      clips: {
        'a.mp4': {
          frames: 6,
          fps: 10,
          anomalous: [
            [1, 2],
            [5, 5],
          ],
        },
      },
    });
    const l = readLabels(tmp.path, [clip('a.mp4')]);
    assert.deepEqual(Array.from(frameLabels(l.get('a.mp4') as never)), [0, 1, 1, 0, 0, 1]);
  });

  it('labels that do not match the clips say how', () => {
    assert.throws(() => readLabels(tmp.path, [clip('a.mp4')]), /has no labels\.json/);
    writeFileSync(join(tmp.path, 'labels.json'), '[');
    assert.throws(() => readLabels(tmp.path, [clip('a.mp4')]), /is not JSON/);
    labels({ clips: [] });
    assert.throws(() => readLabels(tmp.path, [clip('a.mp4')]), /has no "clips" object/);
    labels({ clips: { 'a.mp4': { frames: 5, anomalous: [[3, 9]] }, 'c.mp4': { frames: 5, anomalous: [] } } });
    assert.throws(
      () => readLabels(tmp.path, [clip('a.mp4'), clip('b.mp4')]),
      (err: Error) =>
        /range \[3,9\] is not \[first, last\] within 0–4/.test(err.message) &&
        /labelled but not in the dataset: c\.mp4/.test(err.message) &&
        /clips without labels: b\.mp4/.test(err.message),
    );
    labels({ clips: { 'a.mp4': { frames: 5, fps: 25, anomalous: [] } } });
    assert.throws(() => readLabels(tmp.path, [clip('a.mp4')]), /labelled at 25 fps but the clip runs at 10 fps/);
  });

  it('holds out every 4th clip, or the last of fewer than 4', () => {
    const names = (cs: ClipInfo[]) => cs.map((c) => c.name);
    const eight = Array.from({ length: 8 }, (_, i) => clip(`${i + 1}.mp4`));
    assert.deepEqual(names(splitClips(eight).heldOut), ['4.mp4', '8.mp4']);
    assert.equal(splitClips(eight).fit.length, 6);
    assert.deepEqual(names(splitClips([clip('a.mp4'), clip('b.mp4')]).heldOut), ['b.mp4']);
  });
});
