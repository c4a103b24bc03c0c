// Edge benchmark: detection-to-event latency on the demo camera, and event-list API latency with 10,000 events,
// against the same server's health endpoint (the HTTP stack's own cost) measured in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startEdge } from '../src/edge/runtime.ts';
import { CONSOLE } from '../src/edge/web/auth.ts';
import { validateConfig } from '../src/shared/config.ts';
import { createLogger } from '../src/shared/log.ts';
import { sharedPath } from '../src/shared/paths.ts';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
};

export async function benchEdge(progress: (m: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-edge-'));
  process.env.GUARDIAN_LOG_LEVEL = 'error';
  const config = validateConfig({
    dataDir: dir,
    http: { host: '127.0.0.1', port: 0 },
    recording: { minFreeBytes: 0, minFreeMinutes: 0 },
  });
  const edge = await startEdge(config, { log: createLogger({ level: 'error' }) });
  try {
    await edge.ctx.auth.setup('bench-password-123', CONSOLE);
    const { session } = await edge.ctx.auth.login('admin', 'bench-password-123', 'bench');
    const headers = { cookie: `guardian_session=${session}` };
    edge.ctx.registry.add({
      id: 'bench',
      name: 'Bench',
      kind: 'file',
      recordUrl: sharedPath('media', 'vtest.mp4'),
      detectFps: 5,
    });
    await new Promise<void>((r) => (edge.ctx.media.ready ? r() : edge.ctx.media.once('ready', () => r())));
    await edge.ctx.reloadCamera('bench');
    for (let s = 40; s > 0; s -= 5) {
      progress(`edge: detection-to-event latency, ${s} s left`);
      await new Promise((r) => setTimeout(r, 5000));
    }
    const latencies = [...edge.generator.startLatenciesMs];

    progress('edge: inserting 10,000 events');
    const db = edge.ctx.db;
    const labels = ['person', 'car', 'truck', 'dog'];
    db.transaction(() => {
      for (let i = 0; i < 10_000; i++)
        edge.ctx.events.create({
          cameraId: `cam${i % 8}`,
          trackId: i,
          label: labels[i % 4] as string,
          labels: [labels[i % 4] as string],
          zones: [],
          startMs: Date.now() - i * 60_000,
          endMs: Date.now() - i * 60_000 + 20_000,
          maxScore: 0.9,
          meanScore: 0.8,
          detections: 40,
          boxPath: Array.from({ length: 40 }, (_, k) => [k, 10, 10, 50, 90]) as never,
          snapshot: null,
          thumbnail: null,
          clip: null,
        });
    })();
    const time = async (path: string, n = 200) => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const res = await fetch(`${edge.url}${path}`, { headers });
        await res.arrayBuffer();
        xs.push(performance.now() - t);
      }
      return { p50: pct(xs, 50), p95: pct(xs, 95) };
    };
    progress('edge: API latency');
    const health = await time('/api/health');
    const list = await time('/api/events?limit=50');
    const filtered = await time('/api/events?limit=50&camera=cam3&label=truck');
    const page = (await (await fetch(`${edge.url}/api/events?limit=500`, { headers })).json()) as {
      nextCursor: string;
    };
    const deep = await time(`/api/events?limit=50&cursor=${page.nextCursor}`);
    return {
      detectionToEventMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), events: latencies.length },
      eventListApiMs: {
        events: edge.ctx.events.count(),
        healthReference: health,
        list50: list,
        filteredByCameraAndLabel: filtered,
        afterCursor500: deep,
        list50OverHealthP50: Math.round((list.p50 / health.p50) * 100) / 100,
      },
    };
  } finally {
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
