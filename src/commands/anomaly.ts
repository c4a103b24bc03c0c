// `guardian anomaly fit|eval`: the per-camera anomaly model (src/edge/anomaly/) learned from normal clips, and its
// frame-level evaluation on labelled clips (AUROC, and TPR/FPR at the threshold the model chose from normal data).
import type { Command } from 'commander';

import { type Evaluation, evaluateModel } from '../edge/anomaly/eval.ts';
import { fitModel } from '../edge/anomaly/fit.ts';
import { jsonOption, numberOption } from './options.ts';
import { fail, type Progress, printJson, progressBar } from './output.ts';

const PHASES = { learning: 'learning normal', selecting: 'selecting the memory bank', calibrating: 'calibrating' };

function printEvaluation(e: Evaluation): void {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)} %`);
  console.log(
    `${e.frames} frames: AUROC micro ${e.auroc.micro ?? 'n/a'}, macro ${e.auroc.macro ?? 'n/a'}; ` +
      `${e.msPerFrame} ms per frame (p95 ${e.timing.p95} ms)`,
  );
  console.log(`  at the model's threshold ${e.threshold}: TPR ${pct(e.tpr)}, FPR ${pct(e.fpr)}`);
  for (const c of e.clips)
    console.log(`  ${c.clip}: ${c.frames} frames, ${c.anomalousFrames} anomalous, AUROC ${c.auroc ?? 'n/a'}`);
}

export function registerAnomalyCommands(program: Command): void {
  const anomaly = program
    .command('anomaly')
    .description(
      'Learn what is normal for a camera from its own footage, and measure how well unusual frames stand out',
    );

  anomaly
    .command('fit')
    .description(
      'Fit a knn-patch anomaly model on normal clips (every 4th clip, or the last, is held out to set the threshold)',
    )
    .requiredOption('--dataset <dir>', 'directory of *.mp4 clips of normal activity (at least 40 s in 2 clips)')
    .requiredOption('--out <dir>', 'model directory to write (new, empty, or an anomaly model to replace)')
    .option('--backbone <file>', 'NanoDet-m 320 ONNX file (default: the shipped one)')
    .addOption(numberOption('--threads <n>', 'inference threads', { min: 1, max: 16, integer: true }, 1))
    .addOption(jsonOption())
    .action(async (opts: { dataset: string; out: string; backbone?: string; threads: number; json?: boolean }) => {
      let bar: Progress = progressBar('');
      try {
        const result = await fitModel(
          opts.dataset,
          opts.out,
          { threads: opts.threads, ...(opts.backbone ? { backbonePath: opts.backbone } : {}) },
          {
            onPhase: (phase, seconds) => {
              bar.stop();
              bar = progressBar(PHASES[phase]);
              if (seconds) bar.start(seconds);
            },
            onProgress: (s) => bar.update(s),
          },
        );
        bar.stop();
        const m = result.model;
        if (opts.json)
          return printJson({
            dir: result.dir,
            kind: m.kind,
            version: m.version,
            created: m.created,
            threshold: m.threshold,
            regimes: m.regimes,
            objects: m.objects && { detector: m.objects.detector, calibration: m.objects.calibration },
            bank: m.bank,
            fit: m.fit,
            seconds: Math.round(result.seconds * 10) / 10,
          });
        console.log(
          `${result.dir}: ${m.kind} v${m.version} from ${m.fit.fitFrames} frames (${m.fit.fitClips.length} clips), ` +
            `threshold from ${m.fit.heldOutFrames} held-out frames (${m.fit.heldOutClips.join(', ')}); ` +
            `banks: ${m.regimes.map((r) => `${r.name} ${r.foregroundRows} + ${r.backgroundRows} vectors`).join(', ')}; ` +
            `object cues: ${m.objects ? `${m.fit.objectObservations ?? 0} tracked objects (${m.objects.detector.model})` : 'none'}; ` +
            `${result.seconds.toFixed(1)} s`,
        );
      } catch (err) {
        bar.stop();
        fail(err);
      }
    });

  anomaly
    .command('eval')
    .description('Score labelled clips with a fitted model: frame AUROC (micro, macro), ms per frame, TPR/FPR')
    .requiredOption('--model <dir>', 'model directory written by guardian anomaly fit')
    .requiredOption('--dataset <dir>', 'directory of *.mp4 clips with a labels.json (frames, fps, anomalous ranges)')
    .option('--backbone <file>', 'NanoDet-m 320 ONNX file (default: the shipped one; must be the one fitted with)')
    .addOption(numberOption('--threads <n>', 'inference threads', { min: 1, max: 16, integer: true }, 1))
    .option('--scores', 'also output every frame score (with --json)')
    .addOption(jsonOption())
    .action(
      async (opts: {
        model: string;
        dataset: string;
        backbone?: string;
        threads: number;
        scores?: boolean;
        json?: boolean;
      }) => {
        const bar = progressBar('scoring');
        try {
          const e = await evaluateModel(
            opts.model,
            opts.dataset,
            {
              threads: opts.threads,
              scores: opts.scores === true,
              ...(opts.backbone ? { backbonePath: opts.backbone } : {}),
            },
            { onStart: bar.start, onProgress: bar.update },
          );
          bar.stop();
          if (opts.json) return printJson(e);
          printEvaluation(e);
        } catch (err) {
          bar.stop();
          fail(err);
        }
      },
    );
}
