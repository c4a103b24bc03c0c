// An edge and its owner's server (VM) in two network namespaces joined by a veth, each with its own wireguard-go,
// paired with the real flow (`guardian keys pair` on the VM, `guardian pair` on the edge); the test reaches the VM's
// API the way its owner would, over a third link. Everything between edge and VM crosses the WireGuard tunnel. The
// edge's camera is the sample video played in real time. Used by the tunnel e2e tests and the fault suite.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import YAML from 'yaml';

import { CameraRegistry } from '../../src/edge/cameras/registry.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { type EventRecord, EventStore } from '../../src/edge/events/store.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { wireGuardUnavailable } from '../../src/shared/wireguard/interface.ts';
import { media, sleep, tempDir, until } from '../helpers.ts';
import { createNetnsPair, linkFromHost, type NetnsPair, netnsUnavailable } from './netns.ts';

export const guardian = join(projectRoot, 'bin', 'guardian.mjs');
export { sleep, until };

/** A guardian process inside a namespace; its output is kept for the failure report. */
export class NsProcess {
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
  running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  exited(): Promise<{ code: number | null; signal: string | null }> {
    const p = this.proc;
    if (!p) return Promise.resolve({ code: null, signal: null });
    if (p.exitCode !== null || p.signalCode !== null)
      return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
    return new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running()) return;
    this.proc?.kill(signal);
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
    await this.exited();
    clearTimeout(timer);
  }
}

/** Why a tunnel pair cannot be made here, or undefined when it can. */
export const tunnelPairUnavailable = (): string | undefined => netnsUnavailable() ?? wireGuardUnavailable();

export class TunnelPair {
  readonly dir = tempDir();
  readonly id = randomBytes(2).toString('hex');
  readonly apiToken = randomBytes(24).toString('base64url');
  readonly edgeData = join(this.dir.path, 'edge');
  readonly vmData = join(this.dir.path, 'vm');
  net!: NetnsPair;
  vmBase = '';
  edgeId = '';
  vm!: NsProcess;
  edge!: NsProcess;

  /** Namespaces, configs, the VM started, pairing, the edge started (it is connecting when this returns). */
  async start(o: { edgeConfig?: Record<string, unknown> } = {}): Promise<void> {
    const subnet = 10 + Math.floor(Math.random() * 200);
    this.net = createNetnsPair(subnet);
    const owner = linkFromHost(this.net.a.ns, subnet);
    this.vmBase = `http://${owner.nsIp}:8600`;
    const vmYaml = join(this.dir.path, 'vm.yaml');
    const edgeYaml = join(this.dir.path, 'edge.yaml');
    writeFileSync(
      vmYaml,
      YAML.stringify({
        dataDir: this.vmData,
        http: { host: '0.0.0.0', port: 8600, publicUrl: `http://${this.net.a.ip}:8600` },
        api: { token: this.apiToken },
        grpc: { port: 50051 }, // requireTunnel: the default
        wireguard: {
          interface: `gwv${this.id}`,
          address: `10.78.${subnet}.1/24`,
          listenPort: 51820,
          endpoint: `${this.net.a.ip}:51820`,
        },
        telemetry: { offlineAfterSeconds: 30 },
      }),
    );
    writeFileSync(
      edgeYaml,
      YAML.stringify({
        dataDir: this.edgeData,
        http: { host: '127.0.0.1', port: 8080 },
        link: { interface: `gwe${this.id}`, heartbeatSeconds: 2, telemetrySeconds: 2 },
        recording: { minFreeBytes: 256 * 1024 * 1024, minFreeMinutes: 0, continuousDays: 1, segmentSeconds: 4 },
        events: { endAfterSeconds: 2 },
        cameras: { street: { recordMode: 'continuous' } },
        ...o.edgeConfig,
      }),
    );
    const db = openEdgeDatabase(join(this.edgeData, 'guardian.db'));
    new CameraRegistry(db).add({ id: 'street', name: 'Street', kind: 'file', recordUrl: media.vtest, detectFps: 5 });
    db.close();

    this.vm = new NsProcess('vm', this.net.a.ns, ['vm', '--config', vmYaml]);
    this.vm.start();
    await until(
      'the VM API',
      () =>
        fetch(`${this.vmBase}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
    );
    // Pairing, as the owner does it: a code on the VM, handed to the edge (on stdin: not in the process list).
    const inNs = (ns: string, args: string[], input?: string) =>
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, guardian, ...args], {
        cwd: projectRoot,
        encoding: 'utf8',
        input,
      });
    const issued = JSON.parse(
      inNs(this.net.a.ns, ['keys', 'pair', '--config', vmYaml, '--name', 'porch', '--json']),
    ) as { code: string; edgeId: string };
    const paired = JSON.parse(inNs(this.net.b.ns, ['pair', '-', '--config', edgeYaml, '--json'], issued.code)) as {
      edgeId: string;
      tunnel: string;
    };
    assert.equal(paired.edgeId, issued.edgeId);
    assert.equal(paired.tunnel, `10.78.${subnet}.2/24`);
    this.edgeId = paired.edgeId;
    this.edge = new NsProcess('edge', this.net.b.ns, ['edge', '--config', edgeYaml]);
    this.edge.start();
  }

  async remove(): Promise<void> {
    await this.edge?.stop();
    await this.vm?.stop();
    this.net?.remove();
    // wireguard-go exits with its interface, which went with the namespace; its socket file may stay behind.
    spawnSync('rm', ['-f', `/var/run/wireguard/gwv${this.id}.sock`, `/var/run/wireguard/gwe${this.id}.sock`]);
    this.dir.remove();
  }

  /** Prints both processes' last output (for a failed test). */
  report(): void {
    for (const p of [this.vm, this.edge])
      if (p) console.log(`----- ${p.name} output (end) -----\n${p.output.slice(-6000)}`);
  }

  async vmApi<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${this.vmBase}${path}`, {
      headers: { Authorization: `Bearer ${this.apiToken}`, ...headers },
    });
    assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  edgeDb(): Database.Database {
    return new Database(join(this.edgeData, 'guardian.db'), { readonly: true, fileMustExist: true });
  }

  /** The edge's events (as its store reads them) and the number of outbox items waiting. */
  edgeEvents(): { records: EventRecord[]; outbox: number } {
    const db = this.edgeDb();
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
  }

  /** The event ids the VM's database holds for the street camera, one row each. */
  vmEventIds(): string[] {
    const db = new Database(join(this.vmData, 'vm.db'), { readonly: true, fileMustExist: true });
    try {
      return db
        .prepare("SELECT event_id FROM events WHERE camera_id = 'street' ORDER BY event_id")
        .pluck()
        .all() as string[];
    } finally {
      db.close();
    }
  }

  async vmEvents(): Promise<{ eventId: string; endTimestamp: number | null; metadata: { updatedMs: number } }[]> {
    return (
      await this.vmApi<{
        events: { eventId: string; endTimestamp: number | null; metadata: { updatedMs: number } }[];
      }>(`/api/events?edge=${this.edgeId}&camera=street&limit=1000`)
    ).events;
  }

  /**
   * The camera keeps producing events, so "in sync" is judged against a snapshot of the edge: every event it holds
   * is at the VM (ended ones with their end: progress in between is local to the edge), the VM has no event the edge
   * does not, and none twice.
   */
  async covers(snapshot: { id: string; endMs: number | null }[]): Promise<boolean> {
    const events = await this.vmEvents();
    const held = new Map(events.map((v) => [v.eventId, v]));
    const current = new Set(this.edgeEvents().records.map((r) => r.id));
    return (
      snapshot.every((r) => held.has(r.id) && (r.endMs === null || held.get(r.id)?.endTimestamp === r.endMs)) &&
      events.every((v) => current.has(v.eventId)) &&
      held.size === events.length
    );
  }

  /** The pid of the wireguard-go serving one of the pair's interfaces (`vm` or `edge` side), if it runs. */
  wireguardPid(side: 'vm' | 'edge'): number | undefined {
    const iface = side === 'vm' ? `gwv${this.id}` : `gwe${this.id}`;
    const pids = readdirSync('/proc').filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().endsWith(`-f ${iface}`);
      } catch {
        return false;
      }
    });
    assert.ok(pids.length <= 1, `one wireguard-go serves ${iface}`);
    return pids.length ? Number(pids[0]) : undefined;
  }

  /** The edge's side of the veth down or up: the link between the two machines cut or restored. */
  setLink(up: boolean): void {
    execFileSync('ip', ['-n', this.net.b.ns, 'link', 'set', this.net.b.dev, up ? 'up' : 'down']);
  }
}
