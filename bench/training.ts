// Training benchmark: the CAE trained by the same path as `guardian train cae` (media-core decoding, Debian's PyTorch
// worker, ONNX export) on Ped2's 16 normal train clips, then scored on the 6 labelled test clips through the edge's
// evaluation. Reported: seconds per epoch and per training frame, as a ratio to the ONNX Runtime inference of the
// same exported model per frame in the same run (what learning costs against what scoring costs), and the frame AUROC.
// GUARDIAN_BENCH_TRAIN_EPOCHS (default 3) bounds the epochs; docs/benchmarks.md gives a full run's figures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { evaluateModel } from '../src/edge/anomaly/eval.ts';
import { sharedPath } from '../src/shared/paths.ts';
import { trainCae } from '../src/vm/training/cae-trainer.ts';

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function benchTraining(progress: (m: string) => void) {
  const epochs = Number(process.env.GUARDIAN_BENCH_TRAIN_EPOCHS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-train-'));
  try {
    const out = join(dir, 'cae');
    const model = await trainCae(
      { dataset: sharedPath('datasets', 'ped2', 'train'), out, epochs, patience: epochs },
      (p) => {
        if (p.stage === 'training')
          progress(`epoch ${p.done}/${p.total}: held-out loss ${p.valLoss?.toFixed(5)} (${p.epochSeconds} s)`);
      },
    );
    const t = model.training;
    progress('scoring Ped2 test');
    const e = await evaluateModel(out, sharedPath('datasets', 'ped2', 'test'));
    const trainMsPerFrame = (t.secondsPerEpoch * 1000) / t.trainFrames;
    return {
      epochs: t.epochs,
      trainFrames: t.trainFrames,
      heldOutFrames: t.heldOutFrames,
      parameters: t.parameters,
      secondsPerEpoch: t.secondsPerEpoch,
      trainMsPerFrame: round(trainMsPerFrame),
      inferenceMsPerFrame: e.msPerFrame,
      // Reference: the same model's inference per frame, measured in this run.
      trainToInferenceRatio: round(trainMsPerFrame / Math.max(0.01, e.msPerFrame), 1),
      seconds: t.seconds,
      heldOutLoss: round(t.valLoss, 5),
      auroc: e.auroc,
      tpr: e.tpr,
      fpr: e.fpr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
