// Accelerated soak (issue #20 fault suite): `npm run soak -- [--json] [--demo-minutes 60] [--sample-seconds 2]`.
// An edge with one file camera on the sample video played as fast as decoding and detection take it
// (camera option `realtime: false`: every sampled frame analysed at 5 fps of video time, looped, recorded), a live
// view (MJPEG) open and a dashboard's polling of the API the whole time, until the camera has shown `demo-minutes`
// of video. The RSS of the main process and of the media process is sampled as it goes; flat means, after a
// warm-up, a least-squares slope within a few MB per 10 minutes of demo time and no peak far above the warm value.
// test/security/soak.test.ts runs a short one (10 demo minutes) and asserts the same.

import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Edge, startEdge } from '../src/edge/runtime.ts';
import { validateConfig } from '../src/shared/config.ts';
import { createLogger } from '../src/shared/log.ts';
import { sharedPath } from '../src/shared/paths.ts';

export interface SoakOptions {
  /** Minutes of video the camera shows (demo time). */
  demoMinutes: number;
  /** Wall-clock seconds between RSS samples. */
  sampleSeconds?: number;
  /** Demo minutes not fitted (JIT, caches, the database's first pages); default a fifth, at least 2. */
  warmupMinutes?: number;
  /** Gives up after this many wall-clock seconds (the soak then reports what it reached). */
  maxWallSeconds?: number;
  progress?: (message: string) => void;
  /** Count the log's warnings and errors without printing them (tests). */
  quiet?: boolean;
  /** How many extra pollers run without pause during the warm-up (default 8). */
  warmupPollers?: number;
  /** false: no API polling and no live view (to tell what the HTTP side costs from what the pipeline does). */
  dashboard?: boolean;
  /** Called with the edge once it has started (diagnostics: e.g. to change a pragma and see what RSS does). */
  onEdge?: (edge: Edge) => void;
}

export interface RssFigures {
  /** After the warm-up: the warm value (median of the first ten samples), the last sample and the largest, in MB. */
  warmMb: number;
  endMb: number;
  maxMb: number;
  /** Of the samples after the warm-up: least-squares slope per 10 minutes of demo time, in MB. */
  slopeMbPer10DemoMin: number;
  /** maxMb - warmMb. */
  peakOverWarmMb: number;
  /** The very first sample (before the warm-up), in MB. */
  startMb: number;
}

export interface SoakFigures {
  demoMinutes: number;
  wallSeconds: number;
  /** Demo time per wall-clock time. */
  speedup: number;
  framesAnalysed: number;
  framesDetected: number;
  events: number;
  /** The database (with its WAL) at the end: SQLite's page cache in the main process grows with it, to 4 MB. */
  databaseMb: number;
  segmentsRecorded: number;
  apiRequests: number;
  apiFailures: number;
  /** The first few failed requests (path: status). */
  failures: string[];
  mjpegParts: number;
  mediaRestarts: number;
  cameraReconnects: number;
  /** Lines the main process logged at warn and at error level or above. */
  logWarnings: number;
  logErrors: number;
  samples: number;
  warmupMinutes: number;
  main: RssFigures;
  media: RssFigures;
  /** The main process's JS heap in use after a full collection (what JS keeps), same figures. */
  mainHeap: RssFigures;
  /**
   * The main process's RSS split as the kernel counts it: anonymous memory (heaps, V8, malloc) and file pages
   * (code and data of node, its libraries and the models, paged in as code paths first run; they level off).
   */
  mainAnon: RssFigures;
  mainFile: RssFigures;
  /**
   * glibc malloc in the main process (mallinfo2, every arena): bytes in use (what native code holds: SQLite,
   * node's own) and bytes free but kept (fragmentation). Which of them grows tells a leak from a high-water mark.
   */
  mallocInUse: RssFigures;
  mallocFree: RssFigures;
  /** Node's external memory (Buffers and ArrayBuffers JS still references), after a full collection. */
  mainExternal: RssFigures;
  /** [demo minutes, main MB, media MB, main heap MB, main anonymous MB, main file MB, malloc in use MB, malloc free MB, external MB] of every sample. */
  series: number[][];
}

const MB = 1024 * 1024;
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VmRSS of a process, in bytes (null once it has gone). */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** RssAnon and RssFile (+ RssShmem) of a process, in bytes. */
export function rssPartsOf(pid: number): { anon: number; file: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
  } catch {
    return null;
  }
}

/** glibc's mallinfo2() through koffi (a dependency already), or undefined on another libc. */
function mallocStats(): (() => { inUse: number; free: number }) | undefined {
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    const fields = [
      'arena',
      'ordblks',
      'smblks',
      'hblks',
      'hblkhd',
      'usmblks',
      'fsmblks',
      'uordblks',
      'fordblks',
      'keepcost',
    ];
    const info = koffi.struct('mallinfo2', Object.fromEntries(fields.map((f) => [f, 'size_t'])));
    const mallinfo2 = libc.func('mallinfo2', info, []);
    return () => {
      const m = mallinfo2() as Record<string, number>;
      return { inUse: Number(m.uordblks) + Number(m.hblkhd), free: Number(m.fordblks) };
    };
  } catch {
    return undefined;
  }
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

function rssFigures(series: [number, number][], warmupMinutes: number): RssFigures {
  const after = series.filter(([t]) => t >= warmupMinutes);
  const used = after.length >= 3 ? after : series;
  // The warm value: the median of the first ten samples after the warm-up (one sample can be 15 MB off).
  const firsts = used
    .slice(0, 10)
    .map(([, v]) => v)
    .sort((a, b) => a - b);
  const warm = firsts[Math.floor(firsts.length / 2)] ?? 0;
  const max = Math.max(...used.map(([, v]) => v));
  return {
    startMb: round(series[0]?.[1] ?? 0),
    warmMb: round(warm),
    endMb: round(used[used.length - 1]?.[1] ?? 0),
    maxMb: round(max),
    slopeMbPer10DemoMin: round(slope(used) * 10, 2),
    peakOverWarmMb: round(max - warm),
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakFigures> {
  const progress = options.progress ?? (() => {});
  const sampleMs = (options.sampleSeconds ?? 2) * 1000;
  const warmupMinutes = options.warmupMinutes ?? Math.max(2, options.demoMinutes / 5);
  const dir = mkdtempSync(join(tmpdir(), 'guardian-soak-'));
  // The media process inherits the level (read when it starts): warnings and errors, or errors only when quiet.
  const level = process.env.GUARDIAN_LOG_LEVEL;
  process.env.GUARDIAN_LOG_LEVEL = options.quiet ? 'error' : (level ?? 'warn');
  const logged = { warnings: 0, errors: 0 };
  const log = createLogger({
    level: 'warn',
    destination: {
      write(line: string) {
        if (/"level":40/.test(line)) logged.warnings++;
        else logged.errors++;
        if (!options.quiet) process.stderr.write(line);
      },
    },
  });
  let edge: Edge;
  try {
    edge = await startEdge(validateConfig({ dataDir: join(dir, 'data'), http: { host: '127.0.0.1', port: 0 } }), {
      log,
    });
  } finally {
    if (level === undefined) delete process.env.GUARDIAN_LOG_LEVEL;
    else process.env.GUARDIAN_LOG_LEVEL = level;
  }
  options.onEdge?.(edge);
  const stops: (() => void)[] = [];
  try {
    const headers = { authorization: `Bearer ${edge.ctx.auth.createApiToken('soak').token}` };
    let analysed = 0;
    let detected = 0;
    let demoSeconds = 0;
    let segments = 0;
    edge.ctx.media.on('frame', (m: { detected: boolean; frame: { pts: number } }) => {
      analysed++;
      if (m.detected) detected++;
      demoSeconds = Math.max(demoSeconds, m.frame.pts);
    });
    edge.ctx.media.on('recording', (m: { event?: { type?: string } }) => {
      if (m.event?.type === 'segment') segments++;
    });
    const added = await fetch(`${edge.url}/api/cameras`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'soak',
        name: 'Soak',
        kind: 'file',
        recordUrl: sharedPath('media', 'vtest.mp4'),
        detectFps: 5,
        options: { realtime: false },
      }),
    });
    if (added.status !== 201) throw new Error(`adding the camera: ${added.status} ${await added.text()}`);
    // The dashboard opens once the camera shows its first frame (before that the media process may be starting).
    for (const t = performance.now(); analysed === 0; await sleep(100))
      if (performance.now() - t > 60_000) throw new Error('the camera showed no frame within 60 s');

    // A dashboard left open: the API polled every second, one live view. During the warm-up (its first minute at
    // most) the same requests also run 8 at a time without pause, so that what the HTTP side holds at its busiest
    // (V8's young generation, the allocator's high-water mark) is reached before the fit starts. (The creep over the
    // first hour that older runs showed was SQLite's page cache filling: capped in src/shared/db.ts.)
    const paths = [
      '/api/status',
      '/api/events?limit=50',
      '/api/cameras',
      '/api/telemetry',
      '/api/cameras/soak/latest.jpg',
    ];
    // The dashboard runs in a process of its own (bench/soak-client.ts): the HTTP client's memory is not the edge's.
    type ClientReport = { requests: number; failures: string[]; mjpegParts: number };
    const client =
      options.dashboard === false
        ? undefined
        : fork(join(dirname(fileURLToPath(import.meta.url)), 'soak-client.ts'), [], {
            execArgv: ['--import', 'tsx'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
    const report = new Promise<ClientReport>((resolve) => {
      if (!client) return resolve({ requests: 0, failures: [], mjpegParts: 0 });
      client.once('message', (m) => resolve(m as ClientReport));
      client.once('exit', () => resolve({ requests: 0, failures: ['the dashboard process exited'], mjpegParts: 0 }));
    });
    client?.send({
      start: {
        url: edge.url,
        token: headers.authorization.slice('Bearer '.length),
        burst: options.warmupPollers ?? 8,
        paths,
        mjpeg: '/api/cameras/soak/live.mjpeg?fps=4',
      },
    });
    const burstUntil = performance.now() + 60_000;
    let warm = true;
    stops.push(() => client?.kill());

    const series: number[][] = [];
    const malloc = mallocStats();
    const t0 = performance.now();
    const maxWallMs = (options.maxWallSeconds ?? Number.POSITIVE_INFINITY) * 1000;
    let next = t0;
    while (demoSeconds < options.demoMinutes * 60 && performance.now() - t0 < maxWallMs) {
      next += sampleMs;
      await sleep(Math.max(0, next - performance.now()));
      const pid = edge.ctx.media.pid;
      const media = pid ? rssOf(pid) : null;
      // The main process after a full collection (with --expose-gc): what is still referenced, not garbage not yet
      // collected. The media process collects on its own.
      (globalThis as { gc?: () => void }).gc?.();
      const main = rssOf(process.pid);
      const parts = rssPartsOf(process.pid);
      const heapOfC = malloc?.();
      if (demoSeconds > 0 && media && main && parts)
        series.push([
          round(demoSeconds / 60, 3),
          round(main / MB),
          round(media / MB),
          round(process.memoryUsage().heapUsed / MB),
          round(parts.anon / MB),
          round(parts.file / MB),
          round((heapOfC?.inUse ?? 0) / MB),
          round((heapOfC?.free ?? 0) / MB),
          round(process.memoryUsage().external / MB),
        ]);
      if (warm && (demoSeconds >= warmupMinutes * 60 || performance.now() > burstUntil)) {
        warm = false;
        client?.send({ warm: false });
      }
      progress(
        `soak: ${round(demoSeconds / 60)} of ${options.demoMinutes} demo minutes, main ${round((main ?? 0) / MB)} MB, media ${round((media ?? 0) / MB)} MB`,
      );
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const column = (i: number) => series.map((r) => [r[0] ?? 0, r[i] ?? 0] as [number, number]);
    const runtime = edge.ctx.media.cameras.soak;
    const events = edge.ctx.db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    const db = ['', '-wal'].reduce(
      (n, x) => n + (statSync(join(dir, 'data', `guardian.db${x}`), { throwIfNoEntry: false })?.size ?? 0),
      0,
    );
    client?.send({ stop: true });
    const dashboard = await report;
    return {
      demoMinutes: round(demoSeconds / 60),
      wallSeconds: round(wallSeconds),
      speedup: round(demoSeconds / wallSeconds),
      framesAnalysed: analysed,
      framesDetected: detected,
      events,
      databaseMb: round(db / MB),
      segmentsRecorded: segments,
      apiRequests: dashboard.requests,
      apiFailures: dashboard.failures.length,
      failures: dashboard.failures.slice(0, 10),
      mjpegParts: dashboard.mjpegParts,
      mediaRestarts: edge.ctx.media.restarts,
      cameraReconnects: runtime?.reconnects ?? -1,
      logWarnings: logged.warnings,
      logErrors: logged.errors,
      samples: series.length,
      warmupMinutes: round(warmupMinutes),
      main: rssFigures(column(1), warmupMinutes),
      media: rssFigures(column(2), warmupMinutes),
      mainHeap: rssFigures(column(3), warmupMinutes),
      mainAnon: rssFigures(column(4), warmupMinutes),
      mainFile: rssFigures(column(5), warmupMinutes),
      mallocInUse: rssFigures(column(6), warmupMinutes),
      mallocFree: rssFigures(column(7), warmupMinutes),
      mainExternal: rssFigures(column(8), warmupMinutes),
      series,
    };
  } finally {
    for (const stop of stops) stop();
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `npm run soak`: exit status 1 when either process is not flat.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const arg = (name: string) => {
    const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const a = args[i] as string;
    return a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1];
  };
  const demoMinutes = Number(arg('--demo-minutes') ?? 60);
  const sampleSeconds = Number(arg('--sample-seconds') ?? 2);
  if (!(demoMinutes > 0) || !(sampleSeconds > 0)) {
    console.error('usage: npm run soak -- [--json] [--demo-minutes 60] [--sample-seconds 2]');
    process.exit(2);
  }
  const figures = await runSoak({
    demoMinutes,
    sampleSeconds,
    progress: (m) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[soak] ${m}`);
      else if (!json) process.stderr.write(`[soak] ${m}\n`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  // Flat: after the warm-up, under 2 MB per 10 demo minutes and no sample 30 MB above the warm value (the media
  // process's RSS moves by up to 20 MB between samples: ONNX Runtime's and V8's own collections).
  const flat = (r: RssFigures) => r.slopeMbPer10DemoMin < 2 && r.peakOverWarmMb < 30;
  const verdict = { flat: { main: flat(figures.main), media: flat(figures.media) } };
  const { series, ...summary } = figures;
  console.log(json ? JSON.stringify({ ...figures, ...verdict }) : JSON.stringify({ ...summary, ...verdict }, null, 2));
  process.exit(verdict.flat.main && verdict.flat.media ? 0 : 1);
}
