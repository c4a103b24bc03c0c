// Day and night banks: a camera whose footage holds a colour (day) and a monochrome (night, IR) picture of the same
// scene gets one bank per regime, and each frame is scored against its own. The night footage is the day sample
// desaturated and darkened with FFmpeg (what an IR camera's switch does to the picture); nothing is mocked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { ClipAnalyser } from '../../src/edge/anomaly/clip-analyser.ts';
import { listClips } from '../../src/edge/anomaly/dataset.ts';
import { fitModel } from '../../src/edge/anomaly/fit.ts';
import { AnomalyModel } from '../../src/edge/anomaly/model.ts';
import { sharedPath } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';

const FPS = 5;

function cut(out: string, fromS: number, night: boolean): void {
  const vf = night ? 'hue=s=0,eq=brightness=-0.15,format=yuv420p' : 'format=yuv420p';
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-ss', String(fromS), '-t', '10', '-i', sharedPath('media', 'vtest.mp4')],
    ...['-vf', vf, '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '20', out],
  ]);
}

/** Mean score and regimes of a clip scored as live video. */
async function scoreClip(modelDir: string, clipPath: string) {
  const model = await AnomalyModel.load(modelDir);
  const analyser = await ClipAnalyser.create(
    model.objectDetector && { model: model.objectDetector.model, classes: model.objectDetector.classes },
  );
  try {
    const [clip] = await listClips(clipPath);
    const scorer = model.scorer();
    const scores: number[] = [];
    const regimes = new Set<string>();
    let learned = true;
    for await (const { frame, objects } of analyser.frames(clip as never, FPS)) {
      const r = await scorer.score(frame, objects);
      scores.push(r.score);
      regimes.add(r.regime);
      learned &&= r.regimeLearned;
    }
    return { mean: scores.reduce((a, b) => a + b, 0) / scores.length, regimes: [...regimes], learned };
  } finally {
    await analyser.close();
    await model.close();
  }
}

describe('anomaly: day and night banks', function () {
  this.timeout(300_000);
  let tmp: ReturnType<typeof tempDir>;
  let both: string;
  let nightClip: string;
  before(() => {
    tmp = tempDir('guardian-regimes-');
    // 5 day clips, then the same 5 stretches at night: the fit holds out every 4th (one of each).
    both = join(tmp.path, 'both');
    mkdirSync(both);
    for (let i = 0; i < 5; i++) cut(join(both, `c${i}.mp4`), i * 10, false);
    for (let i = 0; i < 5; i++) cut(join(both, `c${i + 5}.mp4`), i * 10, true);
    nightClip = join(tmp.path, 'night');
    mkdirSync(nightClip);
    cut(join(nightClip, 'n.mp4'), 55, true);
  });
  after(() => tmp.remove());

  it('learns a bank per regime, scores night frames against the night bank, and a day-only model says so', async () => {
    const model = join(tmp.path, 'model-both');
    const r = await fitModel(both, model, { fps: FPS });
    assert.deepEqual(
      r.model.regimes.map((g) => g.name),
      ['colour', 'mono'],
    );
    const counts = r.model.fit.regimes ?? {};
    assert.ok(
      (counts.colour?.fitFrames ?? 0) >= 30 * FPS && (counts.mono?.fitFrames ?? 0) >= 30 * FPS,
      JSON.stringify(counts),
    );
    assert.ok((counts.colour?.heldOutFrames ?? 0) >= 10 * FPS && (counts.mono?.heldOutFrames ?? 0) >= 10 * FPS);
    // Each regime is calibrated on its own held-out frames.
    assert.notEqual(r.model.regimes[0]?.calibration.appearance, r.model.regimes[1]?.calibration.appearance);

    // Day footage only (the first 5 clips): one bank, and night frames are not something it learned.
    const dayOnlyDir = join(tmp.path, 'day');
    mkdirSync(dayOnlyDir);
    for (let i = 0; i < 5; i++) cut(join(dayOnlyDir, `c${i}.mp4`), i * 10, false);
    const day = join(tmp.path, 'model-day');
    const d = await fitModel(dayOnlyDir, day, { fps: FPS });
    assert.deepEqual(
      d.model.regimes.map((g) => g.name),
      ['colour'],
    );

    const withNight = await scoreClip(model, nightClip);
    const dayOnly = await scoreClip(day, nightClip);
    assert.deepEqual(withNight.regimes, ['mono']);
    assert.equal(withNight.learned, true);
    assert.equal(dayOnly.learned, false);
    // Against the day bank the whole night picture looks unusual; against its own bank it does not.
    assert.ok(withNight.mean < dayOnly.mean, `night bank ${withNight.mean} vs day bank ${dayOnly.mean}`);
    assert.ok(withNight.mean < r.model.threshold, `night clip ${withNight.mean} vs threshold ${r.model.threshold}`);
  });
});
