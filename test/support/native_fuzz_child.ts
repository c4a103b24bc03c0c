// The sanitizer process of test/security/native-fuzz.test.ts: runs with the ASan/UBSan addon (GUARDIAN_NATIVE) and
// LD_PRELOAD of the sanitizer runtimes, feeds each hostile input through the media core's real entry points and prints
// one line per input: `FUZZ-START <name>` before, `FUZZ-RESULT <json>` after. A sanitizer report ends the process
// (halt_on_error, -fno-sanitize-recover), so the parent knows which input did it from the last START.
// Usage: node --import tsx native_fuzz_child.ts <jobs.json>
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { exportClip, GuardianError, isErrorCode, type MediaSource, openSource, probe } from '../../bindings/index.ts';

export type FuzzOp = 'probe' | 'open' | 'loop' | 'record' | 'clip';

export interface FuzzJob {
  name: string;
  op: FuzzOp;
  /** A file path or an rtsp:// URL. */
  url: string;
  /** Scratch directory of this job (recordings, clips). */
  work: string;
  /** clip: the inputs, this one among clean segments. */
  inputs?: string[];
  timeoutMs: number;
}

export interface FuzzResult {
  name: string;
  op: FuzzOp;
  /** frames: it produced frames (segments, a clip), whatever came after; info: probe answered; error: a
   * GuardianError with a known code and no frames; empty: it ended cleanly with nothing; invalid: anything else (a
   * bug); hang: it did not settle within timeoutMs. */
  outcome: 'frames' | 'info' | 'error' | 'empty' | 'invalid' | 'hang';
  code?: string;
  message?: string;
  frames: number;
  ms: number;
}

const live = (url: string) => url.startsWith('rtsp://');
const timeouts = (url: string) => (live(url) ? { connectTimeoutMs: 2000, readTimeoutMs: 1500 } : {});

/** A rejection: a GuardianError with a code from bindings/errors.ts, or a bug. */
function classify(err: unknown): { outcome: 'error' | 'invalid'; code?: string; message: string } {
  if (err instanceof GuardianError && isErrorCode(err.code))
    return { outcome: 'error', code: err.code, message: err.message };
  return { outcome: 'invalid', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

/** Reads every frame; on some, also a JPEG snapshot and a crop tensor (jpeg.cc, the crop worker). */
async function readAll(src: MediaSource, counter: { frames: number }): Promise<void> {
  for (;;) {
    const frame = await src.read();
    if (!frame) return;
    counter.frames++;
    if (frame.tensor && frame.tensor.data.length !== frame.tensor.size * frame.tensor.size * 3)
      throw new Error(`tensor of ${frame.tensor.data.length} values for size ${frame.tensor.size}`);
    if (frame.motion && frame.motion.data.length !== frame.motion.width * frame.motion.height)
      throw new Error(
        `motion plane of ${frame.motion.data.length} bytes for ${frame.motion.width}x${frame.motion.height}`,
      );
    if (counter.frames % 8 === 1) {
      // The frame may have left the snapshot ring already (NO_FRAME): any GuardianError is an answer.
      const extras = [
        src.snapshot({ index: frame.index, width: counter.frames % 16 === 1 ? 0 : 97 }),
        src.cropTensor(frame.index, {
          x: Math.floor(frame.width / 3),
          y: Math.floor(frame.height / 3),
          width: Math.max(2, Math.floor(frame.width / 2)),
          height: Math.max(2, Math.floor(frame.height / 2)),
        }),
      ];
      for (const r of await Promise.allSettled(extras))
        if (r.status === 'rejected' && classify(r.reason).outcome === 'invalid') throw r.reason;
    }
  }
}

async function run(job: FuzzJob, counter: { frames: number }, index: number): Promise<'info' | undefined> {
  if (job.op === 'probe') {
    await probe(job.url, timeouts(job.url));
    return 'info';
  }
  if (job.op === 'clip') {
    const clip = await exportClip({
      inputs: job.inputs ?? [job.url],
      start: 0.5 + (index % 4),
      end: 6,
      output: join(job.work, 'clip.mp4'),
    });
    counter.frames = clip.frames;
    return;
  }
  const record = job.op === 'record';
  const loop = job.op === 'loop';
  const src = await openSource(job.url, {
    ...timeouts(job.url),
    loop,
    hwaccel: 'none',
    threads: 1,
    ...(record
      ? {
          decode: false,
          record: { dir: join(job.work, 'rec'), camera: 'fuzz', segmentSeconds: 1 },
          onRecord: (e) => {
            if (e.type === 'segment') counter.frames++;
          },
        }
      : { tensor: { size: 96, layout: index % 2 ? 'nhwc-uint8' : 'nchw-float32' }, motionWidth: 64 }),
    snapshotFrames: 2,
  });
  // A looping file is read for three passes (closing it ends the reads), and for a second at least when it has
  // given no frame yet (a frame of the last pass may still be in conversion).
  const opened = performance.now();
  const enough = () => src.stats().loops >= 3 && (counter.frames > 0 || performance.now() - opened > 1000);
  const watch = loop ? setInterval(() => enough() && void src.close(), 20) : undefined;
  try {
    await readAll(src, counter);
  } finally {
    clearInterval(watch);
    await src.close();
  }
}

const jobs = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as FuzzJob[];
for (const [index, job] of jobs.entries()) {
  console.log(`FUZZ-START ${job.name}`);
  mkdirSync(job.work, { recursive: true });
  const started = performance.now();
  const counter = { frames: 0 };
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), job.timeoutMs);
  });
  const settled = await Promise.race([
    run(job, counter, index).then(
      (info) => ({ outcome: info ?? (counter.frames > 0 ? ('frames' as const) : ('empty' as const)) }),
      (err: unknown) => {
        const c = classify(err);
        // Frames then an error (a truncated file: CORRUPT_DATA after its decodable frames) counts as frames.
        return c.outcome === 'error' && counter.frames > 0 ? { ...c, outcome: 'frames' as const } : c;
      },
    ),
    hang.then(() => ({ outcome: 'hang' as const })),
  ]);
  clearTimeout(timer);
  const result: FuzzResult = {
    name: job.name,
    op: job.op,
    frames: counter.frames,
    ms: Math.round(performance.now() - started),
    ...settled,
  };
  console.log(`FUZZ-RESULT ${JSON.stringify(result)}`);
  rmSync(job.work, { recursive: true, force: true });
  // A source that never settled still has a native thread: stop here rather than wait on it.
  if (result.outcome === 'hang') process.exit(3);
}
const cpu = process.cpuUsage();
console.log(`FUZZ-DONE ${JSON.stringify({ cpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10 })}`);
