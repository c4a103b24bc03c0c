// Pairing on the VM: issuing one-time codes (each reserving the edge's tunnel address) and completing them when the
// edge registers its WireGuard public key and credential hash, proven with the code's token.
import { randomBytes } from 'node:crypto';

import type { Db } from '../shared/db.ts';
import { type PairingCode, type PairingRequest, pairingMacValid } from '../shared/link/pairing-code.ts';
import { isWireGuardKey } from '../shared/wireguard/keys.ts';

export class PairingError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'EXPIRED' | 'USED' | 'BAD_PROOF' | 'BAD_KEY' | 'FULL' | 'CONFLICT',
    message: string,
  ) {
    super(message);
  }
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The next tunnel address in the VM's subnet not held by an edge or an unexpired pairing. */
function nextTunnelAddress(db: Db, vmCidr: string): string {
  const [vmIp, prefixText] = vmCidr.split('/') as [string, string];
  const prefix = Number(prefixText);
  const size = 2 ** (32 - prefix);
  const network = ipToInt(vmIp) - (ipToInt(vmIp) % size);
  const taken = new Set<string>([vmIp]);
  const rows = db
    .prepare(
      `SELECT tunnel_address AS a FROM edges WHERE tunnel_address IS NOT NULL
       UNION SELECT tunnel_address FROM pairings WHERE tunnel_address IS NOT NULL AND used_at IS NULL AND expires_at > ?`,
    )
    .all(Date.now()) as { a: string }[];
  for (const r of rows) taken.add(r.a.split('/')[0] as string);
  for (let host = 1; host < size - 1; host++) {
    const ip = intToIp(network + host);
    if (!taken.has(ip)) return `${ip}/${prefix}`;
  }
  throw new PairingError('FULL', `no free tunnel address left in ${vmCidr}`);
}

export interface IssueOptions {
  name?: string;
  validMinutes: number;
  pairUrl: string;
  grpcPort: number;
  /** The tunnel, or null for a link without one (demo, tests on loopback). */
  tunnel: { vmPublicKey: string; endpoint: string; vmCidr: string } | null;
  grpcHostWithoutTunnel: string;
}

export function issuePairing(db: Db, o: IssueOptions): { code: PairingCode; edgeId: string; expiresAt: number } {
  const pairingId = randomBytes(9).toString('base64url');
  const token = randomBytes(32).toString('base64url');
  const edgeId = `edge-${randomBytes(4).toString('hex')}`;
  const name = (o.name ?? edgeId).slice(0, 64);
  const expiresAt = Date.now() + o.validMinutes * 60_000;
  return db.transaction(() => {
    const tunnelAddress = o.tunnel ? nextTunnelAddress(db, o.tunnel.vmCidr) : null;
    db.prepare(
      `INSERT INTO pairings (pairing_id, edge_id, name, token, tunnel_address, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(pairingId, edgeId, name, token, tunnelAddress, expiresAt, Date.now());
    const vmIp = o.tunnel?.vmCidr.split('/')[0];
    const code: PairingCode = {
      pairingId,
      token,
      pairUrl: o.pairUrl,
      grpc: `${o.tunnel ? vmIp : o.grpcHostWithoutTunnel}:${o.grpcPort}`,
      tunnel:
        o.tunnel && tunnelAddress && vmIp
          ? {
              vmPublicKey: o.tunnel.vmPublicKey,
              endpoint: o.tunnel.endpoint,
              edgeAddress: tunnelAddress,
              vmAddress: vmIp,
            }
          : null,
    };
    return { code, edgeId, expiresAt };
  })();
}

export interface PairedEdge {
  edgeId: string;
  name: string;
  publicKey: string | null;
  tunnelAddress: string | null;
}

/**
 * What completing this pairing would create, or the reason it is refused; writes nothing. The VM configures the
 * edge's tunnel peer from it before committing, so a key the tunnel refuses is never stored.
 */
export function checkPairing(db: Db, req: PairingRequest): PairedEdge {
  const p = db.prepare('SELECT * FROM pairings WHERE pairing_id = ?').get(req.pairingId) as
    | {
        edge_id: string;
        name: string;
        token: string;
        tunnel_address: string | null;
        expires_at: number;
        used_at: number | null;
      }
    | undefined;
  if (!p) throw new PairingError('NOT_FOUND', 'unknown pairing code (or it expired); issue a new one');
  if (p.used_at) throw new PairingError('USED', 'this pairing code was already used; issue a new one');
  if (p.expires_at < Date.now()) throw new PairingError('EXPIRED', 'this pairing code has expired; issue a new one');
  if (!pairingMacValid(p.token, req)) throw new PairingError('BAD_PROOF', 'the pairing proof does not match the code');
  if (p.tunnel_address && !req.publicKey) throw new PairingError('BAD_PROOF', 'a WireGuard public key is required');
  if (p.tunnel_address && !isWireGuardKey(req.publicKey ?? ''))
    throw new PairingError('BAD_KEY', 'publicKey is not a WireGuard public key (base64 of exactly 32 bytes)');
  if (req.publicKey && db.prepare('SELECT 1 FROM edges WHERE wireguard_public_key = ?').get(req.publicKey))
    throw new PairingError('CONFLICT', 'this WireGuard key already belongs to another edge');
  return {
    edgeId: p.edge_id,
    name: req.name.trim().slice(0, 64) || p.name,
    publicKey: p.tunnel_address ? req.publicKey : null,
    tunnelAddress: p.tunnel_address,
  };
}

/** Completes a pairing once: creates the edge with its public key, credential hash and tunnel address. */
export function completePairing(db: Db, req: PairingRequest): PairedEdge {
  const paired = db.transaction(() => {
    const edge = checkPairing(db, req); // again, inside the transaction
    const now = Date.now();
    db.prepare(
      `INSERT INTO edges (edge_id, name, wireguard_public_key, credential_hash, tunnel_address, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(edge.edgeId, edge.name, edge.publicKey, req.credentialHash, edge.tunnelAddress, now, now);
    // The token has done its job: keep the row (for the address and the audit) but not the secret.
    db.prepare("UPDATE pairings SET used_at = ?, token = '' WHERE pairing_id = ?").run(now, req.pairingId);
    return edge;
  })();
  checkpointErasure(db);
  return paired;
}

/** Codes never used and past their time: gone with their tokens (their tunnel addresses are free again). */
export function deleteExpiredPairings(db: Db, now = Date.now()): number {
  const deleted = db.prepare('DELETE FROM pairings WHERE used_at IS NULL AND expires_at < ?').run(now).changes;
  if (deleted) checkpointErasure(db);
  return deleted;
}

/**
 * secure_delete zeroes an erased token in the page written to the WAL; the database file keeps the old page, token
 * and all, until a checkpoint. Checkpoint now rather than at the next clean close, which a crash or kill never reaches.
 */
function checkpointErasure(db: Db): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}

export function pairedEdges(db: Db): PairedEdge[] {
  return (
    db.prepare('SELECT edge_id, name, wireguard_public_key, tunnel_address FROM edges ORDER BY edge_id').all() as {
      edge_id: string;
      name: string;
      wireguard_public_key: string | null;
      tunnel_address: string | null;
    }[]
  ).map((r) => ({
    edgeId: r.edge_id,
    name: r.name,
    publicKey: r.wireguard_public_key,
    tunnelAddress: r.tunnel_address,
  }));
}

export function edgeCredentialHash(
  db: Db,
  edgeId: string,
): { hash: string | null; tunnelAddress: string | null } | undefined {
  const r = db.prepare('SELECT credential_hash, tunnel_address FROM edges WHERE edge_id = ?').get(edgeId) as
    | { credential_hash: string | null; tunnel_address: string | null }
    | undefined;
  return r && { hash: r.credential_hash, tunnelAddress: r.tunnel_address };
}
