// Issue #20 items 2, 4, 5 and camera credentials at rest. Each test replays the attack that worked before:
//  - item 4: non-canonical IPv4 forms, IPv4-mapped IPv6 and trailing-dot names got past the metadata/link-local
//    blocklist (WHATWG URL does not normalise rtsp: hosts, the C resolver reads them all), names were never resolved;
//  - item 2: re-pointing a camera at another host kept its stored password, and the new server received it;
//  - item 5: a file camera could read any file, and said whether it existed;
//  - credentials were stored in clear in guardian.db.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

import { forbiddenHost, inetAton, pinUrl, type Resolver, resolveHost } from '../../src/edge/cameras/hosts.ts';
import { CameraRegistry, credentialsRepointed } from '../../src/edge/cameras/registry.ts';
import { CREDENTIAL_KEY_FILE } from '../../src/edge/cameras/secrets.ts';
import { CameraSupervisor } from '../../src/edge/cameras/supervisor.ts';
import { defaultCameraPolicy, FILE_REFUSED, parseCameraUrl } from '../../src/edge/cameras/url.ts';
import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { edgeMigrations, openEdgeDatabase } from '../../src/edge/schema.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { openDatabase } from '../../src/shared/db.ts';
import type { FieldIssue } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/log.ts';
import { media, tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every form of 169.254.169.254 (and friends) that got past the old blocklist. */
const BYPASSES = [
  'rtsp://2852039166/',
  'rtsp://0xa9.0xfe.0xa9.0xfe/',
  'rtsp://0251.0376.0251.0376/',
  'rtsp://169.254.43518/',
  'rtsp://169.16689662/',
  'rtsp://0xA9FEA9FE/',
  'rtsp://[::ffff:a9fe:a9fe]/',
  'rtsp://[::ffff:169.254.169.254]/',
  'rtsp://[64:ff9b::a9fe:a9fe]/',
  'rtsp://metadata.google.internal./',
  'rtsp://METADATA.google.internal../',
  'rtsp://100.100.100.200/',
  'rtsp://[fd00:ec2::254]/',
  'rtsp://0/',
  'rtsp://0x0.0.0.0/',
  'rtsp://%31%36%39.254.169.254/',
  'rtsp://1.2.3.4.5/',
];

/** A server that speaks just enough RTSP to ask for Basic authentication, and records every request it receives. */
class RecordingRtspServer {
  readonly requests: string[] = [];
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      let buffer = '';
      socket.on('data', (d) => {
        buffer += d.toString('latin1');
        let end = buffer.indexOf('\r\n\r\n');
        while (end >= 0) {
          const request = buffer.slice(0, end);
          buffer = buffer.slice(end + 4);
          this.requests.push(request);
          const cseq = /^CSeq:\s*(\d+)/im.exec(request)?.[1] ?? '1';
          socket.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="camera"\r\n\r\n`);
          end = buffer.indexOf('\r\n\r\n');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this;
  }

  /** The requests that carry this password: in clear, in a Basic Authorization header, or anywhere base64. */
  leaked(password: string): string[] {
    return this.requests.filter((r) => {
      const basic = /^Authorization:\s*Basic\s+(\S+)/im.exec(r)?.[1];
      const decoded = basic ? Buffer.from(basic, 'base64').toString('utf8') : '';
      return r.includes(password) || decoded.includes(password) || r.includes(Buffer.from(password).toString('base64'));
    });
  }

  /** Requests with any Authorization header. */
  authorized(): string[] {
    return this.requests.filter((r) => /^Authorization:/im.test(r));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

async function until(what: string, fn: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function urlIssues(url: string, purpose: 'stream' | 'snapshot' = 'stream'): FieldIssue[] {
  const issues: FieldIssue[] = [];
  parseCameraUrl('recordUrl', url, 'rtsp', purpose, issues);
  return issues;
}

describe('camera hosts: the blocklist reads hosts as the C resolver does (#20 item 4)', () => {
  it('refuses every non-canonical form of a metadata, link-local or unspecified address', () => {
    for (const url of BYPASSES) assert.equal(urlIssues(url).length, 1, `${url} was accepted`);
    // What the old check let through, checked on the hostname alone as it did.
    for (const host of [
      '2852039166',
      '0xa9.0xfe.0xa9.0xfe',
      '0251.0376.0251.0376',
      '169.254.43518',
      '[::ffff:a9fe:a9fe]',
    ])
      assert.ok(forbiddenHost(host), host);
  });

  it('parses IPv4 as inet_aton does (decimal, octal, hex, 1 to 4 parts) and nothing else', () => {
    const same: [string, string][] = [
      ['2852039166', '169.254.169.254'],
      ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
      ['0251.0376.0251.0376', '169.254.169.254'],
      ['169.254.43518', '169.254.169.254'],
      ['169.16689662', '169.254.169.254'],
      ['017777777777', '127.255.255.255'],
      ['1.0xffffff', '1.255.255.255'],
      ['00000000000000000001.2.3.4', '1.2.3.4'],
    ];
    for (const [form, ip] of same) assert.equal(inetAton(form)?.toString(), ip, form);
    for (const form of ['08.1.1.1', '1.2.65536', '4294967296', '1..2', '.1.2.3', '0x', '1.2.3.4.5', 'cam'])
      assert.equal(inetAton(form), undefined, form);
  });

  it('keeps loopback for RTSP (a local restreamer) but refuses it, and the appliance itself, for snapshot URLs', () => {
    assert.deepEqual(urlIssues('rtsp://127.0.0.1:8554/cam'), []);
    assert.deepEqual(urlIssues('rtsp://[::1]:8554/cam'), []);
    assert.deepEqual(urlIssues('rtsp://192.168.1.20/cam'), []);
    for (const url of ['http://127.0.0.1/snap.jpg', 'http://0x7f.1/snap.jpg', 'http://[::1]/snap.jpg', 'http://0/'])
      assert.equal(urlIssues(url, 'snapshot').length, 1, url);
    const own = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4');
    if (own) assert.match(urlIssues(`http://${own.address}/snap.jpg`, 'snapshot')[0]?.message ?? '', /own addresses/);
    // A canonical form is what is stored (and shown).
    const issues: FieldIssue[] = [];
    assert.equal(
      parseCameraUrl('recordUrl', 'rtsp://0xc0.0xa8.1.9/x', 'rtsp', 'stream', issues)?.url,
      'rtsp://192.168.1.9/x',
    );
  });

  it('resolves names and refuses one with any forbidden address; pins the URL to the checked address', async () => {
    const dns =
      (table: Record<string, string[]>): Resolver =>
      async (name) => {
        const found = table[name];
        if (!found) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
        return found;
      };
    const resolve = dns({
      'evil.example': ['169.254.169.254'],
      'mixed.example': ['192.168.1.20', '::ffff:169.254.169.254'],
      'cam.example': ['192.168.1.20', '192.168.1.21'],
      'cam6.example': ['fd00::20'],
    });
    await assert.rejects(resolveHost('evil.example', 'stream', resolve), { code: 'FORBIDDEN' });
    await assert.rejects(resolveHost('mixed.example', 'stream', resolve), { code: 'FORBIDDEN' });
    await assert.rejects(resolveHost('nowhere.example', 'stream', resolve), { code: 'UNAVAILABLE' });
    await assert.rejects(resolveHost('localhost', 'snapshot'), { code: 'FORBIDDEN' }); // the real resolver: /etc/hosts
    assert.equal((await resolveHost('localhost', 'stream')).range(), 'loopback');
    assert.deepEqual(await pinUrl('rtsp://admin:p%40ss@cam.example:8554/live?ch=1', 'stream', resolve), {
      url: 'rtsp://admin:p%40ss@192.168.1.20:8554/live?ch=1',
      host: 'cam.example',
    });
    assert.equal((await pinUrl('rtsps://cam6.example/x', 'stream', resolve)).url, 'rtsps://[fd00::20]/x');
  });

  it('connections resolve again and go to the checked address: a name rebound to metadata is refused', async () => {
    const server = await new RecordingRtspServer().start();
    const answers = [['127.0.0.1'], ['169.254.169.254']];
    let lookups = 0;
    const resolve: Resolver = async () => answers[Math.min(lookups++, answers.length - 1)] ?? [];
    const health: { status: string; lastErrorCode: string | null; lastError: string | null }[] = [];
    const sup = new CameraSupervisor(
      {
        id: 'rebound',
        kind: 'rtsp',
        // .invalid never resolves: the only way to reach the server is the pinned address.
        recordUrl: `rtsp://camera.invalid:${server.port}/x`,
        detectUrl: `rtsp://camera.invalid:${server.port}/x`,
        detectFps: 1,
        options: {},
      },
      {
        stallTimeoutMs: 2000,
        connectTimeoutMs: 2000,
        backoff: { initialMs: 50, maxMs: 100, factor: 2, jitter: 0 },
        resolve,
      },
      createLogger({ level: 'silent' }),
    );
    sup.on('health', (h) => health.push(h));
    try {
      sup.start();
      await until('a second resolution', () => lookups >= 2 && health.some((h) => h.lastErrorCode === 'FORBIDDEN'));
      assert.equal(server.connections, 1, 'only the first resolution led to a connection');
      assert.match(server.requests[0] ?? '', /^OPTIONS rtsp:\/\/127\.0\.0\.1:\d+\/x RTSP\/1\.0/);
      const refused = health.find((h) => h.lastErrorCode === 'FORBIDDEN');
      assert.equal(refused?.status, 'error');
      assert.match(refused?.lastError ?? '', /169\.254\.169\.254/);
    } finally {
      await sup.stop();
      await server.stop();
    }
  });
});

describe('camera credentials follow the address they were given for (#20 item 2)', () => {
  const targets = (recordUrl: string, extra: Partial<{ detectUrl: string; snapshotUrl: string }> = {}) => ({
    recordUrl,
    detectUrl: extra.detectUrl ?? null,
    snapshotUrl: extra.snapshotUrl ?? null,
    options: {},
  });

  it('a change of scheme, host or port is a new address; a new path or a snapshot on the same device is not', () => {
    const before = targets('rtsp://10.0.0.5/main');
    for (const after of [
      targets('rtsp://10.0.0.6/main'),
      targets('rtsps://10.0.0.5/main'),
      targets('rtsp://10.0.0.5:8554/main'),
      targets('rtsp://10.0.0.5/main', { detectUrl: 'rtsp://10.0.0.9/sub' }),
      targets('rtsp://10.0.0.5/main', { snapshotUrl: 'http://10.0.0.9/snap.jpg' }),
    ])
      assert.equal(credentialsRepointed(before, after), true, JSON.stringify(after));
    for (const after of [
      targets('rtsp://10.0.0.5/other'),
      targets('rtsp://10.0.0.5:554/main'),
      targets('rtsp://10.0.0.5/main', { detectUrl: 'rtsp://10.0.0.5/sub' }),
      targets('rtsp://10.0.0.5/main', { snapshotUrl: 'http://10.0.0.5/snap.jpg' }),
    ])
      assert.equal(credentialsRepointed(before, after), false, JSON.stringify(after));
  });

  it('the registry drops them when re-pointed, keeps them otherwise, and takes new ones given with the change', () => {
    const reg = new CameraRegistry(openEdgeDatabase(':memory:'));
    reg.add({ id: 'door', name: 'Door', kind: 'rtsp', recordUrl: 'rtsps://admin:s3cret@10.0.0.5/main' });
    reg.update('door', { recordUrl: 'rtsps://10.0.0.5/other' });
    assert.equal(reg.connection('door').recordUrl, 'rtsps://admin:s3cret@10.0.0.5/other');
    reg.update('door', { recordUrl: 'rtsps://10.0.0.6/other' });
    assert.equal(reg.connection('door').recordUrl, 'rtsps://10.0.0.6/other');
    assert.equal(reg.get('door').hasCredentials, false);
    reg.update('door', { recordUrl: 'rtsps://10.0.0.7/x', username: 'admin', password: 'n3w' });
    assert.equal(reg.connection('door').recordUrl, 'rtsps://admin:n3w@10.0.0.7/x');
    // A new username alone does not carry the old password to a new address.
    reg.update('door', { recordUrl: 'rtsps://10.0.0.8/x', username: 'viewer' });
    assert.equal(reg.connection('door').recordUrl, 'rtsps://viewer@10.0.0.8/x');
    reg.update('door', { username: null });
    assert.equal(reg.get('door').hasCredentials, false);
  });

  it('warns about credentials over plain rtsp://, and refuses them when configured to', () => {
    const reg = new CameraRegistry(openEdgeDatabase(':memory:'));
    const policy = { ...defaultCameraPolicy, refusePlainRtspCredentials: true };
    assert.throws(
      () => reg.add({ name: 'Yard', kind: 'rtsp', recordUrl: 'rtsp://admin:pw@10.0.0.5/x' }, policy),
      (e: { code?: string; issues?: FieldIssue[] }) =>
        e.code === 'INVALID_ARGUMENT' && /refusePlainRtspCredentials/.test(e.issues?.[0]?.message ?? ''),
    );
    assert.ok(reg.add({ name: 'Yard', kind: 'rtsp', recordUrl: 'rtsps://admin:pw@10.0.0.5/x' }, policy));
    assert.ok(reg.add({ name: 'Gate', kind: 'rtsp', recordUrl: 'rtsp://10.0.0.6/x' }, policy));
  });
});

describe('cameras through the HTTP API (#20 items 2, 4, 5; credentials at rest)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-security-cameras-');
  const dataDir = join(dir.path, 'data');
  const mediaDir = join(dir.path, 'videos');
  let edge: Edge;
  let auth: Record<string, string>;
  const json = { 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${edge.url}/api${path}`, {
      method,
      headers: { ...auth, ...json },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : null) as Record<string, unknown> & {
        error?: { issues?: FieldIssue[]; message?: string };
      },
    };
  };
  const issues = (r: { body: { error?: { issues?: FieldIssue[] } } }) => r.body.error?.issues ?? [];

  before(async () => {
    mkdirSync(mediaDir, { recursive: true });
    copyFileSync(media.vtest, join(mediaDir, 'porch.mp4'));
    symlinkSync('/etc/passwd', join(mediaDir, 'escape.mp4'));
    edge = await startEdge(
      validateConfig({
        dataDir,
        http: { host: '127.0.0.1', port: 0 },
        cameraSources: { mediaDirs: [mediaDir] },
      }),
      { log: createLogger({ level: 'silent' }) },
    );
    const t = edge.ctx.auth.createApiToken('test') as unknown;
    auth = { authorization: `Bearer ${typeof t === 'string' ? t : (t as { token: string }).token}` };
    await until('the media process', () => edge.ctx.media.ready, 120_000);
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('refuses every bypass form when a camera is added and when it is changed', async () => {
    const ok = await call('POST', '/cameras', {
      id: 'side',
      name: 'Side',
      kind: 'rtsp',
      recordUrl: 'rtsp://192.168.1.9/s',
      enabled: false,
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    for (const url of BYPASSES) {
      const added = await call('POST', '/cameras', { name: 'Evil', kind: 'rtsp', recordUrl: url });
      assert.equal(added.status, 400, `POST ${url}: ${added.status}`);
      assert.deepEqual(
        issues(added).map((i) => i.field),
        ['recordUrl'],
        url,
      );
      const changed = await call('PUT', '/cameras/side', { recordUrl: url });
      assert.equal(changed.status, 400, `PUT ${url}: ${changed.status}`);
      const detect = await call('PUT', '/cameras/side', { detectUrl: url });
      assert.equal(detect.status, 400, `PUT detectUrl ${url}: ${detect.status}`);
    }
    assert.equal((await call('GET', '/cameras/side')).body.recordUrl, 'rtsp://192.168.1.9/s');
    // A test connection is the same attack with an immediate answer.
    const tested = await call('POST', '/cameras/test', { url: 'rtsp://0xa9.0xfe.0xa9.0xfe/' });
    assert.equal(tested.status, 400);
  });

  it('refuses a snapshot URL whose name resolves to loopback (the appliance itself)', async () => {
    for (const snapshotUrl of ['http://localhost:8080/api/config', 'http://localhost./x', 'http://127.0.0.1/x']) {
      const r = await call('POST', '/cameras', {
        name: 'Snap',
        kind: 'rtsp',
        recordUrl: 'rtsp://192.168.1.9/s',
        snapshotUrl,
      });
      assert.equal(r.status, 400, snapshotUrl);
      assert.deepEqual(
        issues(r).map((i) => i.field),
        ['snapshotUrl'],
      );
      assert.match(issues(r)[0]?.message ?? '', /loopback/);
    }
    const onvif = await call('POST', '/cameras', {
      name: 'Onvif',
      kind: 'onvif',
      recordUrl: 'rtsp://192.168.1.9/s',
      options: { onvif: 'http://localhost/onvif/device_service' },
    });
    assert.deepEqual(
      issues(onvif).map((i) => i.field),
      ['options.onvif'],
    );
  });

  it('re-pointing a camera at another host does not send it the stored password', async () => {
    const password = 'Hunter2-only-for-A';
    const a = await new RecordingRtspServer().start();
    const b = await new RecordingRtspServer().start();
    try {
      const added = await call('POST', '/cameras', {
        id: 'porch-rtsp',
        name: 'Porch RTSP',
        kind: 'rtsp',
        recordUrl: `rtsp://admin:${password}@127.0.0.1:${a.port}/live`,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.match(String(added.body.warnings), /plain rtsp:\/\/.*Basic/);
      // The camera's own server gets the credentials: the recorder sees a leak when there is one.
      await until('the credentials at A', () => a.leaked(password).length > 0);

      const moved = await call('PUT', '/cameras/porch-rtsp', { recordUrl: `rtsp://127.0.0.1:${b.port}/live` });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.hasCredentials, false);
      assert.match(String(moved.body.warnings), /dropped/);
      await until('two connections at B', () => b.connections >= 2 && b.requests.length >= 2);
      await sleep(500);
      assert.deepEqual(b.authorized(), [], 'the new server received the old credentials');
      assert.equal(edge.ctx.registry.connection('porch-rtsp').recordUrl, `rtsp://127.0.0.1:${b.port}/live`);

      // Given again with the change, they go to the new address (and the recorder would see them).
      const given = await call('PUT', '/cameras/porch-rtsp', { username: 'admin', password: 'for-B' });
      assert.equal(given.status, 200);
      await until('the new credentials at B', () => b.leaked('for-B').length > 0);
      assert.deepEqual(b.leaked(password), []);
    } finally {
      await call('DELETE', '/cameras/porch-rtsp');
      await a.stop();
      await b.stop();
    }
  });

  it('refuses credentials over plain rtsp:// when cameraSources.refusePlainRtspCredentials is set', async () => {
    const saved = edge.ctx.config;
    edge.ctx.config = validateConfig({
      ...saved,
      cameraSources: { ...saved.cameraSources, refusePlainRtspCredentials: true },
    });
    try {
      const r = await call('POST', '/cameras', {
        name: 'Plain',
        kind: 'rtsp',
        recordUrl: 'rtsp://admin:pw@192.168.1.9/s',
      });
      assert.equal(r.status, 400);
      assert.match(issues(r)[0]?.message ?? '', /refusePlainRtspCredentials/);
    } finally {
      edge.ctx.config = saved;
    }
  });

  it('file cameras read only the media folders, with one answer for missing and forbidden files', async () => {
    const messages = new Set<string>();
    for (const recordUrl of [
      '/etc/passwd',
      '/etc/no-such-file.mp4',
      join(mediaDir, 'no-such-file.mp4'),
      join(mediaDir, 'escape.mp4'), // a symbolic link to /etc/passwd
      mediaDir,
      `file://${join(dir.path, 'data', 'guardian.db')}`,
    ]) {
      const r = await call('POST', '/cameras', { name: 'File', kind: 'file', recordUrl });
      assert.equal(r.status, 400, recordUrl);
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes('/etc') && !text.includes(dir.path), `the answer names the path: ${text}`);
      messages.add(issues(r)[0]?.message ?? '');
      const tested = await call('POST', '/cameras/test', { kind: 'file', url: recordUrl });
      assert.equal(tested.status, 400);
      messages.add(issues(tested)[0]?.message ?? '');
    }
    assert.deepEqual([...messages], [FILE_REFUSED]);
    const inside = await call('POST', '/cameras', {
      name: 'Porch file',
      kind: 'file',
      recordUrl: join(mediaDir, 'porch.mp4'),
    });
    assert.equal(inside.status, 201, JSON.stringify(inside.body));
    const demo = await call('POST', '/cameras', {
      name: 'Demo file',
      kind: 'file',
      recordUrl: media.vtest,
      enabled: false,
    });
    assert.equal(demo.status, 201, 'the demo sample is always allowed');
  });

  it('keeps camera credentials sealed in guardian.db, with the key in a 0600 file', async () => {
    const password = 'Corr3ct-Horse-unique-7f3a';
    const r = await call('POST', '/cameras', {
      id: 'sealed',
      name: 'Sealed',
      kind: 'rtsp',
      recordUrl: 'rtsps://192.168.1.30/s',
      username: 'owner-name-9c1e',
      password,
      enabled: false,
    });
    assert.equal(r.status, 201);
    edge.ctx.db.pragma('wal_checkpoint(PASSIVE)');
    for (const file of ['guardian.db', 'guardian.db-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dataDir, file));
      } catch {
        continue;
      }
      for (const secret of [password, Buffer.from(password).toString('base64'), 'owner-name-9c1e'])
        assert.equal(bytes.indexOf(secret), -1, `${secret} in ${file}`);
    }
    assert.equal(statSync(join(dataDir, CREDENTIAL_KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(
      edge.ctx.registry.connection('sealed').recordUrl,
      `rtsps://owner-name-9c1e:${password}@192.168.1.30/s`,
    );
  });
});

describe('camera credentials stored in clear by an older version are sealed at start', () => {
  it('no plaintext password is left in the database file or its WAL', () => {
    const dir = tempDir('guardian-seal-migration-');
    try {
      const path = join(dir.path, 'guardian.db');
      const password = 'Old-Plaintext-pw-4e2b';
      const old = openDatabase(
        path,
        edgeMigrations.filter((m) => m.version <= 5),
      );
      old
        .prepare(
          `INSERT INTO cameras (id, name, kind, record_url, enabled, detect_fps, options, created_at, updated_at)
           VALUES ('old', 'Old', 'rtsp', 'rtsp://10.0.0.5/x', 1, 5, '{}', 0, 0)`,
        )
        .run();
      old
        .prepare(`INSERT INTO camera_credentials (camera_id, username, password) VALUES ('old', 'admin', ?)`)
        .run(password);
      old.close();
      assert.notEqual(readFileSync(path).indexOf(password), -1, 'the old version stored it in clear');

      const db = openEdgeDatabase(path);
      const reg = new CameraRegistry(db);
      assert.equal(reg.connection('old').recordUrl, `rtsp://admin:${password}@10.0.0.5/x`);
      for (const file of ['guardian.db', 'guardian.db-wal']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(dir.path, file));
        } catch {
          continue;
        }
        assert.equal(bytes.indexOf(password), -1, `plaintext left in ${file}`);
      }
      db.close();
      // Opened again (the same key file), the credentials are still there.
      const again = new CameraRegistry(openEdgeDatabase(path));
      assert.equal(again.connection('old').recordUrl, `rtsp://admin:${password}@10.0.0.5/x`);
    } finally {
      dir.remove();
    }
  });
});
