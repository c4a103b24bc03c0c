// `guardian probe` and `guardian decode`: the media core from the command line.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { MediaError, openSource, probe, type SourceOptions } from '../../bindings/index.ts';
import { fail, printJson } from './output.ts';

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new MediaError(
        'INVALID_ARGUMENT',
        `Expected a number between ${min} and ${max} for ${name} but received "${v}"`,
      );
    return n;
  };
}

export interface DecodeSummary {
  source: string;
  codec: string;
  width: number;
  height: number;
  hwaccel: string;
  hwaccelError: string | null;
  decodedFrames: number;
  sampledFrames: number;
  droppedFrames: number;
  decodeErrors: number;
  wallSeconds: number;
  decodeFps: number;
  mediaSeconds: number | null;
}

/** Decodes a whole source (or until stopped) and summarises; used by the CLI, the bench and the demo. */
export async function decodeSource(
  source: string,
  options: SourceOptions,
  hooks: { onStart?: (duration: number | null) => void; onFrame?: (pts: number) => void; stop?: AbortSignal } = {},
): Promise<DecodeSummary> {
  const started = performance.now();
  const src = await openSource(source, options);
  const onAbort = () => void src.close();
  hooks.stop?.addEventListener('abort', onAbort);
  let lastPts: number | null = null;
  try {
    hooks.onStart?.(src.info.durationSeconds);
    for await (const frame of src) {
      lastPts = frame.pts;
      hooks.onFrame?.(frame.pts);
    }
  } finally {
    hooks.stop?.removeEventListener('abort', onAbort);
    await src.close();
  }
  const stats = src.stats();
  const wallSeconds = (performance.now() - started) / 1000;
  return {
    source: src.label,
    codec: src.info.codec,
    width: src.info.width,
    height: src.info.height,
    hwaccel: src.info.hwaccel,
    hwaccelError: src.info.hwaccelError,
    decodedFrames: stats.decoded,
    sampledFrames: stats.sampled,
    droppedFrames: stats.dropped,
    decodeErrors: stats.decodeErrors,
    wallSeconds,
    decodeFps: stats.decoded / wallSeconds,
    mediaSeconds: lastPts,
  };
}

function progressBar(enabled: boolean) {
  if (!enabled) return { start() {}, update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  return {
    start(duration: number | null) {
      total = duration ?? 0;
      bar = new cliProgress.SingleBar(
        {
          format: total
            ? 'decoding [{bar}] {percentage}% | {value}/{total} s | ETA {eta}s'
            : 'decoding {value} s of live video (Ctrl-C to stop)',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ? Math.round(total) : 0, 0);
    },
    update(pts: number) {
      bar?.update(Math.min(total || Number.POSITIVE_INFINITY, Math.round(pts)));
    },
    stop() {
      bar?.stop();
    },
  };
}

export function registerMediaCommands(program: Command): void {
  program
    .command('probe')
    .description('Open a source and print its video stream information')
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .option('--json', 'print JSON')
    .option('--transport <tcp|udp>', 'RTSP transport', 'tcp')
    .option('--timeout <ms>', 'connect and read timeout in milliseconds', number('--timeout', 1, 600000), 10000)
    .action(async (source: string, opts: { json?: boolean; transport: 'tcp' | 'udp'; timeout: number }) => {
      try {
        const info = await probe(source, {
          transport: opts.transport,
          connectTimeoutMs: opts.timeout,
          readTimeoutMs: opts.timeout,
        });
        if (opts.json) printJson(info);
        else {
          const dur = info.durationSeconds === null ? 'live' : `${info.durationSeconds.toFixed(2)} s`;
          console.log(
            `${info.codec} ${info.profile} ${info.width}x${info.height} ${info.fps.toFixed(2)} fps, ${dur}, ${info.pixelFormat}, ${Math.round(info.bitRate / 1000)} kb/s (${info.container})`,
          );
        }
      } catch (err) {
        fail(err, Boolean(opts.json));
      }
    });

  program
    .command('decode')
    .description(
      'Decode a whole source (or until Ctrl-C), producing model tensors and motion planes, and report throughput',
    )
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .option('--fps <n>', 'sampled frames per second (0 = every frame)', number('--fps', 0, 240), 5)
    .option('--size <s>', 'square model tensor size', number('--size', 16, 4096), 416)
    .option('--motion-width <w>', 'grey motion plane width', number('--motion-width', 0, 4096), 160)
    .option('--hwaccel <mode>', 'auto | vaapi | none', 'auto')
    .option('--threads <n>', 'decoder threads (0 = automatic)', number('--threads', 0, 64), 0)
    .option('--transport <tcp|udp>', 'RTSP transport', 'tcp')
    .option('--json', 'print JSON')
    .action(
      async (
        source: string,
        opts: {
          fps: number;
          size: number;
          motionWidth: number;
          hwaccel: 'auto' | 'vaapi' | 'none';
          threads: number;
          transport: 'tcp' | 'udp';
          json?: boolean;
        },
      ) => {
        const bar = progressBar(process.stderr.isTTY === true);
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.on('SIGINT', onSigint);
        try {
          const summary = await decodeSource(
            source,
            {
              fps: opts.fps,
              tensor: { size: Math.round(opts.size) },
              motionWidth: Math.round(opts.motionWidth),
              hwaccel: opts.hwaccel,
              threads: Math.round(opts.threads),
              transport: opts.transport,
            },
            { onStart: (d) => bar.start(d), onFrame: (pts) => bar.update(pts), stop: stop.signal },
          );
          bar.stop();
          if (opts.json) printJson(summary);
          else
            console.log(
              `${summary.decodedFrames} frames decoded (${summary.decodeFps.toFixed(1)} fps, ${summary.hwaccel === 'none' ? 'software' : summary.hwaccel}), ` +
                `${summary.sampledFrames} sampled, ${summary.droppedFrames} dropped, ${summary.decodeErrors} decode errors, in ${summary.wallSeconds.toFixed(2)} s`,
            );
        } catch (err) {
          bar.stop();
          fail(err, Boolean(opts.json));
        } finally {
          process.off('SIGINT', onSigint);
        }
      },
    );
}
