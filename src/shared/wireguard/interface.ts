// One WireGuard interface: the kernel's when the wireguard module is there, else wireguard-go (userspace, TUN).
// The private key goes through the UAPI socket or `wg` on stdin, never on a command line, into a log or an error.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { release } from 'node:os';
import { join } from 'node:path';

import { isWireGuardKey } from './keys.ts';
import { uapiGet, uapiSet, uapiSocketPath } from './uapi.ts';

export type WireGuardMode = 'auto' | 'userspace' | 'kernel';

export interface WireGuardExit {
  code: number | null;
  signal: string | null;
  /** The end of wireguard-go's output: its log (which it writes on stdout) and any panic. */
  stderr: string;
}

export interface WireGuardOptions {
  name: string;
  privateKey: string;
  /** CIDR, e.g. 10.77.0.1/24. */
  address: string;
  listenPort?: number;
  /** Run inside this network namespace (tests). */
  netns?: string;
  /** Path or name of wireguard-go; default 'wireguard-go'. */
  wireguardGo?: string;
  /** Default 'auto': the kernel's WireGuard when `ip link add type wireguard` works, else wireguard-go. */
  mode?: WireGuardMode;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** wireguard-go died without down(): the tunnel is gone, bring it up again. */
  onExit?: (exit: WireGuardExit) => void;
}

export interface WireGuardPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}

export interface WireGuardStats {
  peers: {
    publicKey: string;
    endpoint?: string;
    lastHandshakeAgeMs: number | null;
    rxBytes: number;
    txBytes: number;
  }[];
}

const MTU = 1420;
const SOCKET_WAIT_MS = 5000;
const STOP_WAIT_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function findExecutable(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function hint(stderr: string): string {
  return /operation not permitted|permission denied/i.test(stderr) ? ' (needs root (CAP_NET_ADMIN))' : '';
}

/** Runs a command, feeding `input` on stdin; rejects with its stderr. Arguments never hold a secret. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      const pkg = cmd === 'wg' ? 'wireguard-tools' : cmd === 'ip' ? 'iproute2' : cmd;
      reject(err.code === 'ENOENT' ? new Error(`${cmd} not found: install ${pkg}`) : err);
    });
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || `exit ${code}`}${hint(stderr)}`));
    });
    // A command that fails before reading its stdin must not crash us with EPIPE: its exit code tells.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

const ip = (ns: string | undefined, ...args: string[]) => run('ip', ns ? ['-n', ns, ...args] : args);
const wg = (ns: string | undefined, args: string[], input?: string) =>
  ns ? run('ip', ['netns', 'exec', ns, 'wg', ...args], input) : run('wg', args, input);

async function linkExists(ns: string | undefined, name: string): Promise<boolean> {
  try {
    await ip(ns, 'link', 'show', name);
    return true;
  } catch (err) {
    if (/not found: install/.test((err as Error).message)) throw err;
    return false;
  }
}

/** Whether something listens on the socket (a live wireguard-go), as opposed to a file left by a dead one. */
function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.on('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

/** Why no WireGuard interface can be created here, or undefined when one can. */
export function wireGuardUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) to create network interfaces';
  if (!findExecutable('ip')) return 'ip (iproute2) is not installed';
  const kmod =
    existsSync('/sys/module/wireguard') || existsSync(`/lib/modules/${release()}/kernel/drivers/net/wireguard`);
  if (kmod && findExecutable('wg')) return undefined;
  if (!findExecutable('wireguard-go')) {
    return 'the kernel has no wireguard module and wireguard-go is not installed: install wireguard-go';
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (wireguard-go needs TUN; containers: --device)';
  return undefined;
}

export class WireGuardInterface {
  readonly name: string;
  readonly socketPath: string;
  private readonly netns: string | undefined;
  private readonly log: WireGuardOptions['log'];
  private child: ChildProcess | undefined;
  private exit: WireGuardExit | undefined;
  private exited: Promise<WireGuardExit> | undefined;
  private output = '';
  private downing: Promise<void> | undefined;
  private ready = false;

  private constructor(
    opts: WireGuardOptions,
    readonly mode: 'kernel' | 'userspace',
  ) {
    this.name = opts.name;
    this.socketPath = uapiSocketPath(opts.name);
    this.netns = opts.netns;
    this.log = opts.log;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async up(opts: WireGuardOptions): Promise<WireGuardInterface> {
    const { name, netns } = opts;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name))
      throw new Error(`invalid interface name "${name}" (1-15 of A-Za-z0-9_.-)`);
    if (!isWireGuardKey(opts.privateKey))
      throw new Error('invalid WireGuard private key (expected 44-character base64)');
    const mode = opts.mode ?? 'auto';
    // A link of that name is left over from a crash (ours or wireguard-go's): start from nothing.
    if (await linkExists(netns, name)) {
      opts.log?.warn({ name, netns }, 'removing a stale WireGuard interface');
      await ip(netns, 'link', 'del', name);
    }

    let iface: WireGuardInterface | undefined;
    if (mode !== 'userspace') {
      try {
        await ip(netns, 'link', 'add', name, 'type', 'wireguard');
        iface = new WireGuardInterface(opts, 'kernel');
      } catch (err) {
        if (mode === 'kernel') throw new Error(`kernel WireGuard unavailable: ${(err as Error).message}`);
      }
    }
    iface ??= new WireGuardInterface(opts, 'userspace');
    try {
      if (iface.mode === 'kernel') {
        const port = opts.listenPort === undefined ? [] : ['listen-port', String(opts.listenPort)];
        await wg(netns, ['set', name, 'private-key', '/dev/stdin', ...port], opts.privateKey);
      } else {
        await iface.startWireguardGo(opts.wireguardGo ?? 'wireguard-go', opts.onExit);
        await uapiSet(iface.socketPath, { privateKey: opts.privateKey, listenPort: opts.listenPort });
      }
      await ip(netns, 'address', 'add', opts.address, 'dev', name);
      await ip(netns, 'link', 'set', name, 'mtu', String(MTU), 'up');
    } catch (err) {
      await iface.down();
      throw err;
    }
    iface.ready = true;
    opts.log?.info(
      { name, netns, mode: iface.mode, address: opts.address, listenPort: opts.listenPort },
      'WireGuard interface up',
    );
    return iface;
  }

  private async startWireguardGo(wireguardGo: string, onExit: WireGuardOptions['onExit']): Promise<void> {
    if (!findExecutable(wireguardGo)) throw new Error(`${wireguardGo} not found: install wireguard-go`);
    // The socket path has no namespace in it: the same name in another namespace would answer in our place.
    // A stale wireguard-go whose link was just deleted takes a moment to exit.
    const t0 = Date.now();
    while (await socketAccepts(this.socketPath)) {
      if (Date.now() - t0 > STOP_WAIT_MS) {
        throw new Error(`${this.socketPath} is in use: another wireguard-go serves an interface named ${this.name}`);
      }
      await sleep(100);
    }
    const [cmd, args] = this.netns
      ? ['ip', ['netns', 'exec', this.netns, wireguardGo, '-f', this.name]]
      : [wireguardGo, ['-f', this.name]];
    const child = spawn(cmd, args, {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    // wireguard-go logs its errors on stdout; stderr gets Go's panics.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (d) => {
        this.output = (this.output + d).slice(-4000);
      });
    }
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: string | null) => {
        if (this.exit) return;
        this.exit = { code, signal, stderr: this.output.trim() };
        // Before up() is done, its rejection says what happened.
        if (this.ready && !this.downing) {
          this.log?.warn({ name: this.name, ...this.exit }, 'wireguard-go exited; the tunnel is down');
          onExit?.(this.exit);
        }
        resolve(this.exit);
      };
      child.on('close', ended);
      child.on('error', (err) => {
        this.output += err.message;
        // Could not be started at all (e.g. not executable): there will be no 'close' to wait for.
        if (child.pid === undefined) ended(null, null);
      });
    });
    const t1 = Date.now();
    while (!(await socketAccepts(this.socketPath))) {
      if (this.exit) {
        const why = this.exit.stderr || `exit ${this.exit.code ?? this.exit.signal}`;
        throw new Error(`wireguard-go failed to start ${this.name}: ${why}${hint(why)}`);
      }
      if (Date.now() - t1 > SOCKET_WAIT_MS) {
        throw new Error(
          `wireguard-go did not open ${this.socketPath} within ${SOCKET_WAIT_MS} ms: ${this.output.trim()}`,
        );
      }
      await sleep(50);
    }
  }

  /** Adds the peer or replaces its allowed IPs and keepalive (endpoint kept when not given). */
  async setPeer(peer: WireGuardPeer): Promise<void> {
    const keepalive = peer.persistentKeepalive ?? 0;
    if (this.mode === 'userspace') {
      await uapiSet(this.socketPath, {
        peers: [{ ...peer, persistentKeepalive: keepalive, replaceAllowedIps: true }],
      });
      return;
    }
    const args = [
      'set',
      this.name,
      'peer',
      peer.publicKey,
      'persistent-keepalive',
      keepalive ? String(keepalive) : 'off',
    ];
    if (peer.endpoint) args.push('endpoint', peer.endpoint);
    await wg(this.netns, [...args, 'allowed-ips', peer.allowedIps.join(',')]);
  }

  async removePeer(publicKey: string): Promise<void> {
    if (this.mode === 'userspace') await uapiSet(this.socketPath, { peers: [{ publicKey, remove: true }] });
    else await wg(this.netns, ['set', this.name, 'peer', publicKey, 'remove']);
  }

  async stats(): Promise<WireGuardStats> {
    const now = Date.now();
    if (this.mode === 'userspace') {
      const { peers } = await uapiGet(this.socketPath);
      return {
        peers: peers.map((p) => ({
          publicKey: p.publicKey,
          endpoint: p.endpoint,
          lastHandshakeAgeMs: p.lastHandshakeMs === null ? null : now - p.lastHandshakeMs,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
        })),
      };
    }
    // `wg show dump`: the interface line (with the private key: skipped), then one tab-separated line per peer.
    const lines = (await wg(this.netns, ['show', this.name, 'dump'])).trim().split('\n').slice(1);
    return {
      peers: lines.map((line) => {
        const [publicKey = '', , endpoint, , handshake, rx, tx] = line.split('\t');
        return {
          publicKey,
          endpoint: endpoint === '(none)' ? undefined : endpoint,
          lastHandshakeAgeMs: Number(handshake) ? now - Number(handshake) * 1000 : null,
          rxBytes: Number(rx),
          txBytes: Number(tx),
        };
      }),
    };
  }

  /** Stops wireguard-go / deletes the link. Idempotent. */
  down(): Promise<void> {
    this.downing ??= this.stop();
    return this.downing;
  }

  private async stop(): Promise<void> {
    const child = this.child;
    if (child && this.exited && !this.exit) {
      child.kill('SIGTERM');
      if (!(await Promise.race([this.exited.then(() => true), sleep(STOP_WAIT_MS).then(() => false)]))) {
        child.kill('SIGKILL');
        await this.exited;
      }
    }
    // A killed wireguard-go leaves its socket behind. Its TUN link went with it; the kernel's link has to be deleted.
    // (Not the link of a dead wireguard-go: a successor brought up under the same name may own it by now.)
    if (child && !(await socketAccepts(this.socketPath))) rmSync(this.socketPath, { force: true });
    if (this.mode === 'kernel') await ip(this.netns, 'link', 'del', this.name).catch(() => {});
    if (this.ready) this.log?.info({ name: this.name, netns: this.netns }, 'WireGuard interface down');
  }
}
