// The child process that fits a camera's anomaly model (src/edge/anomaly/learn.ts forks it): the fit decodes the
// footage and runs the backbone for a minute or more, which must not hold the main process's event loop. It reports
// progress (0–1) and then the model it wrote or why it could not, over Node IPC, and exits.
import { restrictUmask } from '../../shared/fs-perms.ts';
import type { DetectorChoice } from './clip-analyser.ts';
import { fitModel } from './fit.ts';

export interface LearnRequest {
  dataset: string;
  out: string;
  fps: number;
  /** The detector the cameras run, for the object cues (null: the product's default). */
  detector: DetectorChoice | null;
}

export type LearnReport =
  | { type: 'progress'; progress: number }
  | { type: 'done'; seconds: number }
  | { type: 'failed'; code: string; message: string };

restrictUmask(); // the model dir is private like everything under the data dir

const send = (m: LearnReport) => process.send?.(m);

process.once('message', (req: LearnRequest) => {
  // Seconds of video per phase, so progress runs once over learning and calibrating together.
  const total = { learning: 0, calibrating: 0 };
  let phase: 'learning' | 'selecting' | 'calibrating' = 'learning';
  let last = -1;
  void fitModel(
    req.dataset,
    req.out,
    { fps: req.fps, threads: 1, ...(req.detector ? { detector: { ...req.detector, threads: 1 } } : {}) },
    {
      onPhase: (p, seconds) => {
        phase = p;
        if (p !== 'selecting') total[p] = seconds;
      },
      onProgress: (s) => {
        const all = total.learning + (total.calibrating || total.learning / 3);
        const done = phase === 'learning' ? s : total.learning + s;
        const progress = Math.min(0.99, all > 0 ? done / all : 0);
        if (progress - last >= 0.01) {
          last = progress;
          send({ type: 'progress', progress: Math.round(progress * 100) / 100 });
        }
      },
    },
  )
    .then(
      (r) => send({ type: 'done', seconds: r.seconds }),
      (err: { code?: string; message?: string }) =>
        send({ type: 'failed', code: err?.code ?? 'INTERNAL', message: err?.message ?? String(err) }),
    )
    .finally(() => process.disconnect?.());
});
