// The VM's archive with its default filesystem store, through a real gRPC link on loopback (no tunnel): uploads of
// several MB stored byte for byte (the VM never decrypts: it keeps exactly the ciphertext sent), replays, refusals
// (wrong SHA-256 or size, another edge's event, an event not delivered yet), uploads cut midway, a VM killed with
// SIGKILL mid-upload and restarted, quota eviction order with the 80 % warning and protected objects, retention days,
// and retrieval with HTTP Range. test/integration/vm-archive-s3.test.ts runs the same flow against versitygw.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { ulid } from 'ulidx';

import { archiveErrorIsPermanent, uploadFile, uploadObject } from '../../src/edge/link/archive-upload.ts';
import { pairEdge } from '../../src/edge/link/pairing.ts';
import type { ArchiveChunk } from '../../src/shared/link/generated/guardian/edge/v1/ArchiveChunk.ts';
import { createLinkClient, credentialMetadata } from '../../src/shared/link/proto.ts';
import { createLogger } from '../../src/shared/log.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { validateVmConfig } from '../../src/vm/config.ts';
import { startVm, type Vm } from '../../src/vm/runtime.ts';
import { tempDir } from '../helpers.ts';
import { apiGet, chunked, freePort, objectFile, random, sha256, TestEdge, until } from '../support/vm_archive.ts';

const log = createLogger({ level: 'silent' });
const MiB = 1024 * 1024;

/** Every file under a directory, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const rejectsWith = (p: Promise<unknown>, code: grpc.status, message?: RegExp) =>
  assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
    if (message) assert.match(err.details, message);
    return true;
  });

describe('VM archive: uploads through the link into the filesystem store', function () {
  this.timeout(120_000);
  const dir = tempDir();
  const vmDir = join(dir.path, 'vm');
  const archiveDir = join(vmDir, 'archive');
  let vm: Vm;
  let edge: TestEdge;
  let other: TestEdge;

  before(async () => {
    vm = await startVm(
      validateVmConfig({
        dataDir: vmDir,
        http: { port: 0 },
        grpc: { port: 0, requireTunnel: false },
        wireguard: { enabled: false },
      }),
      { log },
    );
    edge = await TestEdge.pair(vm, join(dir.path, 'edge'), 'porch-box');
    other = await TestEdge.pair(vm, join(dir.path, 'other'), 'neighbour');
  });

  after(async () => {
    edge?.close();
    other?.close();
    await vm?.stop();
    dir.remove();
  });

  it('stores several MB exactly as sent, durable and private, and lists the event as archived', async () => {
    const id = await edge.event('porch');
    const clip = random(6 * MiB + 12345);
    const snapshot = random(80_000);
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, clip), 'STORED');
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'snapshot' }, snapshot), 'STORED');
    const file = objectFile(vmDir, 'porch', id, 'clip.mp4');
    const stored = readFileSync(file);
    // The VM keeps the ciphertext it was sent, byte for byte: it has no key and decrypts nothing.
    assert.ok(stored.equals(clip), 'identical bytes');
    assert.equal(sha256(stored), sha256(clip));
    assert.ok(readFileSync(objectFile(vmDir, 'porch', id, 'snapshot.jpg')).equals(snapshot));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    for (const d of [archiveDir, join(archiveDir, 'camera-porch'), join(archiveDir, 'camera-porch', 'events', id)])
      assert.equal(statSync(d).mode & 0o777, 0o700, d);
    assert.deepEqual(filesUnder(join(archiveDir, '.tmp')), [], 'no temporary file left');

    const row = vm.db.prepare('SELECT * FROM archive_objects WHERE event_id = ? AND kind = ?').get(id, 'clip');
    assert.deepEqual(
      { ...(row as object), created: 0, updated: 0, event_time: 0 },
      {
        edge_id: edge.edgeId,
        camera_id: 'porch',
        event_id: id,
        kind: 'clip',
        bucket: 'camera-porch',
        key: `events/${id}/clip.mp4.gdna`,
        size: clip.length,
        sha256: sha256(clip),
        state: 'stored',
        protected: 0,
        event_time: 0,
        created: 0,
        updated: 0,
      },
    );

    const list = (await (await apiGet(vm, '/api/events?camera=porch')).json()) as {
      events: { eventId: string; archived: Record<string, boolean> }[];
    };
    assert.deepEqual(list.events.find((e) => e.eventId === id)?.archived, {
      clip: true,
      snapshot: true,
      metadata: false,
    });
    const one = (await (await apiGet(vm, `/api/events/${id}`)).json()) as { archived: Record<string, boolean> };
    assert.deepEqual(one.archived, { clip: true, snapshot: true, metadata: false });
  });

  it('a replay is UNCHANGED and stores nothing twice; new bytes for the same key replace the object', async () => {
    const id = await edge.event('porch');
    const clip = random(3 * MiB);
    const header = { eventId: id, cameraId: 'porch', kind: 'clip' as const };
    assert.equal(await edge.upload(header, clip), 'STORED');
    const file = objectFile(vmDir, 'porch', id, 'clip.mp4');
    const before = statSync(file);
    for (let i = 0; i < 3; i++) assert.equal(await edge.upload(header, clip), 'UNCHANGED');
    const after = statSync(file);
    assert.equal(after.ino, before.ino, 'the same file: nothing was written again');
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.deepEqual(filesUnder(join(archiveDir, 'camera-porch', 'events', id)), ['clip.mp4.gdna']);
    const count = () =>
      vm.db.prepare('SELECT count(*) FROM archive_objects WHERE event_id = ?').pluck().get(id) as number;
    assert.equal(count(), 1);
    // The same event's clip encrypted again (another data key): the newer object wins, whole.
    const again = random(2 * MiB);
    assert.equal(await edge.upload(header, again), 'STORED');
    assert.ok(readFileSync(file).equals(again));
    assert.equal(count(), 1);
    assert.equal(vm.archive.index.get(id, 'clip')?.sha256, sha256(again));
  });

  it('uploads a file with uploadFile (hashed, then streamed at the pace of the call)', async () => {
    const id = await edge.event('porch');
    const path = join(dir.path, 'metadata.json.gdna');
    const bytes = random(300_000);
    writeFileSync(path, bytes);
    assert.equal(
      await uploadFile(
        edge.client,
        edge.md,
        { eventId: id, cameraId: 'porch', kind: 'metadata', protected: false },
        path,
      ),
      'STORED',
    );
    assert.ok(readFileSync(objectFile(vmDir, 'porch', id, 'metadata.json')).equals(bytes));
  });

  it('bytes that do not match the header are refused and leave nothing visible', async () => {
    const id = await edge.event('porch');
    const clip = random(4 * MiB);
    const header = { eventId: id, cameraId: 'porch', kind: 'clip' as const };
    await rejectsWith(edge.upload({ ...header, sha256: sha256(random(10)) }, clip), grpc.status.DATA_LOSS, /SHA-256/);
    await rejectsWith(edge.upload({ ...header, size: clip.length + 1 }, clip), grpc.status.DATA_LOSS, /received/);
    await rejectsWith(edge.upload({ ...header, size: clip.length - 1 }, clip), grpc.status.DATA_LOSS, /more bytes/);
    const err = await edge.upload({ ...header, sha256: 'nothex' }, clip).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
    assert.ok(archiveErrorIsPermanent(err));
    assert.equal(existsSync(join(archiveDir, 'camera-porch', 'events', id)), false, 'no object');
    assert.equal(vm.archive.index.get(id, 'clip'), undefined, 'no index row');
    assert.deepEqual(filesUnder(join(archiveDir, '.tmp')), [], 'no temporary file');
  });

  it("refuses another edge's event, a wrong camera, an unknown event and a bad kind", async () => {
    const id = await edge.event('porch');
    const bytes = random(100_000);
    await rejectsWith(
      other.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, bytes),
      grpc.status.PERMISSION_DENIED,
      /another edge/,
    );
    await rejectsWith(
      edge.upload({ eventId: id, cameraId: 'garden', kind: 'clip' }, bytes),
      grpc.status.INVALID_ARGUMENT,
      /camera porch/,
    );
    const unknown = '01JZZZZZZZZZZZZZZZZZZZZZZZ';
    const notYet = await edge.upload({ eventId: unknown, cameraId: 'porch', kind: 'clip' }, bytes).catch((e) => e);
    assert.equal(notYet.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(archiveErrorIsPermanent(notYet), false, 'worth retrying once the event is delivered');
    await rejectsWith(
      edge.upload({ eventId: id, cameraId: 'porch', kind: 'video' as never }, bytes),
      grpc.status.INVALID_ARGUMENT,
      /kind/,
    );
    await rejectsWith(
      edge.upload({ eventId: '../../etc', cameraId: 'porch', kind: 'clip' }, bytes),
      grpc.status.INVALID_ARGUMENT,
      /ULID/,
    );
    // A wrong credential never reaches the archive.
    const forged = new grpc.Metadata();
    forged.set('authorization', `Bearer ${edge.edgeId}.${'x'.repeat(43)}`);
    await rejectsWith(
      uploadObject(
        other.client,
        forged,
        { eventId: id, cameraId: 'porch', kind: 'clip', size: 3, sha256: sha256(Buffer.from('abc')), protected: false },
        Readable.from([Buffer.from('abc')]),
      ),
      grpc.status.UNAUTHENTICATED,
    );
    assert.equal(vm.archive.index.get(id, 'clip'), undefined);
    assert.equal(existsSync(join(archiveDir, 'camera-porch', 'events', id)), false);
  });

  it('an upload cut midway (cancelled, or ended without its end marker) leaves no object and no row', async () => {
    const id = await edge.event('porch');
    const clip = random(8 * MiB);
    const header = { eventId: id, cameraId: 'porch', kind: 'clip', size: clip.length, sha256: sha256(clip) };
    const tmp = join(archiveDir, '.tmp');
    for (const how of ['cancel', 'end'] as const) {
      const result = new Promise<grpc.ServiceError | null>((resolve) => {
        const call: grpc.ClientWritableStream<ArchiveChunk> = edge.client.Archive(edge.md, (err) => resolve(err));
        call.write({ header: { ...header, protected: false } });
        for (let at = 0; at < 3 * MiB; at += 256 * 1024) call.write({ data: clip.subarray(at, at + 256 * 1024) });
        // Once the VM has begun writing the object's temporary file, the edge goes away.
        void until(
          () => filesUnder(tmp).length > 0 && statSync(join(tmp, filesUnder(tmp)[0] as string)).size > 0,
          10_000,
        ).then(() => (how === 'cancel' ? call.cancel() : call.end()));
      });
      const err = await result;
      assert.equal(err?.code, how === 'cancel' ? grpc.status.CANCELLED : grpc.status.ABORTED, how);
      await until(() => filesUnder(tmp).length === 0, 5000, 'the temporary file to go');
      assert.equal(existsSync(objectFile(vmDir, 'porch', id, 'clip.mp4')), false, how);
      assert.equal(vm.archive.index.get(id, 'clip'), undefined, how);
    }
    // The edge simply uploads again.
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, clip), 'STORED');
  });

  it('gRPC flow control holds the edge back while the store is not reading: the VM never holds a whole object', async () => {
    const id = await edge.event('porch');
    const total = 64 * MiB;
    const chunk = random(MiB);
    let pulled = 0;
    const source = new Readable({
      read() {
        if (pulled >= total) return void this.push(null);
        pulled += chunk.length;
        this.push(chunk);
      },
    });
    const hash = createHash('sha256');
    for (let i = 0; i < total / MiB; i++) hash.update(chunk);
    const digest = hash.digest('hex');
    // The store stalls before reading its body (a slow disk, a slow S3).
    const store = vm.archive.store;
    const put = store.put.bind(store);
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    store.put = async (...args) => {
      await gate;
      return put(...args);
    };
    try {
      const done = uploadObject(
        edge.client,
        edge.md,
        { eventId: id, cameraId: 'porch', kind: 'clip', size: total, sha256: digest, protected: false },
        source,
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(pulled < 16 * MiB, `the edge read ${pulled / MiB} MiB of 64 while the VM was not reading`);
      release();
      assert.equal(await done, 'STORED');
      assert.equal(pulled, total);
    } finally {
      store.put = put;
    }
  });

  it('a second upload of the same object supersedes one in flight', async () => {
    const id = await edge.event('porch');
    const clip = random(2 * MiB);
    let stalled: grpc.ServiceError | null = null;
    const first = new Promise<void>((resolve) => {
      const call = edge.client.Archive(edge.md, (err) => {
        stalled = err;
        resolve();
      });
      call.write({
        header: {
          eventId: id,
          cameraId: 'porch',
          kind: 'clip',
          size: clip.length,
          sha256: sha256(clip),
          protected: false,
        },
      });
      call.write({ data: clip.subarray(0, 256 * 1024) }); // ...and then nothing
    });
    await until(() => filesUnder(join(archiveDir, '.tmp')).length > 0);
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, clip), 'STORED');
    await first;
    assert.equal((stalled as grpc.ServiceError | null)?.code, grpc.status.ABORTED);
    assert.match((stalled as grpc.ServiceError | null)?.details ?? '', /superseded/);
    assert.ok(readFileSync(objectFile(vmDir, 'porch', id, 'clip.mp4')).equals(clip));
  });

  it('serves the stored ciphertext with HTTP Range: 200, 206, 416, and refuses without the token', async () => {
    const id = await edge.event('porch');
    const clip = random(5 * MiB + 7);
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, clip), 'STORED');
    const path = `/api/events/${id}/archive/clip`;
    const whole = await apiGet(vm, path);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-length'), String(clip.length));
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.headers.get('etag'), `"${sha256(clip)}"`);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(clip));

    const part = await apiGet(vm, path, { Range: 'bytes=1000-70999' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1000-70999/${clip.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(clip.subarray(1000, 71000)));
    const tail = await apiGet(vm, path, { Range: `bytes=${clip.length - 10}-` });
    assert.equal(tail.status, 206);
    assert.equal(tail.headers.get('content-range'), `bytes ${clip.length - 10}-${clip.length - 1}/${clip.length}`);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(clip.subarray(clip.length - 10)));
    const past = await apiGet(vm, path, { Range: `bytes=${clip.length + 5}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${clip.length}`);
    assert.equal(((await past.json()) as { error: { code: string } }).error.code, 'RANGE_NOT_SATISFIABLE');

    assert.equal((await fetch(`${vm.url}${path}`)).status, 401);
    assert.equal((await apiGet(vm, `/api/events/${id}/archive/video`)).status, 400);
    assert.equal((await apiGet(vm, `/api/events/${id}/archive/metadata`)).status, 404);
    const doc = (await (await apiGet(vm, '/api/openapi.json')).json()) as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/api/events/{id}/archive/{kind}']);
  });
});

describe('VM archive: quota per camera and retention', function () {
  this.timeout(120_000);
  const dir = tempDir();
  const vmDir = join(dir.path, 'vm');
  const quota = 4_000_000;
  const size = 1_600_000;
  let vm: Vm;
  let edge: TestEdge;
  const cameraStatus = async () => {
    const body = (await (await apiGet(vm, '/api/edges')).json()) as {
      edges: {
        edgeId: string;
        archive: {
          quotaBytesPerCamera: number;
          cameras: { cameraId: string; level: string; percent: number; warning: string | null }[];
        };
      }[];
    };
    const me = body.edges.find((e) => e.edgeId === edge.edgeId);
    assert.equal(me?.archive.quotaBytesPerCamera, quota);
    return me?.archive.cameras.find((c) => c.cameraId === 'drive');
  };
  const held = () =>
    vm.db
      .prepare("SELECT event_id FROM archive_objects WHERE camera_id = 'drive' ORDER BY event_time")
      .pluck()
      .all() as string[];

  before(async () => {
    vm = await startVm(
      validateVmConfig({
        dataDir: vmDir,
        http: { port: 0 },
        grpc: { port: 0, requireTunnel: false },
        wireguard: { enabled: false },
        archive: { quotaBytesPerCamera: quota, retentionDays: 30 },
      }),
      { log },
    );
    edge = await TestEdge.pair(vm, join(dir.path, 'edge'), 'drive-box');
  });

  after(async () => {
    edge?.close();
    await vm?.stop();
    dir.remove();
  });

  it('warns at 80 %, evicts the oldest unprotected first, never a protected one, and refuses when protected objects fill it', async () => {
    const t = Date.now() - 3_600_000;
    const a = await edge.event('drive', { startMs: t });
    const p1 = await edge.event('drive', { startMs: t + 1000, protected: true });
    const b = await edge.event('drive', { startMs: t + 2000 });
    const c = await edge.event('drive', { startMs: t + 3000 });
    const up = (id: string, isProtected = false) =>
      edge.upload({ eventId: id, cameraId: 'drive', kind: 'clip', protected: isProtected }, random(size));

    assert.equal(await up(a), 'STORED');
    assert.equal((await cameraStatus())?.level, 'ok');
    assert.equal(await up(b), 'STORED');
    const warned = await cameraStatus();
    assert.equal(warned?.level, 'warning', '3.2 MB of 4 MB');
    assert.equal(warned?.percent, 80);
    assert.match(warned?.warning ?? '', /80 %/);
    // ...and the warning goes down to the edge with the answer to its telemetry (its dashboard shows it).
    const reply = await new Promise<{ warnings: string[] }>((resolve, reject) =>
      edge.client.PushTelemetry(
        { timeMs: Date.now(), cameras: [] },
        edge.md,
        (err: Error | null, r?: { warnings: string[] }) => (err || !r ? reject(err) : resolve(r)),
      ),
    );
    assert.ok(
      reply.warnings.some((w) => w.startsWith('camera drive:') && /80 %/.test(w)),
      JSON.stringify(reply),
    );

    assert.equal(await up(c), 'STORED');
    assert.deepEqual(held(), [b, c], 'past the quota the oldest (a) went');
    assert.equal(existsSync(objectFile(vmDir, 'drive', a, 'clip.mp4')), false, "a's file is gone too");

    assert.equal(await up(p1, true), 'STORED');
    assert.deepEqual(held(), [p1, c], 'b, the oldest unprotected, went; p1 is older but protected');

    // Protected objects alone beyond the quota: all kept, unprotected uploads refused, the status says so.
    const p2 = await edge.event('drive', { startMs: t + 4000, protected: true });
    const p3 = await edge.event('drive', { startMs: t + 5000, protected: true });
    assert.equal(await up(p2, true), 'STORED');
    assert.equal(await up(p3, true), 'STORED');
    assert.deepEqual(held(), [p1, p2, p3], 'c went; three protected objects (4.8 MB) are kept');
    const full = await cameraStatus();
    assert.equal(full?.level, 'full');
    assert.match(full?.warning ?? '', /protected/);
    const d = await edge.event('drive', { startMs: t + 6000 });
    const refused = await up(d).catch((e: grpc.ServiceError) => e);
    assert.equal((refused as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(archiveErrorIsPermanent(refused), false);
    assert.deepEqual(held(), [p1, p2, p3]);
  });

  it('protection follows the event; retention expires old unprotected objects and keeps protected ones', async () => {
    const old = Date.now() - 40 * 86_400_000;
    const expiring = await edge.event('yard', { startMs: old });
    const kept = await edge.event('yard', { startMs: old + 1000 });
    const recent = await edge.event('yard');
    for (const id of [expiring, kept, recent])
      assert.equal(await edge.upload({ eventId: id, cameraId: 'yard', kind: 'snapshot' }, random(10_000)), 'STORED');
    // The owner protects an event on the edge after its upload: PushEvents tells the VM, the object follows.
    await new Promise((r) => setTimeout(r, 5));
    await edge.event('yard', { id: kept, startMs: old + 1000, protected: true });
    await vm.archive.retention.run();
    const rows = vm.db
      .prepare("SELECT event_id, protected FROM archive_objects WHERE camera_id = 'yard' ORDER BY event_time")
      .all();
    assert.deepEqual(rows, [
      { event_id: kept, protected: 1 },
      { event_id: recent, protected: 0 },
    ]);
    assert.equal(existsSync(objectFile(vmDir, 'yard', expiring, 'snapshot.jpg')), false);
  });
});

describe('VM archive: the VM killed with SIGKILL mid-upload', function () {
  this.timeout(120_000);
  const dir = tempDir();
  const vmDir = join(dir.path, 'vm');
  let proc: ChildProcess | undefined;
  let output = '';
  const token = 'archive-test-token-0123456789';
  let ports: { http: number; grpc: number };

  const startVmProcess = async () => {
    output = '';
    proc = spawn(
      process.execPath,
      [join(projectRoot, 'bin', 'guardian.mjs'), 'vm', '--config', join(dir.path, 'vm.yaml')],
      {
        cwd: projectRoot,
        env: { ...process.env, GUARDIAN_LOG_LEVEL: 'info', GUARDIAN_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    proc.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await until(() => output.includes('VM ready'), 30_000, `the VM to start:\n${output}`);
  };
  const vmInfo = () => ({ url: `http://127.0.0.1:${ports.http}`, apiToken: token });

  before(async () => {
    ports = { http: await freePort(), grpc: await freePort() };
    writeFileSync(
      join(dir.path, 'vm.yaml'),
      [
        `dataDir: ${vmDir}`,
        'http:',
        `  port: ${ports.http}`,
        'api:',
        `  token: ${token}`,
        'grpc:',
        `  port: ${ports.grpc}`,
        '  requireTunnel: false',
        'wireguard:',
        '  enabled: false',
        '',
      ].join('\n'),
    );
    await startVmProcess();
  });

  after(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc?.once('exit', r));
    }
    dir.remove();
  });

  it('leaves no object visible; the restarted VM removes the temporary file and the edge uploads again', async () => {
    const res = await fetch(`${vmInfo().url}/api/pairings`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'killed' }),
    });
    const { code } = (await res.json()) as { code: string };
    const settings = await pairEdge(code, join(dir.path, 'edge'));
    let client = createLinkClient(settings.grpc);
    const md = credentialMetadata(settings.edgeId, settings.secret);
    const id = ulid();
    await new Promise<void>((resolve, reject) =>
      client.PushEvents(
        {
          events: [
            {
              deliveryId: 1,
              kind: 'event.end',
              event: {
                id,
                cameraId: 'porch',
                label: 'person',
                startMs: Date.now() - 5000,
                endMs: Date.now(),
                updatedMs: Date.now(),
              },
            },
          ],
        },
        md,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    const clip = random(6 * MiB);
    const tmp = join(vmDir, 'archive', '.tmp');
    const cut = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.Archive(md, (err) => resolve(err));
      call.write({
        header: {
          eventId: id,
          cameraId: 'porch',
          kind: 'clip',
          size: clip.length,
          sha256: sha256(clip),
          protected: false,
        },
      });
      for (let at = 0; at < 2 * MiB; at += 256 * 1024) call.write({ data: clip.subarray(at, at + 256 * 1024) });
    });
    await until(() => filesUnder(tmp).some((f) => statSync(join(tmp, f)).size > 0), 10_000, 'a partial upload');
    proc?.kill('SIGKILL');
    await new Promise((r) => proc?.once('exit', r));
    const err = await cut;
    assert.equal(err?.code, grpc.status.UNAVAILABLE, `${err?.code} ${err?.details}`);
    assert.equal(filesUnder(tmp).length, 1, 'the interrupted upload left its temporary file');
    assert.equal(existsSync(objectFile(vmDir, 'porch', id, 'clip.mp4')), false, 'but no object');

    await startVmProcess();
    assert.deepEqual(filesUnder(tmp), [], 'cleaned at start');
    assert.match(output, /removed interrupted archive uploads/);
    const listed = (await (await apiGet(vmInfo(), `/api/events/${id}`)).json()) as {
      archived: Record<string, boolean>;
    };
    assert.deepEqual(listed.archived, { clip: false, snapshot: false, metadata: false });

    client.close();
    client = createLinkClient(settings.grpc);
    const header = {
      eventId: id,
      cameraId: 'porch',
      kind: 'clip' as const,
      size: clip.length,
      sha256: sha256(clip),
      protected: false,
    };
    assert.equal(await uploadObject(client, md, header, chunked(clip)), 'STORED');
    assert.equal(await uploadObject(client, md, header, chunked(clip)), 'UNCHANGED');
    const back = await apiGet(vmInfo(), `/api/events/${id}/archive/clip`);
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(clip));
    client.close();
  });
});
