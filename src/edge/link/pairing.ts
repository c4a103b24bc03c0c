// `guardian pair <code>` on the edge: makes the edge's WireGuard key and link credential locally, registers the
// public halves with the VM (proving the one-time code without sending it), and stores what the link needs.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { decodePairingCode, type PairingCode, pairingMac } from '../../shared/link/pairing-code.ts';
import { credentialHash } from '../../shared/link/proto.ts';
import { loadOrCreateKeyPair } from '../../shared/wireguard/keys.ts';

/** What the edge keeps about its VM (link.json, 0600: it holds the credential). */
export interface LinkSettings {
  edgeId: string;
  secret: string;
  grpc: string;
  tunnel: PairingCode['tunnel'];
  pairedAt: number;
}

const linkSettingsPath = (dataDir: string) => join(dataDir, 'link.json');
export const edgeKeyPath = (dataDir: string) => join(dataDir, 'wireguard.key');

export function readLinkSettings(dataDir: string): LinkSettings | null {
  const path = linkSettingsPath(dataDir);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as LinkSettings) : null;
}

export function writeLinkSettings(dataDir: string, s: LinkSettings): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = linkSettingsPath(dataDir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export async function pairEdge(
  codeText: string,
  dataDir: string,
  options: { name?: string; timeoutMs?: number } = {},
): Promise<LinkSettings> {
  const code = decodePairingCode(codeText);
  const publicKey = code.tunnel ? loadOrCreateKeyPair(edgeKeyPath(dataDir)).publicKey : null;
  const secret = randomBytes(32).toString('base64url');
  const request = {
    pairingId: code.pairingId,
    name: options.name ?? hostname(),
    publicKey,
    credentialHash: credentialHash(secret),
  };
  let res: Response;
  try {
    res = await fetch(new URL('/api/pair', code.pairUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...request, mac: pairingMac(code.token, request) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      redirect: 'error', // a redirect could take the request anywhere
    });
  } catch (err) {
    throw new Error(`cannot reach the VM at ${code.pairUrl}: ${(err as Error).message}`);
  }
  // Only a Guardian server's own short JSON answer is repeated: a code pointing at some other service must not
  // turn the edge into a way of reading it.
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json');
  const body = (json ? await res.json().catch(() => ({})) : {}) as { edgeId?: unknown; error?: { message?: unknown } };
  if (!res.ok || typeof body.edgeId !== 'string' || !/^[\w-]{1,64}$/.test(body.edgeId)) {
    const said = typeof body.error?.message === 'string' ? body.error.message.slice(0, 200) : null;
    throw new Error(`the server refused the pairing: ${said ?? `HTTP ${res.status}, not a Guardian server's answer`}`);
  }
  const settings: LinkSettings = {
    edgeId: body.edgeId,
    secret,
    grpc: code.grpc,
    tunnel: code.tunnel,
    pairedAt: Date.now(),
  };
  writeLinkSettings(dataDir, settings);
  return settings;
}
