// The owner's server as a child process (`node bin/guardian.mjs vm --config ...`) on loopback without a tunnel, so a
// test can kill it with SIGKILL and start it again on the same data dir and ports; edges pair with it over its API.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { type LinkSettings, pairEdge } from '../../src/edge/link/pairing.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { freePort, until } from './vm_archive.ts';

export class VmProcess {
  proc: ChildProcess | undefined;
  /** Everything the current process printed (JSON log lines). */
  output = '';
  readonly dataDir: string;
  readonly apiToken = `vm-test-token-${Math.random().toString(36).slice(2)}0123456789`;
  private ports = { http: 0, grpc: 0 };

  constructor(private readonly dir: string) {
    this.dataDir = join(dir, 'vm');
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get running(): boolean {
    return Boolean(this.proc && this.proc.exitCode === null && this.proc.signalCode === null);
  }

  /** Writes the configuration (free ports, the API token) and starts the VM. */
  async create(extra: string[] = []): Promise<this> {
    this.ports = { http: await freePort(), grpc: await freePort() };
    writeFileSync(
      join(this.dir, 'vm.yaml'),
      [
        `dataDir: ${this.dataDir}`,
        'http:',
        `  port: ${this.ports.http}`,
        'api:',
        `  token: ${this.apiToken}`,
        'grpc:',
        `  port: ${this.ports.grpc}`,
        '  requireTunnel: false',
        'wireguard:',
        '  enabled: false',
        ...extra,
        '',
      ].join('\n'),
    );
    await this.start();
    return this;
  }

  async start(): Promise<void> {
    this.output = '';
    const proc = spawn(
      process.execPath,
      [join(projectRoot, 'bin', 'guardian.mjs'), 'vm', '--config', join(this.dir, 'vm.yaml')],
      {
        cwd: projectRoot,
        env: { ...process.env, GUARDIAN_LOG_LEVEL: 'info', GUARDIAN_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc = proc;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-500_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await until(
      () => this.output.includes('VM ready') || proc.exitCode !== null,
      30_000,
      `the VM to start:\n${this.output}`,
    );
    if (proc.exitCode !== null) throw new Error(`the VM exited with ${proc.exitCode}:\n${this.output}`);
  }

  /** Stops the VM with a signal (SIGKILL: no chance to clean up) and waits for it to be gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const force = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }

  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${this.apiToken}`, ...(init.headers as Record<string, string>) },
    });
  }

  /** Pairs an edge (its link.json goes into edgeDir) the way an owner would: a pairing code from the API. */
  async pair(name: string, edgeDir: string): Promise<LinkSettings> {
    const res = await this.api('/api/pairings', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok) throw new Error(`pairing failed: ${res.status} ${await res.text()}`);
    const { code } = (await res.json()) as { code: string };
    return pairEdge(code, edgeDir, { name });
  }
}
