// `guardian probe` and `guardian decode`: the media core from the command line.
import type { Command } from 'commander';

import { openSource, probe, type SourceOptions } from '../../bindings/index.ts';
import { choiceOption, jsonOption, numberOption } from './options.ts';
import { fail, printJson, progressBar } from './output.ts';

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

export function registerMediaCommands(program: Command): void {
  program
    .command('probe')
    .description('Open a source and print its video stream information')
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .addOption(jsonOption())
    .addOption(choiceOption('--transport <tcp|udp>', 'RTSP transport', ['tcp', 'udp'], 'tcp'))
    .addOption(
      numberOption(
        '--timeout <ms>',
        'connect and read timeout',
        { min: 1, max: 600_000, integer: true, unit: 'ms' },
        10_000,
      ),
    )
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
        fail(err);
      }
    });

  program
    .command('decode')
    .description(
      'Decode a whole source (or until Ctrl-C), producing model tensors and motion planes, and report throughput',
    )
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .addOption(numberOption('--fps <n>', 'sampled frames per second (0 = every frame)', { min: 0, max: 240 }, 5))
    .addOption(numberOption('--size <s>', 'square model tensor size', { min: 16, max: 4096, integer: true }, 416))
    .addOption(
      numberOption(
        '--motion-width <w>',
        'grey motion plane width (0 = none)',
        { min: 0, max: 4096, integer: true },
        160,
      ),
    )
    .addOption(choiceOption('--hwaccel <mode>', 'hardware decoding', ['auto', 'vaapi', 'none'], 'auto'))
    .addOption(numberOption('--threads <n>', 'decoder threads (0 = automatic)', { min: 0, max: 64, integer: true }, 0))
    .addOption(choiceOption('--transport <tcp|udp>', 'RTSP transport', ['tcp', 'udp'], 'tcp'))
    .addOption(jsonOption())
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
        const bar = progressBar('decoding');
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.on('SIGINT', onSigint);
        try {
          const summary = await decodeSource(
            source,
            {
              fps: opts.fps,
              tensor: { size: opts.size },
              motionWidth: opts.motionWidth,
              hwaccel: opts.hwaccel,
              threads: opts.threads,
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
          fail(err);
        } finally {
          process.off('SIGINT', onSigint);
        }
      },
    );
}
