// Starts the GStreamer RTSP test server (test/support/rtsp_server.py) on loopback or inside a network namespace.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { sharedPath } from '../../src/shared/paths.ts';

const script = join(dirname(fileURLToPath(import.meta.url)), 'rtsp_server.py');

/** Whether Debian's python3 has GStreamer's RTSP server bindings (CI installs them through npm run setup). */
export function rtspServerAvailable(): string | undefined {
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer'],
    { encoding: 'utf8' },
  );
  return r.status === 0
    ? undefined
    : `GStreamer RTSP server bindings missing (${(r.stderr || '').trim().split('\n').pop()})`;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export class RtspServer {
  private proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly opts: { auth?: string; host?: string; netns?: string; mediaDir?: string } = {},
  ) {}

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  url(name: string, credentials?: string): string {
    return `rtsp://${credentials ? `${credentials}@` : ''}${this.host}:${this.port}/${name}`;
  }

  async start(): Promise<void> {
    const args = [
      script,
      '--port',
      String(this.port),
      '--host',
      this.host,
      '--media',
      this.opts.mediaDir ?? sharedPath('media'),
    ];
    const [cmd, argv] = this.opts.netns
      ? ['ip', ['netns', 'exec', this.opts.netns, '/usr/bin/python3', ...args]]
      : ['/usr/bin/python3', args];
    const env = { ...process.env };
    if (this.opts.auth) env.GUARDIAN_TEST_RTSP_AUTH = this.opts.auth;
    else delete env.GUARDIAN_TEST_RTSP_AUTH;
    const proc = spawn(cmd as string, argv as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let err = '';
    proc.stderr?.on('data', (d) => {
      err += d;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RTSP server did not start: ${err}`)), 15_000);
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited with ${code}: ${err}`));
      });
    });
    proc.removeAllListeners('exit');
  }

  /** kill -9: the camera vanishes mid-stream. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    this.proc = undefined;
  }
}
