// `guardian tamper FILE`: runs the edge's tamper detector (src/edge/detect/tamper.ts) over a file, on the same grey
// plane the media process gives it live, and lists the covered / dark / defocused / moved / frozen intervals.
import type { Command } from 'commander';

import { openSource } from '../../bindings/index.ts';
import { type TamperChange, TamperDetector, type TamperKind } from '../edge/detect/tamper.ts';
import { jsonOption, numberOption } from './options.ts';
import { fail, printJson, progressBar } from './output.ts';

export interface TamperInterval {
  kind: TamperKind;
  /** Seconds of the file: when the condition began and when the picture was back. */
  startS: number;
  endS: number;
}

export interface TamperScan {
  source: string;
  events: TamperInterval[];
  frames: number;
  /** Seconds of the file analysed. */
  seconds: number;
  /** The detector's own time per frame (decoding not included): median and 95th percentile. */
  msPerFrame: { p50: number; p95: number };
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], p: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) : 0;
}

/** Decodes `source` at `fps` and runs one TamperDetector over its frames; times are seconds from the first frame. */
export async function scanTamper(
  source: string,
  options: { fps: number },
  hooks: { onStart?: (duration: number | null) => void; onFrame?: (seconds: number) => void } = {},
): Promise<TamperScan> {
  const src = await openSource(source, { fps: options.fps, motionWidth: 160 });
  const detector = new TamperDetector();
  const open = new Map<TamperKind, number>();
  const events: TamperInterval[] = [];
  const ms: number[] = [];
  const apply = (changes: TamperChange[]) => {
    for (const c of changes) {
      if (c.state === 'start') open.set(c.kind, c.atS);
      else {
        events.push({ kind: c.kind, startS: round(open.get(c.kind) ?? c.atS), endS: round(c.atS) });
        open.delete(c.kind);
      }
    }
  };
  let first: number | undefined;
  let last = 0;
  let frames = 0;
  try {
    hooks.onStart?.(src.info.durationSeconds);
    for await (const frame of src) {
      if (!frame.motion) continue;
      first ??= frame.pts;
      last = frame.pts - first;
      const t0 = performance.now();
      const changes = detector.update(frame.motion, last);
      ms.push(performance.now() - t0);
      frames++;
      apply(changes);
      hooks.onFrame?.(last);
    }
  } finally {
    await src.close();
  }
  // Still going at the end of the file: it ends with the file.
  apply(detector.finish(last));
  events.sort((a, b) => a.startS - b.startS);
  ms.sort((a, b) => a - b);
  return {
    source: src.label,
    events,
    frames,
    seconds: round(last),
    msPerFrame: { p50: round(percentile(ms, 0.5), 3), p95: round(percentile(ms, 0.95), 3) },
  };
}

export function registerTamperCommand(program: Command): void {
  program
    .command('tamper')
    .description('Find when a recording shows a covered, dark, defocused, re-aimed (moved) or frozen camera')
    .argument('<file>', 'video file (or any source the media core opens)')
    .addOption(numberOption('--fps <n>', 'frames per second analysed', { min: 1, max: 15 }, 5))
    .addOption(jsonOption())
    .action(async (file: string, opts: { fps: number; json?: boolean }) => {
      const bar = progressBar('checking');
      try {
        const scan = await scanTamper(file, { fps: opts.fps }, { onStart: bar.start, onFrame: bar.update });
        bar.stop();
        if (opts.json) return printJson(scan);
        const n = scan.events.length;
        console.log(
          `${scan.source}: ${scan.seconds} s analysed (${scan.frames} frames, ${scan.msPerFrame.p50} ms each): ` +
            (n ? `${n} tamper event${n === 1 ? '' : 's'}` : 'no tampering found'),
        );
        for (const e of scan.events)
          console.log(
            `  ${e.kind.padEnd(9)} ${e.startS.toFixed(1)} s – ${e.endS.toFixed(1)} s (${(e.endS - e.startS).toFixed(1)} s)`,
          );
      } catch (err) {
        bar.stop();
        fail(err);
      }
    });
}
