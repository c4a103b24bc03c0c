// The one-time pairing code the VM issues (`guardian keys pair`) and the edge consumes (`guardian pair <code>`).
// It carries where and how to reach the VM and a one-time token. The token never crosses the network: the edge
// proves it holds it with an HMAC over what it registers (its WireGuard public key and its credential's hash).
import { createHmac, timingSafeEqual } from 'node:crypto';

import { z } from 'zod';

const prefix = 'GUARDIAN-PAIR-1:';

const codeSchema = z.strictObject({
  pairingId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  token: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/),
  pairUrl: z.url(), // the VM's HTTP API, reachable before the tunnel exists
  grpc: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/), // the VM's link address (inside the tunnel when there is one)
  tunnel: z
    .strictObject({
      vmPublicKey: z.string().length(44),
      endpoint: z.string().min(3), // the VM's public WireGuard host:port
      edgeAddress: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/), // the edge's tunnel address with prefix
      vmAddress: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/),
    })
    .nullable(),
});

export type PairingCode = z.infer<typeof codeSchema>;

export function encodePairingCode(code: PairingCode): string {
  return prefix + Buffer.from(JSON.stringify(code)).toString('base64url');
}

export function decodePairingCode(text: string): PairingCode {
  const trimmed = text.trim();
  if (!trimmed.startsWith(prefix)) throw new Error('not a Guardian pairing code (it starts with GUARDIAN-PAIR-1:)');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(trimmed.slice(prefix.length), 'base64url').toString('utf8'));
  } catch {
    throw new Error('the pairing code is damaged (copy it again in full)');
  }
  const r = codeSchema.safeParse(json);
  if (!r.success) throw new Error('the pairing code is damaged or from an incompatible version');
  return r.data;
}

/** What the edge registers, bound to the one-time token. */
export interface PairingRequest {
  pairingId: string;
  name: string;
  publicKey: string | null;
  credentialHash: string;
  mac: string;
}

export function pairingMac(token: string, r: Omit<PairingRequest, 'mac'>): string {
  return createHmac('sha256', token)
    .update([r.pairingId, r.name, r.publicKey ?? '', r.credentialHash].join('\n'))
    .digest('hex');
}

export function pairingMacValid(token: string, r: PairingRequest): boolean {
  const want = Buffer.from(pairingMac(token, r), 'hex');
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(r.mac) ? r.mac : '', 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}
