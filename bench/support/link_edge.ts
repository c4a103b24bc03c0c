// The edge half of the `link` benchmark, run inside the edge's network namespace: a paired LinkClient over its own
// outbox; it makes events one at a time and reports, for each, the time from being queued to the VM's
// acknowledgement; then it keeps serving clip requests (every event's clip is the given file) and, asked, uploads
// archive objects, until stdin closes.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { LinkClient } from '../../src/edge/link/client.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';

const [dataDir, iface, clipPath, countText] = process.argv.slice(2) as [string, string, string, string];
const db = openEdgeDatabase(join(dataDir, 'guardian.db'));
const outbox = new Outbox(db);
const events = new EventStore(db, outbox);
const queuedAt = new Map<number, number>();
const latencies: number[] = [];
const ack = outbox.ack.bind(outbox);
outbox.ack = (id: number) => {
  const t0 = queuedAt.get(id);
  if (t0 !== undefined) latencies.push(performance.now() - t0);
  ack(id);
};
const link = new LinkClient(
  {
    dataDir,
    interfaceName: iface,
    heartbeatSeconds: 5,
    telemetrySeconds: 60,
    backoff: { initialMs: 200, maxMs: 2000 },
  },
  {
    outbox,
    log: createLogger({ level: 'warn' }),
    hello: () => ({ version: 'bench', cameras: [] }),
    telemetry: () => ({
      timeMs: Date.now(),
      cpuPercent: 0,
      memoryPercent: 0,
      diskPercent: 0,
      outboxLength: 0,
      uptimeSeconds: 0,
      cameras: [],
    }),
    clipFile: async () => clipPath,
  },
);
await link.start();
while (!link.state.connected) await new Promise((r) => setTimeout(r, 50));

const ids: string[] = [];
for (let i = 0; i < Number(countText); i++) {
  const before = latencies.length;
  const ev = events.create({
    cameraId: 'bench',
    trackId: i,
    label: 'person',
    labels: ['person'],
    zones: [],
    startMs: Date.now(),
    endMs: null,
    maxScore: 0.9,
    meanScore: 0.9,
    detections: 1,
    boxPath: [[Date.now(), 1, 2, 3, 4]],
    snapshot: null,
    thumbnail: null,
    clip: null,
  });
  const outboxId = db.prepare('SELECT max(id) FROM outbox').pluck().get() as number;
  queuedAt.set(outboxId, performance.now());
  link.kick();
  ids.push(ev.id);
  while (latencies.length === before) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write(`${JSON.stringify({ ids, latencies })}\n`);
// Then, on a line "archive" from stdin: the same bytes uploaded three times as archive objects of three events
// (ciphertext-like random bytes; the VM stores what it gets), MB/s each, on one line.
const body = readFileSync(clipPath);
const sha256 = createHash('sha256').update(body).digest('hex');
process.stdin.on('data', async (d) => {
  if (!String(d).includes('archive')) return;
  const mbps: number[] = [];
  for (const eventId of ids.slice(-3)) {
    const t0 = performance.now();
    const header = { eventId, cameraId: 'bench', kind: 'clip' as const, size: body.length, sha256, protected: false };
    await link.uploadArchive(header, createReadStream(clipPath));
    mbps.push(body.length / 1e6 / ((performance.now() - t0) / 1000));
  }
  process.stdout.write(`${JSON.stringify({ archiveMBps: mbps })}\n`);
});
process.stdin.resume();
process.stdin.on('end', async () => {
  await link.stop();
  db.close();
  process.exit(0);
});
