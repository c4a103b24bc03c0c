// `guardian anomaly fit` and `eval` end to end on real Ped2 clips, kept short: fit on 4 normal train clips (one held
// out), evaluate on 3 labelled test clips; then the error cases, each a clear one-line error that changes nothing.
// The full-Ped2 figures are in docs/benchmarks.md ("anomaly").
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { sharedPath } from '../../src/shared/paths.ts';
import { guardianCli, tempDir } from '../helpers.ts';

const ped2 = (...p: string[]) => sharedPath('datasets', 'ped2', ...p);
const TEST_CLIPS = ['02.mp4', '04.mp4', '05.mp4'];

/** A dataset dir of links to shared clips (never copies), with an optional labels.json. */
function dataset(dir: string, clips: string[], from: 'train' | 'test', labels?: unknown): string {
  mkdirSync(dir, { recursive: true });
  for (const c of clips) symlinkSync(ped2(from, c), join(dir, c));
  if (labels !== undefined) writeFileSync(join(dir, 'labels.json'), JSON.stringify(labels));
  return dir;
}

function testLabels(clips: string[]): { clips: Record<string, unknown> } {
  const all = JSON.parse(readFileSync(ped2('test', 'labels.json'), 'utf8')) as { clips: Record<string, unknown> };
  return { clips: Object.fromEntries(clips.map((c) => [c, all.clips[c]])) };
}

function oneLine(r: { code: number; stderr: string; stdout: string }, code: string, message: RegExp): void {
  assert.notEqual(r.code, 0, r.stdout);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, new RegExp(`^guardian: .*\\[${code}\\]$`));
  assert.match(lines[0] as string, message);
}

describe('guardian anomaly fit / eval (UCSD Ped2 subset)', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof tempDir>;
  let modelDir: string;
  before(() => {
    tmp = tempDir('guardian-anomaly-');
    modelDir = join(tmp.path, 'model');
  });
  after(() => tmp.remove());

  it('fits on 4 normal clips and evaluates 3 labelled clips above a sane AUROC floor', async () => {
    const train = dataset(join(tmp.path, 'train'), ['01.mp4', '02.mp4', '03.mp4', '04.mp4'], 'train');
    const fit = await guardianCli(['anomaly', 'fit', '--dataset', train, '--out', modelDir, '--json']);
    assert.equal(fit.code, 0, fit.stderr);
    const m = JSON.parse(fit.stdout);
    assert.equal(m.kind, 'knn-patch');
    assert.equal(m.version, 2);
    assert.deepEqual(m.fit.heldOutClips, ['04.mp4']);
    assert.equal(m.fit.fitFrames, 120 + 150 + 150);
    assert.ok(m.threshold > 0 && m.regimes[0].foregroundRows > 100, fit.stdout);
    // Ped2 is grey footage: one bank, the night/IR one. The object cues come from the product's detector's tracks.
    assert.deepEqual(
      m.regimes.map((r: { name: string }) => r.name),
      ['mono'],
    );
    assert.equal(m.objects.detector.model, 'yolox');
    assert.ok(m.fit.objectObservations > 500, `${m.fit.objectObservations} tracked objects`);
    assert.deepEqual(readdirSync(modelDir).sort(), ['bank.bin', 'model.json']);

    const test = dataset(join(tmp.path, 'test'), TEST_CLIPS, 'test', testLabels(TEST_CLIPS));
    const r = await guardianCli(['anomaly', 'eval', '--model', modelDir, '--dataset', test, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.frames, 180 + 180 + 150);
    assert.equal(e.clips.length, 3);
    // Measured 0.995 micro / 0.994 macro with this subset (TPR 0.98, FPR 0.04); the floors leave room for other
    // machines and FFmpeg builds.
    assert.ok(e.auroc.micro >= 0.8, `micro AUROC ${e.auroc.micro}`);
    assert.ok(e.auroc.macro >= 0.8, `macro AUROC ${e.auroc.macro}`);
    assert.ok(e.tpr > 0.5 && e.fpr < 0.2, `TPR ${e.tpr}, FPR ${e.fpr}`);
    assert.ok(e.msPerFrame > 0 && e.msPerFrame < 200, `${e.msPerFrame} ms per frame`);
    // The cyclists of these clips are what the model names (the detector sees a bicycle, never in the train clips).
    const peaks = e.clips.map((c: { peak: { explanation: string } }) => c.peak.explanation);
    assert.ok(
      peaks.some((x: string) => /^bicycle/.test(x)),
      JSON.stringify(peaks),
    );
  });

  it('refuses a dir that is not a model, of another kind or another version', async () => {
    const test = join(tmp.path, 'test');
    const plain = join(tmp.path, 'plain');
    mkdirSync(plain);
    oneLine(
      await guardianCli(['anomaly', 'eval', '--model', plain, '--dataset', test, '--json']),
      'INVALID_ARGUMENT',
      /is not an anomaly model: no model\.json/,
    );
    const other = join(tmp.path, 'other');
    mkdirSync(other);
    const json = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
    writeFileSync(join(other, 'model.json'), JSON.stringify({ ...json, kind: 'pca' }));
    copyFileSync(join(modelDir, 'bank.bin'), join(other, 'bank.bin'));
    oneLine(
      await guardianCli(['anomaly', 'eval', '--model', other, '--dataset', test]),
      'INVALID_ARGUMENT',
      /of kind "pca" version 2; this edge runs knn-patch v1, knn-patch v2, cae v1/,
    );
    writeFileSync(join(other, 'model.json'), JSON.stringify({ ...json, version: 99 }));
    oneLine(
      await guardianCli(['anomaly', 'eval', '--model', other, '--dataset', test]),
      'INVALID_ARGUMENT',
      /of kind "knn-patch" version 99; this edge runs knn-patch v1, knn-patch v2, cae v1/,
    );
    // fit never writes over something that is not a model
    oneLine(
      await guardianCli(['anomaly', 'fit', '--dataset', join(tmp.path, 'train'), '--out', test]),
      'CONFLICT',
      /exists and is not an anomaly model/,
    );
    assert.ok(existsSync(join(test, 'labels.json')));
  });

  it('too little normal video says how much is needed; nothing is written', async () => {
    const small = dataset(join(tmp.path, 'small'), ['01.mp4', '02.mp4'], 'train'); // 27 s
    const out = join(tmp.path, 'small-model');
    oneLine(
      await guardianCli(['anomaly', 'fit', '--dataset', small, '--out', out]),
      'INVALID_ARGUMENT',
      /too little normal video to fit: .* has 27\.0 s in 2 clips; an anomaly model needs at least 40 s in at least 2 clips/,
    );
    assert.ok(!existsSync(out));
  });

  it('a clip that does not decode is named', async () => {
    const broken = dataset(join(tmp.path, 'broken'), ['01.mp4', '02.mp4', '03.mp4'], 'train');
    writeFileSync(join(broken, '00-broken.mp4'), Buffer.alloc(4096, 7));
    oneLine(
      await guardianCli(['anomaly', 'fit', '--dataset', broken, '--out', join(tmp.path, 'b')]),
      '[A-Z_]+',
      /clip 00-broken\.mp4 does not decode/,
    );
  });

  it('labels that do not match the clips are refused before scoring, or when a clip has another length', async () => {
    const names = dataset(join(tmp.path, 'names'), ['02.mp4'], 'test', testLabels(['02.mp4', '04.mp4']));
    oneLine(
      await guardianCli(['anomaly', 'eval', '--model', modelDir, '--dataset', names]),
      'INVALID_ARGUMENT',
      /labels\.json does not match the clips: labelled but not in the dataset: 04\.mp4/,
    );
    const wrong = testLabels(['05.mp4']);
    (wrong.clips['05.mp4'] as { frames: number }).frames = 170;
    const length = dataset(join(tmp.path, 'length'), ['05.mp4'], 'test', wrong);
    oneLine(
      await guardianCli(['anomaly', 'eval', '--model', modelDir, '--dataset', length]),
      'INVALID_ARGUMENT',
      /05\.mp4 is labelled with 170 frames but has 150/,
    );
  });
});
