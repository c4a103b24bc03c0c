// The one-time pairing code the VM issues (`guardian keys pair`) and the edge consumes (`guardian pair <code>`).
// It carries where and how to reach the VM and a one-time token. The token never crosses the network: the edge
// proves it holds it with an HMAC over what it registers (its WireGuard public key and its credential's hash).
import { createHmac, timingSafeEqual } from 'node:crypto';

import { z } from 'zod';

const prefix = 'GUARDIAN-PAIR-1:';

/** A WireGuard public key: base64 of exactly 32 bytes. */
export const wireguardKey = z
  .string()
  .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, 'expected a WireGuard public key (base64 of 32 bytes)');

const octets = (ip: string) => ip.split('.').map(Number);
const v4 = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}$/)
  .refine((ip) => octets(ip).every((o) => o <= 255), 'not an IPv4 address');
const toInt = (ip: string) => octets(ip).reduce((n, o) => n * 256 + o, 0);
const inside = (ip: string, base: string, bits: number) => {
  const size = 2 ** (32 - bits);
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
};
/** Tunnel addresses are private (RFC 1918, or CGNAT's 100.64/10 as Tailscale uses): never a route to the internet. */
const privateV4 = (ip: string) =>
  inside(ip, '10.0.0.0', 8) ||
  inside(ip, '172.16.0.0', 12) ||
  inside(ip, '192.168.0.0', 16) ||
  inside(ip, '100.64.0.0', 10);

const codeSchema = z
  .strictObject({
    pairingId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    token: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/),
    // The VM's HTTP API, reachable before the tunnel exists: http(s) only, no credentials in it.
    pairUrl: z
      .url({ protocol: /^https?$/ })
      .max(300)
      .refine((u) => !new URL(u).username && !new URL(u).password, 'no credentials in the server URL'),
    grpc: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/), // the VM's link address (inside the tunnel when there is one)
    tunnel: z
      .strictObject({
        vmPublicKey: wireguardKey,
        endpoint: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/), // the VM's public WireGuard host:port
        edgeAddress: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/), // the edge's tunnel address with prefix
        vmAddress: v4,
      })
      .superRefine((t, ctx) => {
        const [ip = '', bitsText = ''] = t.edgeAddress.split('/');
        const bits = Number(bitsText);
        if (!v4.safeParse(ip).success || !privateV4(ip))
          ctx.addIssue({
            code: 'custom',
            path: ['edgeAddress'],
            message: 'the tunnel address must be a private IPv4 address',
          });
        else if (bits < 16 || bits > 30)
          ctx.addIssue({ code: 'custom', path: ['edgeAddress'], message: 'the tunnel prefix must be /16 to /30' });
        else if (!privateV4(t.vmAddress) || !inside(t.vmAddress, ip, bits) || t.vmAddress === ip)
          ctx.addIssue({
            code: 'custom',
            path: ['vmAddress'],
            message: "the server's tunnel address must be another address of the tunnel's network",
          });
      })
      .nullable(),
  })
  .superRefine((c, ctx) => {
    // Through a tunnel, the link must go into it: not to some other host the code names.
    if (c.tunnel && c.grpc.split(':')[0] !== c.tunnel.vmAddress)
      ctx.addIssue({ code: 'custom', path: ['grpc'], message: "the link must go to the server's tunnel address" });
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
  if (!r.success) {
    // Our own messages say what is wrong (a public tunnel address, a bad key); zod's generic ones are not shown.
    const custom = r.error.issues.find(
      (i) => i.code === 'custom' || i.path.includes('pairUrl') || i.message.startsWith('expected '),
    );
    throw new Error(
      custom
        ? `the pairing code is not acceptable: ${custom.message === 'Invalid URL' ? 'the server URL must be http(s)' : custom.message}`
        : 'the pairing code is damaged or from an incompatible version',
    );
  }
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
