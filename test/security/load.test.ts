// Load (issue #20 fault suite): autocannon against the edge's API as a logged-in script would call it (a bearer API
// token), then 16 MJPEG live views at once, on an edge whose file camera keeps decoding, detecting and recording
// meanwhile. The load generator runs in a worker thread of its own so that it does not share the server's event
// loop (on a real network it would be another machine). Budgets leave room for a loaded 2-core CI box; the figures
// are printed (LOAD_SECONDS=n runs each phase n seconds instead of 10).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { type ClientRequest, get as httpGet, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { media, tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECONDS = Number(process.env.LOAD_SECONDS ?? 10);
const CONNECTIONS = 20;
// p95 budgets. Closed-loop load at 20 connections measures how fast the box can answer: p95 is roughly 20 / its
// throughput. Measured on this 2-core box: 54-92 ms for the JSON routes and 270 ms for latest.jpg alone; up to
// 340-570 ms and 450-940 ms with one or two soaks and other suites beside it (load average 5-13), which a CI run
// with a second test file in parallel can approach; 0.6-1.1 s and 1.6 s at load average 16 (not met by design).
/** p95 of each JSON route under 20 connections. */
const P95_BUDGET_MS = 800;
/** latest.jpg encodes a JPEG in the media process for every request: its own, larger budget. */
const P95_JPEG_BUDGET_MS = 1500;
/** Frames per second each live view gets of the 4 it asks for, at least (measured 3.3-3.9; 1.9 at load 11, 1.0 at 16). */
const MIN_STREAM_FPS = 1;
const STREAMS = 16;
const STREAM_FPS = 4;

interface LoadFigures {
  path: string;
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Computed from every response time. */
  p50: number;
  p95: number;
  /** autocannon's own percentiles (its histogram has no p95). */
  p97_5: number;
  p99: number;
  max: number;
  /** The camera's analysed frames per second meanwhile. */
  cameraFps?: number;
}

// The worker: autocannon with a listener collecting every response time (for an exact p95). Off the main thread
// autocannon hands back its raw histograms (as to its own manager); aggregateResult makes the usual result of them.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const autocannon = require(workerData.autocannon);
const times = [];
const instance = autocannon(workerData.options, (err, raw) => {
  if (err) parentPort.postMessage({ error: String(err) });
  else parentPort.postMessage({ result: autocannon.aggregateResult([raw], workerData.options), times });
});
instance.on('response', (_client, _status, _bytes, ms) => times.push(ms));
`;
const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
const round = (v: number) => Math.round(v * 10) / 10;

/** One autocannon run in a worker thread. */
function cannon(url: string, path: string, headers: Record<string, string>, connections: number, seconds: number) {
  return new Promise<LoadFigures>((resolve, reject) => {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { autocannon: autocannonPath, options: { url: url + path, headers, connections, duration: seconds } },
    });
    worker.once('error', reject);
    worker.once('message', (m: { error?: string; result: Record<string, never>; times: number[] }) => {
      void worker.terminate();
      if (m.error) return reject(new Error(m.error));
      const r = m.result as unknown as {
        requests: { total: number };
        latency: { p97_5: number; p99: number; max: number };
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      const times = m.times.sort((a, b) => a - b);
      resolve({
        path,
        connections,
        seconds,
        requests: r.requests.total,
        rps: Math.round(r.requests.total / seconds),
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx,
        p50: round(percentile(times, 50)),
        p95: round(percentile(times, 95)),
        p97_5: r.latency.p97_5,
        p99: r.latency.p99,
        max: r.latency.max,
      });
    });
  });
}

/** Counts the JPEG parts of a multipart/x-mixed-replace response (each checked: its length, then FF D8). */
class MjpegCounter {
  parts = 0;
  bad = 0;
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const len = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (!head.includes('--guardianframe') || !Number.isFinite(len)) {
        this.bad++;
        this.buf = this.buf.subarray(end + 4);
        continue;
      }
      if (this.buf.length < end + 4 + len + 2) return;
      const jpeg = this.buf.subarray(end + 4, end + 4 + len);
      if (jpeg[0] === 0xff && jpeg[1] === 0xd8) this.parts++;
      else this.bad++;
      this.buf = this.buf.subarray(end + 4 + len + 2);
    }
  }
}

describe('load: the API and MJPEG under autocannon, the camera still recording and detecting', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-load-');
  let edge: Edge;
  let headers: Record<string, string>;
  let frames = 0;
  const results: LoadFigures[] = [];
  const fds = () => readdirSync('/proc/self/fd').length;
  const runtime = () => edge.ctx.media.cameras.street;

  /** Runs `load` while counting the camera's analysed frames; the camera must stay online, with no reconnect. */
  async function whileRecording<T>(load: () => Promise<T>): Promise<{ value: T; fps: number }> {
    const before = { frames, reconnects: runtime()?.reconnects ?? 0, t: performance.now() };
    const value = await load();
    const fps = (frames - before.frames) / ((performance.now() - before.t) / 1000);
    const rt = runtime();
    assert.equal(rt?.status, 'online', JSON.stringify(rt));
    assert.equal(rt?.reconnects, before.reconnects, 'the camera did not reconnect under load');
    // detectFps 5: frames keep coming (a loaded 2-core box may lose some, never most).
    assert.ok(fps >= 2.5, `${fps.toFixed(1)} analysed frames per second during the load`);
    return { value, fps: round(fps) };
  }

  before(async () => {
    edge = await startEdge(validateConfig({ dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: 0 } }), {
      log: createLogger({ level: 'silent' }),
    });
    headers = { authorization: `Bearer ${edge.ctx.auth.createApiToken('load').token}` };
    edge.ctx.media.on('frame', () => {
      frames++;
    });
    const added = await fetch(`${edge.url}/api/cameras`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'street', name: 'Street', kind: 'file', recordUrl: media.vtest, detectFps: 5 }),
    });
    assert.equal(added.status, 201, await added.text());
    const t0 = Date.now();
    while (runtime()?.status !== 'online' || frames < 10) {
      assert.ok(Date.now() - t0 < 60_000, `camera not online: ${JSON.stringify(runtime())}`);
      await sleep(200);
    }
    // Warm: every route answered once (JIT, first JPEG encoder) before anything is measured.
    for (const p of ['/api/events', '/api/status', '/api/cameras', '/api/telemetry', '/api/cameras/street/latest.jpg'])
      assert.equal((await fetch(edge.url + p, { headers })).status, 200, p);
  });
  after(async () => {
    if (results.length) console.log(`      load figures: ${JSON.stringify(results)}`);
    await edge?.stop();
    dir.remove();
  });

  for (const path of ['/api/events', '/api/status', '/api/cameras', '/api/telemetry', '/api/cameras/street/latest.jpg'])
    it(`GET ${path}: ${CONNECTIONS} connections for ${SECONDS} s, no error, p95 within budget`, async () => {
      const { value: r, fps } = await whileRecording(() => cannon(edge.url, path, headers, CONNECTIONS, SECONDS));
      results.push({ ...r, cameraFps: fps });
      assert.ok(r.requests > SECONDS * 20, `${r.requests} requests`);
      assert.deepEqual([r.errors, r.timeouts, r.non2xx], [0, 0, 0], JSON.stringify(r));
      const budget = path.endsWith('.jpg') ? P95_JPEG_BUDGET_MS : P95_BUDGET_MS;
      assert.ok(r.p95 < budget, `p95 ${r.p95} ms ≥ ${budget} ms: ${JSON.stringify(r)}`);
    });

  it(`${STREAMS} MJPEG live views at ${STREAM_FPS} fps for ${SECONDS} s: each gets its frames, the API still answers within budget, closing them frees them`, async () => {
    const fdsBefore = fds();
    const connectionsBefore = await new Promise<number>((r, j) =>
      edge.server.getConnections((e, n) => (e ? j(e) : r(n))),
    );
    // Every frame the live views ask the media process for (their JPEGs are the ones at quality 70; events'
    // snapshots and latest.jpg use others), to see that closed streams stop asking.
    let snapshots = 0;
    const mp = edge.ctx.media;
    const request = mp.request.bind(mp);
    mp.request = ((method, params, timeoutMs) => {
      if (method === 'snapshot' && (params as { quality?: number }).quality === 70) snapshots++;
      return request(method, params, timeoutMs);
    }) as typeof mp.request;
    const counters = Array.from({ length: STREAMS }, () => new MjpegCounter());
    const requests: ClientRequest[] = [];
    const responses: IncomingMessage[] = [];
    try {
      const { value: api, fps } = await whileRecording(async () => {
        await Promise.all(
          counters.map(
            (counter) =>
              new Promise<void>((resolve, reject) => {
                const req = httpGet(
                  `${edge.url}/api/cameras/street/live.mjpeg?fps=${STREAM_FPS}`,
                  { headers, agent: false },
                  (res) => {
                    assert.equal(res.statusCode, 200);
                    assert.match(String(res.headers['content-type']), /^multipart\/x-mixed-replace/);
                    responses.push(res);
                    res.on('data', (c: Buffer) => counter.push(c));
                    res.on('error', () => {});
                    resolve();
                  },
                );
                req.on('error', reject);
                requests.push(req);
              }),
          ),
        );
        const t0 = performance.now();
        // The API meanwhile, at a script's pace (4 connections).
        const status = await cannon(edge.url, '/api/status', headers, 4, SECONDS);
        return { status, seconds: (performance.now() - t0) / 1000 };
      });
      const perStream = counters.map((c) => round(c.parts / api.seconds));
      const figures = {
        streams: STREAMS,
        requestedFps: STREAM_FPS,
        seconds: round(api.seconds),
        parts: counters.reduce((s, c) => s + c.parts, 0),
        fpsMin: Math.min(...perStream),
        fpsMax: Math.max(...perStream),
        cameraFps: fps,
        statusP95: api.status.p95,
        statusRequests: api.status.requests,
      };
      console.log(`      mjpeg figures: ${JSON.stringify(figures)}`);
      assert.ok(
        counters.every((c) => c.bad === 0),
        'every part is a JPEG',
      );
      assert.ok(figures.fpsMin >= MIN_STREAM_FPS, `each stream ≥ ${MIN_STREAM_FPS} fps: ${perStream.join(' ')}`);
      assert.deepEqual([api.status.errors, api.status.timeouts, api.status.non2xx], [0, 0, 0]);
      assert.ok(api.status.p95 < P95_BUDGET_MS, `/api/status p95 ${api.status.p95} ms with the streams open`);
    } finally {
      for (const r of responses) r.destroy();
      for (const r of requests) r.destroy();
    }
    // Closed: every stream's loop ends (no snapshot asked for once the last one has finished), the sockets and
    // file descriptors are back to what they were.
    const t0 = Date.now();
    let quiet = false;
    while (Date.now() - t0 < 10_000 && !quiet) {
      const n = snapshots;
      await sleep(1500);
      quiet = snapshots === n;
    }
    mp.request = request;
    assert.ok(quiet, 'the closed streams stopped asking for frames');
    const connections = await new Promise<number>((r, j) => edge.server.getConnections((e, n) => (e ? j(e) : r(n))));
    assert.ok(connections <= connectionsBefore, `${connections} connections open (${connectionsBefore} before)`);
    const fdsAfter = fds();
    console.log(`      after closing: ${connections} connections, ${fdsAfter} fds (${fdsBefore} before)`);
    assert.ok(fdsAfter <= fdsBefore + 4, `${fdsAfter} file descriptors, ${fdsBefore} before the streams`);
  });
});
