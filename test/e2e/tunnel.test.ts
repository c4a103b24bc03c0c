// The edge and the VM in two network namespaces joined by a veth, each with its own wireguard-go, paired with the real
// flow (`guardian keys pair` on the VM, `guardian pair` on the edge); the test reaches the VM's API the way its owner
// would, over a third link. Everything between edge and VM crosses the WireGuard tunnel:
//   Milestone 1: an event detected from a file camera arrives in the VM cache with identical content.
//   Milestone 2: the VM relays its clip (plays, honours Range); edge killed mid-relay → the client sees a failure.
//   Link down 60 s → everything delivered after recovery, exact count; replays and a VM kill -9 between insert and
//   ack duplicate nothing and lose nothing; a connection from outside the tunnel is refused.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import Database from 'better-sqlite3';
import YAML from 'yaml';

import { CameraRegistry } from '../../src/edge/cameras/registry.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore, eventPayload } from '../../src/edge/events/store.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { wireGuardUnavailable } from '../../src/shared/wireguard/interface.ts';
import { execFileAsync, ffprobeJson, media, tempDir } from '../helpers.ts';
import { createNetnsPair, linkFromHost, type NetnsPair, netnsUnavailable } from '../support/netns.ts';

const guardian = join(projectRoot, 'bin', 'guardian.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined); // e.g. a server still starting
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** A guardian process inside a namespace; its output is kept for the failure report. */
class NsProcess {
  proc: ChildProcess | undefined;
  output = '';
  constructor(
    readonly name: string,
    private readonly ns: string,
    private readonly args: string[],
  ) {}
  /** `nodeOptions` go to node before the CLI, e.g. a test hook preloaded with --import. */
  start(nodeOptions: string[] = []): void {
    this.proc = spawn('ip', ['netns', 'exec', this.ns, process.execPath, ...nodeOptions, guardian, ...this.args], {
      cwd: projectRoot,
      env: { ...process.env, GUARDIAN_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
      if (process.env.GUARDIAN_TEST_LOGS) appendFileSync(join(process.env.GUARDIAN_TEST_LOGS, `${this.name}.log`), d);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
  }
  exited(): Promise<{ code: number | null; signal: string | null }> {
    const p = this.proc;
    if (!p) return Promise.resolve({ code: null, signal: null });
    if (p.exitCode !== null || p.signalCode !== null)
      return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
    return new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
    await this.exited();
    clearTimeout(timer);
  }
}

describe('edge ↔ VM through a real WireGuard tunnel (network namespaces)', function () {
  this.timeout(300_000);
  const skipReason = netnsUnavailable() ?? wireGuardUnavailable();
  const dir = tempDir();
  const id = randomBytes(2).toString('hex');
  let net: NetnsPair | undefined;
  let vmBase = '';
  const apiToken = randomBytes(24).toString('base64url');
  const edgeData = join(dir.path, 'edge');
  const vmData = join(dir.path, 'vm');
  let vm: NsProcess;
  let edge: NsProcess;
  let edgeId = '';

  const vmApi = async <T>(path: string, headers: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${vmBase}${path}`, { headers: { Authorization: `Bearer ${apiToken}`, ...headers } });
    assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  const edgeDb = () => new Database(join(edgeData, 'guardian.db'), { readonly: true, fileMustExist: true });
  const edgeEvents = () => {
    const db = edgeDb();
    try {
      const store = new EventStore(db, new Outbox(db));
      const ids = db.prepare('SELECT id FROM events ORDER BY id').pluck().all() as string[];
      return {
        records: ids.map((i) => store.get(i)).filter((e) => e !== undefined),
        outbox: db.prepare('SELECT count(*) FROM outbox').pluck().get() as number,
      };
    } finally {
      db.close();
    }
  };
  const vmEventIds = () => {
    const db = new Database(join(vmData, 'vm.db'), { readonly: true, fileMustExist: true });
    try {
      return db
        .prepare("SELECT event_id FROM events WHERE camera_id = 'street' ORDER BY event_id")
        .pluck()
        .all() as string[];
    } finally {
      db.close();
    }
  };
  const vmEvents = async () =>
    (
      await vmApi<{ events: { eventId: string; endTimestamp: number | null; metadata: { updatedMs: number } }[] }>(
        `/api/events?edge=${edgeId}&camera=street&limit=1000`,
      )
    ).events;
  /**
   * The camera keeps producing events, so "in sync" is judged against a snapshot of the edge: every event it holds
   * is at the VM (ended ones with their end: progress in between is local to the edge), the VM has no event the edge
   * does not, and none twice.
   */
  const covers = async (snapshot: { id: string; endMs: number | null }[]) => {
    const events = await vmEvents();
    const held = new Map(events.map((v) => [v.eventId, v]));
    const current = new Set(edgeEvents().records.map((r) => r.id));
    return (
      snapshot.every((r) => held.has(r.id) && (r.endMs === null || held.get(r.id)?.endTimestamp === r.endMs)) &&
      events.every((v) => current.has(v.eventId)) &&
      held.size === events.length
    );
  };

  before(async function () {
    if (skipReason) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
    const subnet = 10 + Math.floor(Math.random() * 200);
    net = createNetnsPair(subnet);
    const owner = linkFromHost(net.a.ns, subnet);
    vmBase = `http://${owner.nsIp}:8600`;

    writeFileSync(
      join(dir.path, 'vm.yaml'),
      YAML.stringify({
        dataDir: vmData,
        http: { host: '0.0.0.0', port: 8600, publicUrl: `http://${net.a.ip}:8600` },
        api: { token: apiToken },
        grpc: { port: 50051 }, // requireTunnel: the default
        wireguard: {
          interface: `gwv${id}`,
          address: `10.78.${subnet}.1/24`,
          listenPort: 51820,
          endpoint: `${net.a.ip}:51820`,
        },
        telemetry: { offlineAfterSeconds: 30 },
      }),
    );
    writeFileSync(
      join(dir.path, 'edge.yaml'),
      YAML.stringify({
        dataDir: edgeData,
        http: { host: '127.0.0.1', port: 8080 },
        link: { interface: `gwe${id}`, heartbeatSeconds: 2, telemetrySeconds: 2 },
        recording: { minFreeBytes: 256 * 1024 * 1024, minFreeMinutes: 0, continuousDays: 1, segmentSeconds: 4 },
        events: { endAfterSeconds: 2 },
        cameras: { street: { recordMode: 'continuous' } },
      }),
    );
    // The edge's camera: the sample video in real time, looping.
    const db = openEdgeDatabase(join(edgeData, 'guardian.db'));
    new CameraRegistry(db).add({ id: 'street', name: 'Street', kind: 'file', recordUrl: media.vtest, detectFps: 5 });
    db.close();

    vm = new NsProcess('vm', net.a.ns, ['vm', '--config', join(dir.path, 'vm.yaml')]);
    vm.start();
    await until(
      'the VM API',
      () =>
        fetch(`${vmBase}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
    );

    // Pairing, as the owner does it: a code on the VM, handed to the edge (on stdin: not in the process list).
    const issued = JSON.parse(
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          net.a.ns,
          process.execPath,
          guardian,
          'keys',
          'pair',
          '--config',
          join(dir.path, 'vm.yaml'),
          '--name',
          'porch',
          '--json',
        ],
        { cwd: projectRoot, encoding: 'utf8' },
      ),
    ) as { code: string; edgeId: string };
    const paired = JSON.parse(
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          net.b.ns,
          process.execPath,
          guardian,
          'pair',
          '-',
          '--config',
          join(dir.path, 'edge.yaml'),
          '--json',
        ],
        { cwd: projectRoot, encoding: 'utf8', input: issued.code },
      ),
    ) as { edgeId: string; vm: string; tunnel: string };
    assert.equal(paired.edgeId, issued.edgeId);
    assert.equal(paired.tunnel, `10.78.${subnet}.2/24`);
    edgeId = paired.edgeId;

    edge = new NsProcess('edge', net.b.ns, ['edge', '--config', join(dir.path, 'edge.yaml')]);
    edge.start();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      for (const p of [vm, edge]) if (p) console.log(`----- ${p.name} output (end) -----\n${p.output.slice(-6000)}`);
  });

  after(async () => {
    await edge?.stop();
    await vm?.stop();
    net?.remove();
    // wireguard-go exits with its interface, which went with the namespace; its socket file may stay behind.
    spawnSync('rm', ['-f', `/var/run/wireguard/gwv${id}.sock`, `/var/run/wireguard/gwe${id}.sock`]);
    dir.remove();
  });

  it('Milestone 1: an event detected on the edge arrives in the VM cache with identical content', async () => {
    // An ended event whose latest version the VM holds: the content must be the same.
    const [ended, cached] = await until(
      'an ended event at the VM in its latest version',
      async () => {
        const held = new Map((await vmEvents()).map((v) => [v.eventId, v]));
        for (const e of edgeEvents().records)
          if (e.endMs !== null && held.get(e.id)?.metadata.updatedMs === e.updatedMs)
            return [e, held.get(e.id)] as const;
        return undefined;
      },
      90_000,
    );
    assert.deepEqual(cached?.metadata, eventPayload(ended));
    const one = await vmApi<{ edgeId: string; metadata: unknown }>(`/api/events/${ended.id}`);
    assert.equal(one.edgeId, edgeId);
    const edges = await vmApi<{
      edges: {
        edgeId: string;
        name: string;
        tunnelAddress: string;
        status: string;
        connected: boolean;
        tunnel: { lastHandshakeAgeSeconds: number | null; rxBytes: number } | null;
      }[];
    }>('/api/edges');
    const me = edges.edges.find((e) => e.edgeId === edgeId);
    assert.equal(me?.connected, true);
    assert.ok(
      me?.tunnel && me.tunnel.lastHandshakeAgeSeconds !== null && me.tunnel.rxBytes > 0,
      'the VM sees the handshake',
    );
    assert.equal(me?.status, 'healthy');
    const { samples } = await vmApi<{
      samples: { metrics: { handshakeAgeSeconds: number | null; linkLatencyMs: number } }[];
    }>(`/api/edges/${edgeId}/telemetry`);
    const last = samples.at(-1)?.metrics;
    assert.ok(
      last && last.handshakeAgeSeconds !== null && last.handshakeAgeSeconds < 180,
      'the tunnel has shaken hands',
    );
    assert.ok(last.linkLatencyMs > 0, 'gRPC ping latency is reported');
  });

  it('Milestone 2: the VM relays an event clip from the edge that plays and honours Range', async () => {
    const withClip = await until(
      'an event whose clip the edge has cut',
      () => edgeEvents().records.find((e) => e.clip),
      90_000,
    );
    const res = await fetch(`${vmBase}/api/events/${withClip.id}/clip`, {
      headers: { Authorization: `Bearer ${apiToken}` },
    });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(Number(res.headers.get('content-length')), body.length);
    const file = join(dir.path, 'relayed.mp4');
    writeFileSync(file, body);
    const probe = await ffprobeJson(file);
    assert.ok(Number(probe.format?.duration) > 2, `the relayed clip plays (${probe.format?.duration} s)`);
    await execFileAsync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
    const part = await fetch(`${vmBase}/api/events/${withClip.id}/clip`, {
      headers: { Authorization: `Bearer ${apiToken}`, Range: 'bytes=100-4195' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-4195/${body.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(body.subarray(100, 4196)));
  });

  it('refuses link connections from outside the tunnel and stores a replayed batch once', async () => {
    // Not execFileSync: a blocked event loop would not see the VM close an idle keep-alive connection, and the next
    // API request would be sent on it ("other side closed").
    const probe = async (ns: string, prefix: string) =>
      JSON.parse(
        (
          await execFileAsync(
            'ip',
            [
              'netns',
              'exec',
              ns,
              process.execPath,
              '--import',
              'tsx',
              join(projectRoot, 'test', 'support', 'link_probe.ts'),
              edgeData,
              prefix,
            ],
            { cwd: projectRoot, encoding: 'utf8' },
          )
        ).stdout,
      ) as { rounds?: string[][]; error?: number; details?: string };
    // The edge's own credential, but from the VM's namespace: not through the edge's tunnel address.
    const outside = await probe(net?.a.ns ?? '', '01KREP1AYOUTS1DE000000000');
    assert.equal(outside.error, 7, `PERMISSION_DENIED expected: ${JSON.stringify(outside)}`);
    const through = await probe(net?.b.ns ?? '', '01KREP1AYTVNNE1000000000A');
    assert.deepEqual(through.rounds, [
      ['STORED', 'STORED', 'STORED'],
      ['UNCHANGED', 'UNCHANGED', 'UNCHANGED'],
      ['UNCHANGED', 'UNCHANGED', 'UNCHANGED'],
    ]);
    const { events } = await vmApi<{ events: unknown[] }>(`/api/events?camera=probe&limit=100`);
    assert.equal(events.length, 3);
  });

  it('link down 60 s while events are produced: all delivered after recovery, exact count, no duplicates', async () => {
    const before = edgeEvents().records.length;
    execFileSync('ip', ['-n', net?.b.ns ?? '', 'link', 'set', net?.b.dev ?? '', 'down']);
    const downAt = Date.now();
    try {
      await sleep(60_000);
    } finally {
      execFileSync('ip', ['-n', net?.b.ns ?? '', 'link', 'set', net?.b.dev ?? '', 'up']);
    }
    const during = edgeEvents();
    assert.ok(
      during.records.length > before,
      `events were produced during the outage (${before} → ${during.records.length})`,
    );
    assert.ok(during.outbox > 0, 'and they waited in the outbox');
    const snapshot = edgeEvents().records;
    await until('everything delivered after the link returns', () => covers(snapshot), 90_000);
    const ids = new Set(vmEventIds());
    assert.equal(snapshot.filter((e) => ids.has(e.id)).length, snapshot.length, 'exact count: every event, once');
    console.log(
      `      ${during.records.length - before} events during the outage; in sync ${((Date.now() - downAt) / 1000 - 60).toFixed(1)} s after the link returned`,
    );
  });

  it('wireguard-go killed on either side: the tunnel is brought up again and delivery resumes', async () => {
    for (const iface of [`gwv${id}`, `gwe${id}`]) {
      const pids = readdirSync('/proc').filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().endsWith(`-f ${iface}`);
        } catch {
          return false;
        }
      });
      assert.equal(pids.length, 1, `one wireguard-go serves ${iface}`);
      process.kill(Number(pids[0]), 'SIGKILL');
      const killedAt = Date.now();
      // A new event or a new end reaching the VM proves the path works again.
      await until(
        `delivery through a rebuilt tunnel after killing ${iface}'s wireguard-go`,
        async () => {
          const newer = edgeEvents().records.filter((e) => e.startMs > killedAt + 1000);
          if (!newer.length) return false;
          const held = new Set((await vmEvents()).map((v) => v.eventId));
          return newer.some((e) => held.has(e.id));
        },
        60_000,
      );
    }
    const { edges } = await vmApi<{ edges: { edgeId: string; tunnel: { lastHandshakeAgeSeconds: number } | null }[] }>(
      '/api/edges',
    );
    assert.ok((edges.find((e) => e.edgeId === edgeId)?.tunnel?.lastHandshakeAgeSeconds ?? 999) < 60);
  });

  it('VM kill -9 between storing a batch and acknowledging it: nothing lost, nothing duplicated', async () => {
    await vm.stop();
    // The fault comes from the test: a preloaded hook kills the VM right after its first batch is committed.
    vm.start(['--import', 'tsx', '--import', pathToFileURL(join(projectRoot, 'test/support/vm_ingest_crash.ts')).href]);
    const exit = await until(
      'the VM to die right after storing a batch',
      async () => {
        const p = vm.proc;
        return p && (p.exitCode !== null || p.signalCode !== null) && (await vm.exited());
      },
      120_000,
    );
    assert.equal(exit.signal, 'SIGKILL');
    // Stored at the VM, still in the edge's outbox: the acknowledgement was lost with the process.
    const stored = new Set(vmEventIds());
    const db = edgeDb();
    const waiting = db.prepare('SELECT DISTINCT ref FROM outbox').pluck().all() as string[];
    db.close();
    assert.ok(
      waiting.some((ref) => stored.has(ref)),
      'an event the VM stored is still unacknowledged at the edge',
    );
    vm.start();
    const snapshot = edgeEvents().records;
    await until('redelivery after the VM restarts', () => covers(snapshot), 90_000);
    const ids = vmEventIds();
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(snapshot.every((e) => ids.includes(e.id)));
  });

  it('Milestone 2: edge killed mid-relay → the client sees a failed response, not a short file', async () => {
    const withClip = edgeEvents().records.find((e) => e.clip);
    assert.ok(withClip);
    await until(
      'the edge connected to the VM',
      async () =>
        (await vmApi<{ edges: { edgeId: string; connected: boolean }[] }>('/api/edges')).edges.find(
          (e) => e.edgeId === edgeId && e.connected,
        ),
      60_000,
    );
    // Slow the edge's uplink so the relay is still running when the edge dies.
    execFileSync('ip', [
      'netns',
      'exec',
      net?.b.ns ?? '',
      'tc',
      'qdisc',
      'add',
      'dev',
      net?.b.dev ?? '',
      'root',
      'tbf',
      'rate',
      '2mbit',
      'burst',
      '32kbit',
      'latency',
      '400ms',
    ]);
    try {
      const res = await fetch(`${vmBase}/api/events/${withClip.id}/clip`, {
        headers: { Authorization: `Bearer ${apiToken}` },
      });
      assert.equal(res.status, 200);
      const length = Number(res.headers.get('content-length'));
      const reader = res.body?.getReader();
      assert.ok(reader);
      let received = 0;
      const first = await reader.read();
      received += first.value?.length ?? 0;
      await edge.stop('SIGKILL');
      const outcome = await (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) return 'complete';
          received += r.value.length;
        }
      })().catch((err: Error) => `error: ${err.message}`);
      assert.match(outcome, /^error/, `the download failed (${received} of ${length} bytes)`);
      assert.ok(received < length);
    } finally {
      spawnSync('ip', ['netns', 'exec', net?.b.ns ?? '', 'tc', 'qdisc', 'del', 'dev', net?.b.dev ?? '', 'root']);
    }
  });
});
