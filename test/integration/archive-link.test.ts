// The archive across the real link, end to end on loopback: the edge's own parts in-process (database, outbox, event
// store, archiver with the owner's key, link client) and the owner's server as a child process (`guardian vm`), so it
// can be stopped for a while or killed with SIGKILL mid-upload and started again on the same data.
//   - Link down with archive items queued: they survive an edge restart (the outbox is on disk) and drain when the
//     VM returns, each object stored with the SHA-256 the edge computed.
//   - VM killed mid-upload of a large clip: no partial object is ever visible, the restarted VM removes the
//     temporary file, the edge uploads again, the object is stored once; a replay stores nothing twice.
//   - FetchArchive: ranges return exactly the stored bytes; another edge's credential, a forged one, an unknown
//     event and a range past the end are refused.
//   - Retrieval: the edge opens its archived clip through the link and decrypts only the segments a range touches;
//     over HTTP that is 200/206/416 with the plaintext.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import Database from 'better-sqlite3';
import express from 'express';

import { EdgeArchiver } from '../../src/edge/archive/archiver.ts';
import { type ArchiveFetcher, ArchiveRetrieval } from '../../src/edge/archive/retrieval.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { fetchObject } from '../../src/edge/link/archive-fetch.ts';
import { LinkClient } from '../../src/edge/link/client.ts';
import type { LinkSettings } from '../../src/edge/link/pairing.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createSecret, deriveKek, HEADER_SIZE, type Kek, SEGMENT_SIZE } from '../../src/shared/archive/format.ts';
import type { Db } from '../../src/shared/db.ts';
import { GuardianError } from '../../src/shared/errors.ts';
import { createLinkClient, credentialMetadata } from '../../src/shared/link/proto.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';
import { objectFile, random, sha256, until } from '../support/vm_archive.ts';
import { VmProcess } from '../support/vm_process.ts';

const log = createLogger({ level: 'silent' });
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

/** The VM's index, read from its database file (the VM runs in another process; WAL lets us read alongside). */
function vmRows(vm: VmProcess, eventId: string): { kind: string; size: number; sha256: string; state: string }[] {
  const db = new Database(join(vm.dataDir, 'vm.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT kind, size, sha256, state FROM archive_objects WHERE event_id = ? ORDER BY kind')
      .all(eventId) as { kind: string; size: number; sha256: string; state: string }[];
  } finally {
    db.close();
  }
}

/** A slow uplink for the edge's uploads, when set (bytes per second). */
let uplink: number | null = null;
async function* throttled(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    if (uplink) await sleep((chunk.length / uplink) * 1000);
    yield chunk;
  }
}

/** The edge's own parts, as src/edge/runtime.ts composes them (without cameras and media). */
class EdgeSide {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly events: EventStore;
  readonly archiver: EdgeArchiver;
  readonly link: LinkClient;
  readonly retrieval: ArchiveRetrieval;
  /** Ciphertext bytes fetched through the link by the retrieval (to see that only the segments asked for come). */
  fetched = 0;

  constructor(
    readonly dir: string,
    kek: Kek,
  ) {
    this.db = openEdgeDatabase(join(dir, 'guardian.db'));
    this.outbox = new Outbox(this.db);
    this.events = new EventStore(this.db, this.outbox);
    this.archiver = new EdgeArchiver(
      dir,
      this.db,
      this.events,
      this.outbox,
      () => ({ enabled: true, include: 'all', labels: [] }),
      kek,
      log,
    );
    this.link = new LinkClient(
      {
        dataDir: dir,
        interfaceName: 'unused',
        heartbeatSeconds: 1,
        telemetrySeconds: 30,
        backoff: { initialMs: 200, maxMs: 1000 },
      },
      {
        outbox: this.outbox,
        log,
        hello: () => ({ version: 'test', cameras: [{ id: 'porch', name: 'Porch', kind: 'file', status: 'online' }] }),
        telemetry: () => ({
          timeMs: Date.now(),
          cpuPercent: 1,
          memoryPercent: 1,
          diskPercent: 1,
          outboxLength: this.outbox.length(),
          uptimeSeconds: 1,
          cameras: [],
        }),
        clipFile: async () => {
          throw new GuardianError('NOT_FOUND', 'no clips here');
        },
      },
    );
    this.link.registerDelivery(
      'archive',
      this.archiver.delivery((header, body) => this.link.uploadArchive(header, Readable.from(throttled(body)))),
    );
    this.outbox.onEnqueue = () => this.link.kick();
    const counting: ArchiveFetcher = {
      fetchArchiveRange: async (...args) => {
        const r = await this.link.fetchArchiveRange(...args);
        this.fetched += r.data.length;
        return r;
      },
    };
    this.retrieval = new ArchiveRetrieval(counting, kek, (id) => this.archiver.state(id), log);
  }

  async start(): Promise<this> {
    await this.link.start();
    return this;
  }

  async stop(): Promise<void> {
    await this.link.stop();
    this.db.close();
  }

  /** An ended event of camera porch with a clip and a snapshot on disk, archived (encrypted and queued). */
  async event(clip: Buffer, snapshot: Buffer): Promise<string> {
    const startMs = Date.now() - 20_000;
    const ev = this.events.create({
      cameraId: 'porch',
      trackId: 1,
      label: 'person',
      labels: ['person'],
      zones: [],
      startMs,
      endMs: null,
      maxScore: 0.9,
      meanScore: 0.8,
      detections: 9,
      boxPath: [],
      snapshot: null,
      thumbnail: null,
      clip: null,
    });
    const snapshotRel = join('snapshots', 'porch', `${ev.id}.jpg`);
    const clipRel = join('clips', 'porch', `${ev.id}.mp4`);
    await mkdir(join(this.dir, 'snapshots', 'porch'), { recursive: true });
    await mkdir(join(this.dir, 'clips', 'porch'), { recursive: true });
    writeFileSync(join(this.dir, snapshotRel), snapshot);
    writeFileSync(join(this.dir, clipRel), clip);
    this.events.update(ev.id, { endMs: startMs + 8000, snapshot: snapshotRel, clip: clipRel }, 'event.end');
    await this.archiver.queue(ev.id, join(this.dir, clipRel));
    return ev.id;
  }

  /** The SHA-256 of each object as the edge computed it when encrypting. */
  shas(eventId: string): Record<string, string> {
    const rows = this.db
      .prepare('SELECT kind, sha256 FROM archive_objects WHERE event_id = ? ORDER BY kind')
      .all(eventId) as { kind: string; sha256: string }[];
    return Object.fromEntries(rows.map((r) => [r.kind, r.sha256]));
  }

  archiveItems(): number {
    return this.db.prepare("SELECT count(*) FROM outbox WHERE kind = 'archive.upload'").pluck().get() as number;
  }
}

describe('archive over the link: outage, VM killed mid-upload, read back and decrypted on the edge', function () {
  this.timeout(240_000);
  const dir = tempDir();
  const edgeDir = join(dir.path, 'edge');
  let vm: VmProcess;
  let kek: Kek;
  let edge: EdgeSide;
  let other: LinkSettings;
  let settings: LinkSettings;
  /** The big event of the SIGKILL test, and its plaintext clip, for the read-back tests. */
  let bigId = '';
  let bigClip = Buffer.alloc(0);
  let bigSnapshot = Buffer.alloc(0);

  const restartEdge = async () => {
    await edge.stop();
    edge = await new EdgeSide(edgeDir, kek).start();
  };
  const states = (id: string) => edge.archiver.state(id);
  const allStored = (id: string) => {
    const s = states(id);
    return s.clip === 'stored' && s.snapshot === 'stored' && s.metadata === 'stored';
  };

  before(async () => {
    vm = await new VmProcess(dir.path).create();
    settings = await vm.pair('porch-box', edgeDir);
    other = await vm.pair('neighbour', join(dir.path, 'other'));
    kek = await deriveKek(createSecret());
    edge = await new EdgeSide(edgeDir, kek).start();
    await until(() => edge.link.state.connected, 15_000, 'the edge to connect');
  });

  after(async () => {
    uplink = null;
    await edge?.stop().catch(() => undefined);
    await vm?.stop();
    dir.remove();
  });

  it('link down: queued archive items survive an edge restart and drain when the VM returns', async () => {
    await vm.stop('SIGTERM');
    await until(() => !edge.link.state.connected, 15_000, 'the edge to notice');
    const clips = [random(MiB + 17), random(300_000), random(2 * MiB)];
    const ids: string[] = [];
    for (const clip of clips) ids.push(await edge.event(clip, random(40_000)));
    assert.equal(edge.archiveItems(), 9, 'three objects per event queued');
    for (const id of ids) assert.deepEqual(states(id), { clip: 'queued', snapshot: 'queued', metadata: 'queued' });
    await sleep(3000); // a while without the link: reconnect attempts fail, nothing is lost
    await restartEdge();
    assert.equal(edge.archiveItems(), 9, 'the queue is on disk');
    assert.equal(edge.link.state.connected, false);

    await vm.start();
    await until(() => ids.every(allStored), 60_000, 'the queue to drain');
    assert.equal(edge.archiveItems(), 0);
    for (const id of ids) {
      const rows = vmRows(vm, id);
      const shas = edge.shas(id);
      assert.deepEqual(
        rows.map((r) => [r.kind, r.sha256, r.state]),
        Object.entries(shas).map(([k, s]) => [k, s, 'stored']),
      );
      for (const [kind, file] of [
        ['clip', 'clip.mp4'],
        ['snapshot', 'snapshot.jpg'],
        ['metadata', 'metadata.json'],
      ] as const)
        assert.equal(sha256(readFileSync(objectFile(vm.dataDir, 'porch', id, file))), shas[kind], `${id} ${kind}`);
    }
    // The edge keeps no ciphertext once the server holds it.
    assert.deepEqual(filesUnder(join(edgeDir, 'archive')), []);
  });

  it('the VM killed with SIGKILL mid-upload: nothing partial visible, the upload is redone and stored once', async () => {
    await until(() => edge.link.state.connected, 15_000, 'the link');
    const tmp = join(vm.dataDir, 'archive', '.tmp');
    uplink = 6 * MiB; // about four seconds for the clip
    bigClip = random(24 * MiB + 4321);
    bigSnapshot = random(50_000);
    bigId = await edge.event(bigClip, bigSnapshot);
    await until(
      () => filesUnder(tmp).some((f) => statSync(join(tmp, f)).size > 2 * MiB),
      30_000,
      'the clip upload under way',
    );
    await vm.stop('SIGKILL');
    assert.equal(filesUnder(tmp).length, 1, 'the killed VM left its temporary file');
    assert.deepEqual(
      filesUnder(join(vm.dataDir, 'archive', 'camera-porch', 'events', bigId)).filter((f) => f.startsWith('clip')),
      [],
      'but no clip object',
    );
    assert.equal(states(bigId).clip, 'queued', 'the edge still has it to upload');
    // The edge waits (as if its link were down) while the VM comes back on its own.
    await edge.link.stop();
    await vm.start();
    assert.match(vm.output, /removed interrupted archive uploads/);
    assert.deepEqual(filesUnder(tmp), [], 'the temporary file is gone');
    assert.equal((await vm.api(`/api/events/${bigId}/archive/clip`)).status, 404, 'no partial object served');
    const listed = (await (await vm.api(`/api/events/${bigId}`)).json()) as { archived: Record<string, boolean> };
    assert.equal(listed.archived.clip, false);
    assert.ok(!vmRows(vm, bigId).some((r) => r.kind === 'clip'), 'no index row for the clip');

    uplink = null;
    await restartEdge();
    await until(() => allStored(bigId), 60_000, 'the clip uploaded again');
    const rows = vmRows(vm, bigId);
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['clip', 'metadata', 'snapshot'],
      'each object once',
    );
    const clipRow = rows.find((r) => r.kind === 'clip');
    assert.equal(clipRow?.sha256, edge.shas(bigId).clip);
    const file = objectFile(vm.dataDir, 'porch', bigId, 'clip.mp4');
    assert.equal(sha256(readFileSync(file)), edge.shas(bigId).clip, 'the stored bytes are the ones the edge made');
    assert.deepEqual(filesUnder(join(vm.dataDir, 'archive', 'camera-porch', 'events', bigId)), [
      'clip.mp4.gdna',
      'metadata.json.gdna',
      'snapshot.jpg.gdna',
    ]);
    assert.deepEqual(filesUnder(tmp), []);

    // A replay (the same object uploaded again, as after a lost acknowledgement) stores nothing twice.
    const before = statSync(file);
    const stored = readFileSync(file);
    const header = {
      eventId: bigId,
      cameraId: 'porch',
      kind: 'clip' as const,
      size: stored.length,
      sha256: sha256(stored),
      protected: false,
    };
    assert.equal(await edge.link.uploadArchive(header, Readable.from([stored])), 'UNCHANGED');
    const after = statSync(file);
    assert.equal(after.ino, before.ino, 'the same file');
    assert.equal(after.mtimeMs, before.mtimeMs, 'not written again');
    assert.equal(vmRows(vm, bigId).length, 3);
  });

  it('FetchArchive returns exactly the stored bytes; refuses other edges, forged credentials, unknown objects', async () => {
    assert.ok(bigId, 'runs after the SIGKILL test');
    const stored = readFileSync(objectFile(vm.dataDir, 'porch', bigId, 'clip.mp4'));
    const size = stored.length;
    assert.deepEqual(await edge.link.archiveSize(bigId, 'clip'), { size, sha256: sha256(stored) });
    for (const [a, b] of [
      [0, 0],
      [0, HEADER_SIZE - 1],
      [1000, 1000 + 700_000], // several 256 KiB messages
      [size - 1, size - 1],
      [12 * MiB + 3, 13 * MiB + 5],
    ] as const)
      assert.ok((await edge.link.fetchArchive(bigId, 'clip', a, b)).equals(stored.subarray(a, b + 1)), `${a}-${b}`);
    const whole = await edge.link.fetchArchive(bigId, 'clip', 0, size - 1);
    assert.equal(sha256(whole), sha256(stored), 'the whole object');
    // An end past the object is clamped to its last byte (as HTTP Range is).
    const tail = await edge.link.fetchArchiveRange(bigId, 'clip', size - 10, size + 1000);
    assert.deepEqual([tail.start, tail.end, tail.size], [size - 10, size - 1, size]);
    assert.ok(tail.data.equals(stored.subarray(size - 10)));

    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: GuardianError) => e.code,
      );
    assert.equal(await code(edge.link.fetchArchive(bigId, 'clip', size, size + 5)), 'RANGE_NOT_SATISFIABLE');
    assert.equal(await code(edge.link.fetchArchive('01JZZZZZZZZZZZZZZZZZZZZZZZ', 'clip', 0, 9)), 'NOT_FOUND');
    assert.equal(await code(edge.link.fetchArchive(bigId, 'video' as 'clip', 0, 9)), 'INVALID_ARGUMENT');

    // Another edge, with its own valid credential, cannot read this edge's objects; a forged credential nothing.
    const client = createLinkClient(other.grpc);
    try {
      const theirs = credentialMetadata(other.edgeId, other.secret);
      const req = { eventId: bigId, kind: 'clip' as const, start: 0, end: 99 };
      assert.equal(await code(fetchObject(client, theirs, req)), 'FORBIDDEN');
      assert.equal(await code(fetchObject(client, theirs, { ...req, headerOnly: true })), 'FORBIDDEN');
      const forged = credentialMetadata(settings.edgeId, 'x'.repeat(43));
      assert.equal(await code(fetchObject(client, forged, req)), 'UNAUTHORIZED');
      // ...while the owner's own credential on the same channel reads it.
      const mine = credentialMetadata(settings.edgeId, settings.secret);
      assert.ok((await fetchObject(client, mine, req)).data.equals(stored.subarray(0, 100)));
    } finally {
      client.close();
    }

    // The link down: a clear UNAVAILABLE, not a hang.
    await vm.stop('SIGTERM');
    await until(() => !edge.link.state.connected, 15_000, 'the edge to notice');
    assert.equal(await code(edge.link.fetchArchive(bigId, 'clip', 0, 9)), 'UNAVAILABLE');
    await vm.start();
    await until(() => edge.link.state.connected, 15_000, 'the link back');
  });

  it('the edge decrypts its archived clip through the link, fetching only the segments a range touches', async () => {
    assert.ok(bigId, 'runs after the SIGKILL test');
    const r = edge.retrieval;
    assert.equal(r.has(bigId, 'clip'), true);
    edge.fetched = 0;
    const reader = await r.open(bigId, 'clip');
    assert.equal(reader.plaintextSize, bigClip.length);
    const opened = edge.fetched;
    assert.ok(opened < 3 * SEGMENT_SIZE, `opening fetched ${opened} bytes (header, first and last segments)`);
    // A range inside one segment costs that segment; ranges across segments and at the end are the plaintext.
    edge.fetched = 0;
    const mid = 10 * SEGMENT_SIZE + 100;
    assert.ok((await reader.read(mid, mid + 999)).equals(bigClip.subarray(mid, mid + 1000)));
    assert.ok(edge.fetched <= SEGMENT_SIZE + 16, `one segment fetched, not ${edge.fetched} bytes`);
    for (let i = 0; i < 20; i++) {
      const a = Math.floor(Math.random() * bigClip.length);
      const b = Math.min(bigClip.length - 1, a + Math.floor(Math.random() * 3 * MiB));
      assert.ok((await reader.read(a, b)).equals(bigClip.subarray(a, b + 1)), `${a}-${b}`);
    }
    // The same reader serves the next request: no new header read.
    edge.fetched = 0;
    assert.equal(await r.open(bigId, 'clip'), reader);
    assert.equal(edge.fetched, 0);

    // Over HTTP, as the edge's clip route answers once its recordings are gone.
    const app = express();
    app.get('/clip', (req, res) => void r.send(req, res, bigId, 'clip', { contentType: 'video/mp4' }));
    app.get('/snapshot', (req, res) => void r.send(req, res, bigId, 'snapshot', { contentType: 'image/jpeg' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((ok) => server.once('listening', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const whole = await fetch(`${base}/clip`);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get('x-guardian-source'), 'archive');
      assert.equal(whole.headers.get('accept-ranges'), 'bytes');
      assert.equal(whole.headers.get('content-type'), 'video/mp4');
      assert.equal(whole.headers.get('content-length'), String(bigClip.length));
      assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), sha256(bigClip));

      edge.fetched = 0;
      const a = bigClip.length - 200_000;
      const part = await fetch(`${base}/clip`, { headers: { Range: `bytes=${a}-` } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes ${a}-${bigClip.length - 1}/${bigClip.length}`);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(bigClip.subarray(a)));
      assert.ok(edge.fetched < 300_000, `a 200 kB range at the end fetched ${edge.fetched} bytes`);

      const first = await fetch(`${base}/clip`, { headers: { Range: 'bytes=0-99' } });
      assert.equal(first.status, 206);
      assert.ok(Buffer.from(await first.arrayBuffer()).equals(bigClip.subarray(0, 100)));
      const suffix = await fetch(`${base}/clip`, { headers: { Range: 'bytes=-5' } });
      assert.equal(suffix.status, 206);
      assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(bigClip.subarray(bigClip.length - 5)));
      const past = await fetch(`${base}/clip`, { headers: { Range: `bytes=${bigClip.length}-` } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), `bytes */${bigClip.length}`);

      const snap = await fetch(`${base}/snapshot`);
      assert.equal(snap.status, 200);
      assert.equal(snap.headers.get('content-type'), 'image/jpeg');
      assert.ok(Buffer.from(await snap.arrayBuffer()).equals(bigSnapshot));
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
