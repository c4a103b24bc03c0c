// `guardian train cae`: the convolutional autoencoder anomaly model trained from normal footage or a labelled
// dataset, by the same PyTorch worker the owner's server runs (src/vm/training/cae-trainer.ts). The model dir it
// writes is what `guardian anomaly eval --model` and the edge accept.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { type TrainProgress, trainCae } from '../vm/training/cae-trainer.ts';
import { jsonOption, numberOption } from './options.ts';
import { fail, printJson } from './output.ts';

export function registerTrainCommands(program: Command): void {
  const train = program.command('train').description('Train anomaly models (PyTorch, exported to ONNX)');
  train
    .command('cae')
    .description(
      'Train the convolutional autoencoder on normal frames; the threshold is the 99th percentile of held-out normal frames',
    )
    .requiredOption(
      '--dataset <path>',
      'folder of normal *.mp4 clips or images, or a dataset ZIP exported by the edge (its "normal" items)',
    )
    .requiredOption('--out <dir>', 'model directory to write (new, or a model to replace)')
    .addOption(
      numberOption(
        '--epochs <n>',
        'most epochs (training stops early when held-out loss stalls)',
        { min: 1, max: 1000, integer: true },
        30,
      ),
    )
    .option('--camera <id>', "with a dataset ZIP: only this camera's images")
    .addOption(
      numberOption('--max-frames <n>', 'use at most this many frames, evenly spaced (quick runs)', {
        min: 1,
        max: 1_000_000,
        integer: true,
      }),
    )
    .addOption(
      numberOption('--threads <n>', 'PyTorch threads (default: every core)', { min: 1, max: 64, integer: true }),
    )
    .addOption(jsonOption())
    .action(
      async (opts: {
        dataset: string;
        out: string;
        epochs: number;
        camera?: string;
        maxFrames?: number;
        threads?: number;
        json?: boolean;
      }) => {
        const tty = process.stderr.isTTY === true && !opts.json;
        let bar: cliProgress.SingleBar | undefined;
        let stage: TrainProgress['stage'] | undefined;
        const onProgress = (p: TrainProgress) => {
          if (!tty) {
            if (p.stage === 'training' && !opts.json)
              console.error(
                `epoch ${p.done}/${p.total}: loss ${p.loss?.toFixed(5)}, held-out ${p.valLoss?.toFixed(5)} (${p.epochSeconds} s)`,
              );
            return;
          }
          if (p.stage !== stage) {
            bar?.stop();
            stage = p.stage;
            bar = new cliProgress.SingleBar(
              {
                format:
                  p.stage === 'decoding'
                    ? 'decoding {value} frames'
                    : 'training [{bar}] epoch {value}/{total} | loss {loss} | held-out {val} | ETA {eta}s',
                stream: process.stderr,
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(p.total, 0, { loss: '-', val: '-' });
          }
          bar?.update(p.done, { loss: p.loss?.toFixed(5) ?? '-', val: p.valLoss?.toFixed(5) ?? '-' });
        };
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const m = await trainCae(
            {
              dataset: opts.dataset,
              out: opts.out,
              epochs: opts.epochs,
              signal: abort.signal,
              ...(opts.camera ? { cameraId: opts.camera } : {}),
              ...(opts.maxFrames ? { maxFrames: opts.maxFrames } : {}),
              ...(opts.threads ? { threads: opts.threads } : {}),
            },
            onProgress,
          );
          bar?.stop();
          if (opts.json) return printJson({ dir: opts.out, ...m });
          const t = m.training;
          console.log(
            `${opts.out}: ${m.kind} v${m.version}, ${t.parameters.toLocaleString('en')} parameters, trained on ${t.trainFrames} frames ` +
              `(${t.heldOutFrames} held out) for ${t.epochs} epochs (best ${t.bestEpoch}, held-out loss ${t.valLoss.toFixed(5)}), ` +
              `${t.secondsPerEpoch} s per epoch; threshold ${m.threshold.toPrecision(4)}`,
          );
        } catch (err) {
          bar?.stop();
          fail(err);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      },
    );
}
