// `guardian train cae` end to end with Debian's real PyTorch on a small slice (a few seconds of training): the model
// dir it writes loads in the edge's scorer, `guardian anomaly eval` accepts it, and the ways a training can be wrong
// (too few normal frames, a folder that is not a dataset) are clear errors that leave nothing behind. The full
// training on Ped2 is in the bench (docs/benchmarks.md, "training").
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { ulid } from 'ulidx';
import yazl from 'yazl';

import { openSource } from '../../bindings/index.ts';
import { caeInput } from '../../src/edge/anomaly/cae.ts';
import { loadAnomalyModel } from '../../src/edge/anomaly/kinds.ts';
import { sharedPath } from '../../src/shared/paths.ts';
import { pyTorchMissing } from '../../src/vm/training/cae-trainer.ts';
import { guardianCli, tempDir } from '../helpers.ts';

const ped2 = (...p: string[]) => sharedPath('datasets', 'ped2', ...p);

/** JPEGs of a clip's frames, as the edge's dataset screenshots are (the media core's snapshot encoder). */
export async function clipJpegs(clip: string, n: number): Promise<Buffer[]> {
  const src = await openSource(clip, { snapshotFrames: 1 });
  const out: Buffer[] = [];
  try {
    while (out.length < n && (await src.read())) out.push(Buffer.from(await src.snapshot({ width: 0 })));
  } finally {
    await src.close();
  }
  return out;
}

/** A dataset ZIP in the edge's export format. */
export function datasetZip(path: string, images: { jpeg: Buffer; label: string; cameraId: string }[]): Promise<void> {
  const zip = new yazl.ZipFile();
  const items = images.map((im, i) => {
    const file = `images/${im.label}/${ulid()}.jpg`;
    zip.addBuffer(im.jpeg, file);
    return { file, label: im.label, cameraId: im.cameraId, takenMs: 1_700_000_000_000 + i };
  });
  zip.addBuffer(
    Buffer.from(JSON.stringify({ format: 'guardian-dataset/1', createdMs: Date.now(), items })),
    'manifest.json',
  );
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => {
      writeFileSync(path, Buffer.concat(chunks));
      resolve();
    });
    zip.outputStream.on('error', reject);
  });
}

describe('guardian train cae (real PyTorch, small slice)', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof tempDir>;
  before(function () {
    const missing = pyTorchMissing();
    if (missing) {
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    tmp = tempDir('guardian-train-');
  });
  after(() => tmp?.remove());

  it('trains on normal clips, exports ONNX with metadata, and the edge scores and evaluates with it', async () => {
    const data = join(tmp.path, 'clips');
    mkdirSync(data);
    for (const c of ['01.mp4', '02.mp4', '03.mp4', '04.mp4']) symlinkSync(ped2('train', c), join(data, c));
    const out = join(tmp.path, 'model');
    const r = await guardianCli([
      'train',
      'cae',
      '--dataset',
      data,
      '--out',
      out,
      '--epochs',
      '2',
      '--max-frames',
      '80',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.equal(m.kind, 'cae');
    assert.equal(m.training.frames, 80);
    assert.equal(m.training.trainFrames + m.training.heldOutFrames, 80);
    assert.ok(m.training.heldOutFrames >= 10, 'clip 04 is held out');
    assert.equal(m.training.history.length, m.training.epochs);
    assert.ok(m.training.epochs >= 1 && m.training.epochs <= 2);
    assert.ok(m.threshold > 0 && m.threshold < 1, String(m.threshold));
    assert.deepEqual(readdirSync(out).sort(), ['model.json', 'model.onnx']);
    assert.equal((statSync(join(out, 'model.onnx')).mode & 0o777).toString(8), '600');
    const onnx = readFileSync(join(out, 'model.onnx'));
    assert.equal(createHash('sha256').update(onnx).digest('hex'), m.onnx.sha256);
    // The ONNX file carries its own metadata, and its outputs are the reconstruction and the cell errors.
    const session = await ort.InferenceSession.create(onnx);
    assert.deepEqual(session.outputNames, ['reconstruction', 'cell_errors']);
    await session.release();
    assert.ok(
      onnx.includes(Buffer.from('guardian.training_set_sha256')) &&
        onnx.includes(Buffer.from(m.training.trainingSetSha256)),
    );

    // The edge's scorer: a normal frame from a train clip it held out scores near the threshold, not far above.
    const model = await loadAnomalyModel(out);
    const src = await openSource(ped2('train', '05.mp4'), { tensor: caeInput(224) });
    const scorer = model.scorer();
    const scores: number[] = [];
    for (let i = 0; i < 10; i++) {
      const f = await src.read();
      assert.ok(f);
      scores.push((await scorer.score(f)).raw);
    }
    await src.close();
    await model.close();
    assert.ok(Math.max(...scores) < m.threshold * 3, `${scores} vs ${m.threshold}`);

    // `guardian anomaly eval` takes the CAE model dir as it takes a knn-patch one.
    const test = join(tmp.path, 'test');
    mkdirSync(test);
    symlinkSync(ped2('test', '02.mp4'), join(test, '02.mp4'));
    const labels = JSON.parse(readFileSync(ped2('test', 'labels.json'), 'utf8'));
    writeFileSync(join(test, 'labels.json'), JSON.stringify({ clips: { '02.mp4': labels.clips['02.mp4'] } }));
    const e = await guardianCli(['anomaly', 'eval', '--model', out, '--dataset', test, '--json']);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.model.kind, 'cae');
    assert.equal(ev.frames, labels.clips['02.mp4'].frames);
    assert.ok(typeof ev.auroc.micro === 'number');
  });

  it("trains from the edge's dataset ZIP, learning only its normal images", async () => {
    const jpegs = await clipJpegs(ped2('train', '06.mp4'), 64);
    const images = jpegs.map((jpeg, i) => ({ jpeg, label: i < 56 ? 'normal' : 'abnormal', cameraId: 'yard' }));
    const zip = join(tmp.path, 'dataset.zip');
    await datasetZip(zip, images);
    const out = join(tmp.path, 'from-zip');
    const r = await guardianCli(['train', 'cae', '--dataset', zip, '--out', out, '--epochs', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.equal(m.training.frames, 56);
    assert.equal(m.params.smoothFrames, 1, 'stills are not a sequence');
  });

  it('refuses too few normal frames, and a folder that is not a dataset, leaving nothing behind', async () => {
    const zip = join(tmp.path, 'small.zip');
    const jpegs = await clipJpegs(ped2('train', '07.mp4'), 30);
    await datasetZip(
      zip,
      jpegs.map((jpeg) => ({ jpeg, label: 'normal', cameraId: 'yard' })),
    );
    const out = join(tmp.path, 'never');
    const r = await guardianCli(['train', 'cae', '--dataset', zip, '--out', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /too few normal frames to train on: the dataset has 30, training needs at least 50/);
    assert.equal(existsSync(out), false);
    const empty = join(tmp.path, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'hello');
    const r2 = await guardianCli(['train', 'cae', '--dataset', empty, '--out', out]);
    assert.match(r2.stderr, /has no \*\.mp4 clips, images or manifest\.json/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(tmp.path).filter((n) => n.includes('partial')),
      [],
    );
  });
});
