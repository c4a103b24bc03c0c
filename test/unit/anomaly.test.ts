// The anomaly model's pieces that need no video: AUROC against hand-computed cases, the model dir's checks (every
// way a dir can fail to be a model), the ONNX edits, the nearest-neighbour graph, k-center, labels and the split.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { auroc, ratesAt } from '../../src/edge/anomaly/auroc.ts';
import { type ClipInfo, frameLabels, readLabels } from '../../src/edge/anomaly/dataset.ts';
import { motionEnergy } from '../../src/edge/anomaly/features.ts';
import { kCenter, splitClips } from '../../src/edge/anomaly/fit.ts';
import { NearestNeighbours, nearestGraph } from '../../src/edge/anomaly/knn.ts';
import {
  BANK_FILE,
  combine,
  MODEL_FILE,
  type ModelFile,
  PastMean,
  readModelDir,
  writeModelDir,
} from '../../src/edge/anomaly/model.ts';
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
  model: Omit<ModelFile, 'bank'>;
  banks: { background: Float32Array; foreground: Float32Array };
} {
  return {
    model: {
      kind: 'knn-patch',
      version: 1,
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
      calibration: { appearance: 1, motion: 10 },
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
    banks: {
      background: Float32Array.from({ length: P * 2 * D }, (_, i) => i),
      foreground: Float32Array.from({ length: 5 * D }, (_, i) => -i),
    },
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
    assert.equal(model.version, 1);
    assert.equal(model.threshold, 1.5);
    assert.deepEqual(model.params, t.model.params);
    assert.deepEqual(Array.from(banks.background), Array.from(t.banks.background));
    assert.deepEqual(Array.from(banks.foreground), Array.from(t.banks.foreground));
    assert.equal(model.bank.foregroundRows, 5);
    assert.equal(model.bank.backgroundRows, P * 2);
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
      m.version = 2;
    });
    fails(d2, 'INVALID_ARGUMENT', /version 2; this Guardian reads version 1/);
    patchJson(d2, (m) => {
      m.version = 1;
      delete m.threshold;
    });
    fails(d2, 'INVALID_ARGUMENT', /lacks params, calibration, bank or threshold/);
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
