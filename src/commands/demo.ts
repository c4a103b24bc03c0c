// `guardian demo`: until the full edge exists, runs the media core on the shared sample video with progress.
import { existsSync } from 'node:fs';

import type { Command } from 'commander';

import { openSource } from '../../bindings/index.ts';
import { sharedPath } from '../shared/paths.ts';
import { fail } from './output.ts';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run Guardian on its built-in sample video (../shared/media/vtest.mp4)')
    .option('--source <path>', 'video to use instead of the sample')
    .option('--realtime', 'play the video at its own speed, like a camera')
    .action(async (opts: { source?: string; realtime?: boolean }) => {
      const source = opts.source ?? sharedPath('media', 'vtest.mp4');
      if (!existsSync(source)) fail(new Error(`sample video not found at ${source} (set GUARDIAN_SHARED)`), false);
      try {
        const src = await openSource(source, {
          fps: 5,
          motionWidth: 160,
          tensor: { size: 416 },
          realtime: Boolean(opts.realtime),
        });
        const { info } = src;
        console.log(
          `Guardian demo: ${src.label}\n  ${info.codec} ${info.width}x${info.height} @ ${info.fps} fps, ${info.durationSeconds ?? '?'} s, decoder: ${info.hwaccel === 'none' ? 'software' : info.hwaccel}`,
        );
        let lastMotion = 0;
        let last = 0;
        for await (const frame of src) {
          // A simple activity figure from the grey plane, to show frames really flow.
          const m = frame.motion?.data;
          let mean = 0;
          if (m) {
            for (let i = 0; i < m.length; i += 7) mean += m[i] ?? 0;
            mean /= m.length / 7;
          }
          const change = Math.abs(mean - lastMotion);
          lastMotion = mean;
          const now = performance.now();
          if (now - last > 250 || frame.pts >= (info.durationSeconds ?? Number.POSITIVE_INFINITY) - 0.2) {
            last = now;
            const pct = info.durationSeconds ? Math.min(100, (100 * frame.pts) / info.durationSeconds) : 0;
            const width = 30;
            const filled = Math.round((pct / 100) * width);
            process.stdout.write(
              `\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}%  t=${frame.pts.toFixed(1)}s  frames=${frame.counters.decoded}  sampled=${frame.counters.sampled}  brightness=${mean.toFixed(0)} Δ${change.toFixed(1)}  `,
            );
          }
        }
        const s = src.stats();
        process.stdout.write(
          `\n  done: ${s.decoded} frames decoded, ${s.sampled} sampled at 5 fps, ${s.dropped} dropped\n`,
        );
        await src.close();
      } catch (err) {
        fail(err, false);
      }
    });
}
