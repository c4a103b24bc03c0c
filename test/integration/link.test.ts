// The edge↔VM link on loopback (no tunnel; test/e2e/tunnel.test.ts runs the same through WireGuard): pairing,
// authenticated gRPC, event delivery with per-event acknowledgements and idempotent replays, the clip relay with
// Range, and refusals.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore, eventPayload } from '../../src/edge/events/store.ts';
import { LinkClient } from '../../src/edge/link/client.ts';
import { pairEdge, readLinkSettings } from '../../src/edge/link/pairing.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import type { EventAcks__Output } from '../../src/shared/link/generated/guardian/edge/v1/EventAcks.ts';
import type { EventBatch } from '../../src/shared/link/generated/guardian/edge/v1/EventBatch.ts';
import { decodePairingCode, encodePairingCode } from '../../src/shared/link/pairing-code.ts';
import { createLinkClient, credentialMetadata, type EventJson, toWireEvent } from '../../src/shared/link/proto.ts';
import { createLogger } from '../../src/shared/log.ts';
import { validateVmConfig } from '../../src/vm/config.ts';
import { startVm, type Vm } from '../../src/vm/runtime.ts';
import { media, tempDir } from '../helpers.ts';

const log = createLogger({ level: 'silent' });

async function until<T>(fn: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A GET that resolves with status, headers and body, or rejects when the body is cut short. */
function get(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    });
    req.on('error', reject);
    req.end();
  });
}

const sampleEvent = (cameraId: string, startMs: number) => ({
  cameraId,
  trackId: 7,
  label: 'person',
  labels: ['person'],
  zones: ['drive'],
  startMs,
  endMs: null,
  maxScore: 0.91,
  meanScore: 0.8,
  detections: 3,
  boxPath: [[startMs, 10, 20, 110, 220] as [number, number, number, number, number]],
  snapshot: 'snapshots/x.jpg',
  thumbnail: null,
  clip: null,
});

describe('edge ↔ VM link (loopback)', function () {
  this.timeout(60_000);
  const dir = tempDir();
  let vm: Vm;
  let edgeDb: ReturnType<typeof openEdgeDatabase>;
  let outbox: Outbox;
  let events: EventStore;
  let link: LinkClient;
  const clipFile = media.vtest;
  // Larger than every buffer between the edge and a paused client (gRPC, HTTP/2 windows, sockets).
  const bigClip = join(dir.path, 'big.bin');
  let bigClipEvent = '';
  const auth = () => ({ Authorization: `Bearer ${vm.apiToken}` });

  before(async () => {
    vm = await startVm(
      validateVmConfig({
        dataDir: join(dir.path, 'vm'),
        http: { port: 0 },
        grpc: { port: 0, requireTunnel: false },
        wireguard: { enabled: false },
      }),
      { log },
    );
    const { code } = vm.issuePairing('porch');
    const settings = await pairEdge(code, join(dir.path, 'edge'), { name: 'porch' });
    assert.match(settings.edgeId, /^edge-/);
    assert.equal(statSync(join(dir.path, 'edge', 'link.json')).mode & 0o777, 0o600);
    edgeDb = openEdgeDatabase(join(dir.path, 'edge', 'edge.db'));
    outbox = new Outbox(edgeDb);
    events = new EventStore(edgeDb, outbox);
    link = new LinkClient(
      {
        dataDir: join(dir.path, 'edge'),
        interfaceName: 'unused',
        heartbeatSeconds: 1,
        telemetrySeconds: 1,
        backoff: { initialMs: 200, maxMs: 1000 },
      },
      {
        outbox,
        log,
        hello: () => ({ version: 'test', cameras: [{ id: 'porch', name: 'Porch', kind: 'file', status: 'online' }] }),
        telemetry: () => ({
          timeMs: Date.now(),
          cpuPercent: 12,
          memoryPercent: 40,
          diskPercent: 50,
          outboxLength: outbox.length(),
          uptimeSeconds: 5,
          cameras: [{ id: 'porch', status: 'offline', fps: 0, lastError: 'connection refused' }],
        }),
        async clipFile(eventId) {
          if (!events.get(eventId)) throw Object.assign(new Error('no such event'), { code: 'NOT_FOUND' });
          return eventId === bigClipEvent ? bigClip : clipFile;
        },
      },
    );
    outbox.onEnqueue = () => link.kick();
    await link.start();
    await until(() => link.state.connected);
  });

  after(async () => {
    await link?.stop();
    await vm?.stop();
    edgeDb?.close();
    dir.remove();
  });

  it('pairing: the code works once; a forged proof and a second use are refused', async () => {
    const { code } = vm.issuePairing();
    const decoded = decodePairingCode(code);
    const forged = encodePairingCode({ ...decoded, token: 'A'.repeat(43) });
    await assert.rejects(pairEdge(forged, join(dir.path, 'forged')), /proof does not match/);
    await pairEdge(code, join(dir.path, 'second'));
    await assert.rejects(pairEdge(code, join(dir.path, 'third')), /already used/);
    assert.throws(() => decodePairingCode('hello'), /not a Guardian pairing code/);
    const unreachable = encodePairingCode({ ...decoded, pairUrl: 'http://127.0.0.1:9/' });
    await assert.rejects(pairEdge(unreachable, join(dir.path, 'nowhere'), { timeoutMs: 2000 }), /cannot reach the VM/);
  });

  it('the VM API answers malformed requests with field errors', async () => {
    const post = (body: string) =>
      fetch(`${vm.url}/api/pair`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const empty = await post('{}');
    assert.equal(empty.status, 400);
    const fields = ((await empty.json()) as { error: { issues: { field: string }[] } }).error.issues.map(
      (i) => i.field,
    );
    assert.ok(fields.includes('pairingId') && fields.includes('mac'), fields.join());
    assert.equal((await post('{not json')).status, 400);
    const badLimit = await fetch(`${vm.url}/api/events?limit=abc`, { headers: auth() });
    assert.equal(badLimit.status, 400);
    assert.equal((await fetch(`${vm.url}/api/edges/a%20b/telemetry`, { headers: auth() })).status, 400);
    assert.equal((await fetch(`${vm.url}/api/nothing`, { headers: auth() })).status, 404);
    // One error model: the VM says what the edge says.
    const codeOf = async (r: Promise<Response>) => ((await (await r).json()) as { error: { code: string } }).error.code;
    assert.equal(await codeOf(post('{}')), 'INVALID_ARGUMENT');
    assert.equal(await codeOf(fetch(`${vm.url}/api/events`)), 'UNAUTHORIZED');
    assert.equal(await codeOf(fetch(`${vm.url}/api/events/nope`, { headers: auth() })), 'NOT_FOUND');
    // ...and documents its API from the same route schemas.
    const doc = (await (await fetch(`${vm.url}/api/openapi.json`, { headers: auth() })).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.ok(doc.paths['/api/events/{id}/clip']?.get && doc.paths['/api/pair']?.post && doc.paths['/api/edges']?.get);
  });

  it('an event reaches the VM cache with identical content, acknowledged once stored', async () => {
    const ev = events.create(sampleEvent('porch', Date.now() - 2000));
    const cached = await until(() => vm.cache.event(ev.id));
    assert.deepEqual(cached.metadata, eventPayload(ev));
    assert.equal(cached.edgeId, link.state.edgeId);
    await until(() => outbox.length() === 0);
    const ended = events.update(ev.id, { endMs: Date.now(), detections: 9 }, 'event.end');
    await until(() => vm.cache.event(ev.id)?.endTimestamp === ended.endMs);
    assert.deepEqual(vm.cache.event(ev.id)?.metadata, eventPayload(ended));
  });

  it('telemetry and hello make the edge known, with its health and reasons', async () => {
    const edges = await until(() => {
      const list = vm.cache.edges();
      return list.find((e) => e.edgeId === link.state.edgeId && e.status === 'unhealthy') && list;
    });
    const me = edges.find((e) => e.edgeId === link.state.edgeId);
    assert.deepEqual(me?.reasons, ['camera porch offline']);
    assert.equal(me?.name, 'porch');
    assert.deepEqual(
      me?.cameras,
      [{ id: 'porch', name: 'Porch', kind: 'file', status: 'offline' }],
      'hello + telemetry',
    );
    const latency = await until(() => link.state.latencyMs);
    assert.ok(latency > 0 && latency < 100, `ping ${latency} ms`);
    const res = await fetch(`${vm.url}/api/edges/${link.state.edgeId}/telemetry`, { headers: auth() });
    const body = (await res.json()) as { samples: { metrics: { cpuPercent: number } }[] };
    assert.ok(body.samples.length >= 1);
    assert.equal(body.samples[0]?.metrics.cpuPercent, 12);
  });

  it('the same batch replayed three times stores each event once; a wrong credential is refused', async () => {
    const settings = readLinkSettings(join(dir.path, 'edge'));
    assert.ok(settings);
    const client = createLinkClient(settings.grpc);
    const push = (md: grpc.Metadata, batch: EventBatch) =>
      new Promise<EventAcks__Output>((resolve, reject) =>
        client.PushEvents(batch, md, (err, v) => (err || !v ? reject(err) : resolve(v))),
      );
    const base = Date.now() - 60_000;
    const records = [0, 1, 2].map((i) => ({
      ...eventPayload({
        ...sampleEvent('yard', base + i),
        id: `01JREP1AY0000000000000000${i}`,
        protected: false,
        snapshotBox: null,
        severity: null,
        verdict: null,
        secondOpinion: null,
        updatedMs: base + i,
      }),
    }));
    const batch = {
      events: records.map((e, i) => ({ deliveryId: i + 1, kind: 'event.start', event: toWireEvent(e) })),
    };
    const md = credentialMetadata(settings.edgeId, settings.secret);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await push(md, batch)).acks.map((a) => a.status));
    assert.deepEqual(statuses, [
      ['STORED', 'STORED', 'STORED'],
      ['UNCHANGED', 'UNCHANGED', 'UNCHANGED'],
      ['UNCHANGED', 'UNCHANGED', 'UNCHANGED'],
    ]);
    const rows = vm.db.prepare("SELECT count(*) FROM events WHERE event_id LIKE '01JREP1AY%'").pluck().get();
    assert.equal(rows, 3);
    await assert.rejects(push(credentialMetadata(settings.edgeId, 'x'.repeat(43)), batch), {
      code: grpc.status.UNAUTHENTICATED,
    });
    await assert.rejects(push(new grpc.Metadata(), batch), { code: grpc.status.UNAUTHENTICATED });
    const malformed = await push(md, {
      events: [{ deliveryId: 9, kind: 'event.start', event: { ...toWireEvent(records[0] as EventJson), id: '../x' } }],
    });
    assert.deepEqual(
      malformed.acks.map((a) => a.status),
      ['REJECTED'],
    );
    client.close();
  });

  it('relays a clip from the edge with Range, and answers 401, 404 and 416 properly', async () => {
    const ev = events.create(sampleEvent('porch', Date.now() - 1000));
    await until(() => vm.cache.event(ev.id));
    const whole = readFileSync(clipFile);
    const full = await get(`${vm.url}/api/events/${ev.id}/clip`, auth());
    assert.equal(full.status, 200);
    assert.equal(full.headers['content-length'], String(whole.length));
    assert.ok(full.body.equals(whole), 'the relayed bytes are the clip');
    const part = await get(`${vm.url}/api/events/${ev.id}/clip`, { ...auth(), Range: 'bytes=1000-1999' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${whole.length}`);
    assert.ok(part.body.equals(whole.subarray(1000, 2000)));
    const tail = await get(`${vm.url}/api/events/${ev.id}/clip`, { ...auth(), Range: `bytes=${whole.length - 10}-` });
    assert.ok(tail.body.equals(whole.subarray(whole.length - 10)));
    const beyond = await get(`${vm.url}/api/events/${ev.id}/clip`, { ...auth(), Range: `bytes=${whole.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${whole.length}`);
    assert.equal((await get(`${vm.url}/api/events/${ev.id}/clip`)).status, 401);
    assert.equal((await get(`${vm.url}/api/events/01JNOSUCHEVENT000000000000/clip`, auth())).status, 404);
    assert.equal((await get(`${vm.url}/api/events/..%2F..%2Fetc/clip`, auth())).status, 400);
  });

  it('serves the owner API over HTTPS when given a certificate', async function () {
    if (spawnSync('openssl', ['version']).status !== 0) {
      console.log('      skipped: openssl is not installed (it only makes the test certificate)');
      this.skip();
    }
    const tlsDir = join(dir.path, 'tls');
    mkdirSync(tlsDir);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(tlsDir, 'key.pem'),
        '-out',
        join(tlsDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const secure = await startVm(
      validateVmConfig({
        dataDir: join(dir.path, 'vm-tls'),
        http: { port: 0, tls: { cert: join(tlsDir, 'cert.pem'), key: join(tlsDir, 'key.pem') } },
        grpc: { port: 0, requireTunnel: false },
        wireguard: { enabled: false },
      }),
      { log },
    );
    try {
      assert.match(secure.url, /^https:/);
      const status = await new Promise<number>((resolve, reject) =>
        httpsGet(
          `${secure.url}/api/health`,
          { ca: readFileSync(join(tlsDir, 'cert.pem')), headers: { Authorization: `Bearer ${secure.apiToken}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        ).on('error', reject),
      );
      assert.equal(status, 200);
      assert.match(decodePairingCode(secure.issuePairing().code).pairUrl, /^https:/);
    } finally {
      await secure.stop();
    }
  });

  it('the link comes back when the VM restarts, and what was queued meanwhile is delivered', async () => {
    const { reconnects, delivered } = link.state;
    const grpcPort = Number(vm.grpcAddress.split(':').at(-1));
    await vm.stop();
    await until(() => !link.state.connected);
    const ev = events.create(sampleEvent('porch', Date.now() - 100));
    assert.ok(outbox.length() > 0, 'the event waits in the outbox');
    vm = await startVm(
      validateVmConfig({
        dataDir: join(dir.path, 'vm'),
        http: { port: 0 },
        grpc: { port: grpcPort, requireTunnel: false },
        wireguard: { enabled: false },
      }),
      { log },
    );
    await until(() => vm.cache.event(ev.id), 20_000);
    await until(() => outbox.length() === 0);
    assert.ok(link.state.connected);
    assert.ok(link.state.reconnects > reconnects, 'counted as a reconnection');
    assert.ok(link.state.delivered > delivered);
  });

  it('a transfer the edge abandons midway is a failed response, never a short complete file', async () => {
    writeFileSync(bigClip, randomBytes(48 * 1024 * 1024));
    const ev = events.create(sampleEvent('porch', Date.now() - 500));
    bigClipEvent = ev.id;
    await until(() => vm.cache.event(ev.id));
    const result = await new Promise<{ status: number; error?: string; received: number }>((resolve) => {
      const req = request(`${vm.url}/api/events/${ev.id}/clip`, { headers: auth() }, (res) => {
        let received = 0;
        res.pause(); // a slow client: the edge is held back by flow control, mid-clip
        setTimeout(() => {
          void link.stop(); // the edge goes away
          setTimeout(() => res.resume(), 300);
        }, 300);
        res.on('data', (c: Buffer) => {
          received += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, received }));
        res.on('error', (err) => resolve({ status: res.statusCode ?? 0, error: err.message, received }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, error: 'aborted', received }));
      });
      req.end();
    });
    assert.equal(result.status, 200);
    assert.ok(result.error, `the client saw an error (received ${result.received} bytes)`);
    assert.ok(result.received < statSync(bigClip).size);
  });
});
