// Client for the WireGuard cross-platform UAPI (https://www.wireguard.com/xplatform/), the unix socket wireguard-go
// serves at /var/run/wireguard/<iface>.sock. Keys travel in lowercase hex; replies end with "errno=N" and a blank line.
// The private key crosses this socket only: it never goes on a command line, into a log or an error message.

import { createConnection } from 'node:net';
import { constants } from 'node:os';

import { isWireGuardKey, publicKeyOf } from './keys.ts';

export interface PeerState {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  /** Unix ms of the last handshake, null when there has been none. */
  lastHandshakeMs: number | null;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive?: number;
}

export interface DeviceState {
  /** Derived from the device's private key; the private key itself is not returned. */
  publicKey?: string;
  listenPort?: number;
  peers: PeerState[];
}

export interface UapiPeerConfig {
  publicKey: string;
  endpoint?: string;
  allowedIps?: string[];
  replaceAllowedIps?: boolean;
  persistentKeepalive?: number;
  remove?: boolean;
}

export interface UapiConfig {
  privateKey?: string;
  listenPort?: number;
  peers?: UapiPeerConfig[];
}

const UAPI_TIMEOUT_MS = 3000;

export function uapiSocketPath(iface: string): string {
  return `/var/run/wireguard/${iface}.sock`;
}

function keyToHex(b64: string, what: string): string {
  if (!isWireGuardKey(b64)) throw new Error(`invalid WireGuard ${what} (expected 44-character base64)`);
  return Buffer.from(b64, 'base64').toString('hex');
}

const hexToKey = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

function errnoName(n: number): string {
  // wireguard-go answers with negative errnos (errno=-22 for EINVAL); the spec shows positive ones.
  const abs = Math.abs(n);
  return Object.entries(constants.errno).find(([, v]) => v === abs)?.[0] ?? 'unknown';
}

/** Sends one request and resolves with the reply, which ends at the first blank line. */
function request(socketPath: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let reply = '';
    let done = false;
    const finish = (err: Error | undefined) => {
      if (done) return;
      done = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(reply);
    };
    sock.setEncoding('utf8');
    sock.setTimeout(UAPI_TIMEOUT_MS, () =>
      finish(new Error(`UAPI ${socketPath}: no reply within ${UAPI_TIMEOUT_MS} ms`)),
    );
    sock.on('connect', () => sock.write(body));
    sock.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('\n\n')) finish(undefined);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const e = new Error(`UAPI ${socketPath}: ${err.message}`) as NodeJS.ErrnoException;
      e.code = err.code;
      finish(e);
    });
    // wireguard-go closes the connection without a word on a request it cannot parse.
    sock.on('close', () => finish(new Error(`UAPI ${socketPath}: connection closed before a complete reply`)));
  });
}

function checkErrno(lines: string[], what: string): void {
  const last = lines.at(-1) ?? '';
  if (!last.startsWith('errno=')) throw new Error(`UAPI ${what}: reply without errno`);
  const n = Number(last.slice('errno='.length));
  if (n !== 0) throw new Error(`UAPI ${what} failed: errno=${n} (${errnoName(n)})`);
}

export async function uapiGet(socketPath: string): Promise<DeviceState> {
  const lines = (await request(socketPath, 'get=1\n\n')).trimEnd().split('\n');
  checkErrno(lines, 'get');
  const state: DeviceState = { peers: [] };
  let peer: PeerState | undefined;
  let handshakeSec = 0;
  for (const line of lines.slice(0, -1)) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = { publicKey: hexToKey(value), allowedIps: [], lastHandshakeMs: null, rxBytes: 0, txBytes: 0 };
      state.peers.push(peer);
      continue;
    }
    if (!peer) {
      if (key === 'private_key') state.publicKey = publicKeyOf(hexToKey(value));
      else if (key === 'listen_port') state.listenPort = Number(value);
      continue;
    }
    switch (key) {
      case 'endpoint':
        peer.endpoint = value;
        break;
      case 'allowed_ip':
        peer.allowedIps.push(value);
        break;
      case 'last_handshake_time_sec':
        handshakeSec = Number(value);
        break;
      case 'last_handshake_time_nsec': {
        // sec always precedes nsec in a peer's section.
        const ms = handshakeSec * 1000 + Math.floor(Number(value) / 1e6);
        peer.lastHandshakeMs = ms === 0 ? null : ms;
        break;
      }
      case 'rx_bytes':
        peer.rxBytes = Number(value);
        break;
      case 'tx_bytes':
        peer.txBytes = Number(value);
        break;
      case 'persistent_keepalive_interval':
        if (Number(value) > 0) peer.persistentKeepalive = Number(value);
        break;
    }
  }
  return state;
}

/** Values are written as `key=value` lines: a newline in one would inject configuration. */
function plain(value: string, what: string): string {
  if (!value || /[\n=]/.test(value)) throw new Error(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}

export async function uapiSet(socketPath: string, cfg: UapiConfig): Promise<void> {
  const lines = ['set=1'];
  if (cfg.privateKey !== undefined) lines.push(`private_key=${keyToHex(cfg.privateKey, 'private key')}`);
  if (cfg.listenPort !== undefined) lines.push(`listen_port=${cfg.listenPort}`);
  for (const p of cfg.peers ?? []) {
    lines.push(`public_key=${keyToHex(p.publicKey, 'public key')}`);
    if (p.remove) {
      lines.push('remove=true');
      continue;
    }
    if (p.endpoint !== undefined) lines.push(`endpoint=${plain(p.endpoint, 'endpoint')}`);
    if (p.persistentKeepalive !== undefined) lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    if (p.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const ip of p.allowedIps ?? []) lines.push(`allowed_ip=${plain(ip, 'allowed IP')}`);
  }
  checkErrno((await request(socketPath, `${lines.join('\n')}\n\n`)).trimEnd().split('\n'), 'set');
}
