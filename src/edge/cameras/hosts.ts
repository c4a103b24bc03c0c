// Where a camera URL really points. FFmpeg hands a URL's host to the C resolver (getaddrinfo, which takes every IPv4
// form inet_aton does: 2852039166, 0xa9.0xfe.0xa9.0xfe, 0251.0376.0251.0376, 169.254.43518) and WHATWG URL parsing
// does not normalise hosts of rtsp: URLs, so a host is parsed here as the resolver would, names are resolved and
// every address checked, and the connection is then pinned to the checked address (DNS cannot change it between
// the check and the connect).
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';

import ipaddr from 'ipaddr.js';

import { GuardianError } from '../../shared/errors.ts';

/** stream: RTSP(S), loopback allowed (a local restreamer such as go2rtc); snapshot: HTTP(S) fetched by the edge
 *  itself, so loopback and the appliance's own addresses are refused (they reach its own services). */
export type HostPurpose = 'stream' | 'snapshot';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A host as the resolver sees it: an address, or a name still to resolve. */
export type Host = { ip: Address; name?: undefined } | { ip?: undefined; name: string };

/** Resolves a name to all of its addresses (dns.lookup with all: true; tests give their own). */
export type Resolver = (name: string) => Promise<string[]>;

export const systemResolver: Resolver = async (name) =>
  (await lookup(name, { all: true, verbatim: true })).map((a) => a.address);

const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.com',
  'instance-data',
  'instance-data.ec2.internal',
]);
// Cloud metadata services outside 169.254.0.0/16: Alibaba, Oracle's second endpoint, AWS's IPv6 endpoint.
const METADATA_ADDRESSES = ['100.100.100.200', '192.0.0.192', 'fd00:ec2::254'].map((a) =>
  ipaddr.parse(a).toNormalizedString(),
);
const CLASS_E = ipaddr.parseCIDR('240.0.0.0/4');
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** One part of a dotted IPv4 address as inet_aton reads it: 0x hex, 0 octal, else decimal. */
function atonPart(s: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return Number.parseInt(s, 8);
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  return undefined;
}

/**
 * The IPv4 address inet_aton (and so getaddrinfo, and so FFmpeg) reads in `s`: 1 to 4 parts, the last filling the
 * remaining bytes (a, a.b, a.b.c, a.b.c.d), or undefined when it is not one.
 */
export function inetAton(s: string): ipaddr.IPv4 | undefined {
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const values = parts.map(atonPart);
  if (values.some((v) => v === undefined)) return undefined;
  const nums = values as number[];
  const last = nums.pop() as number;
  if (nums.some((v) => v > 255)) return undefined;
  const lastBytes = 4 - nums.length;
  if (last >= 2 ** (8 * lastBytes)) return undefined;
  const octets = [...nums];
  for (let i = lastBytes - 1; i >= 0; i--) octets.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return new ipaddr.IPv4(octets);
}

/**
 * A URL's hostname (brackets for IPv6, any case, trailing dots) as the resolver would take it, or a reason it is not
 * a host. Names must be letters, digits, - and _ in dot-separated labels; a name whose last label is a number must be
 * an IPv4 address (as in the WHATWG URL standard), so no numeric form can slip through as a "name".
 */
export function parseHost(hostname: string): Host | string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    if (inner.includes('%')) return 'IPv6 zone identifiers are not allowed';
    if (!ipaddr.IPv6.isValid(inner)) return 'is not a valid IPv6 address';
    return { ip: ipaddr.IPv6.parse(inner) };
  }
  host = host.replace(/\.+$/, ''); // "metadata.google.internal." is the same name
  if (!host) return 'a host is required';
  if (host.length > 253) return 'the host name is longer than 253 characters';
  if (ipaddr.IPv6.isValid(host)) return { ip: ipaddr.IPv6.parse(host) }; // from a resolver, without brackets
  const v4 = inetAton(host);
  if (v4) return { ip: v4 };
  const labels = host.split('.');
  const lastLabel = labels.at(-1) ?? '';
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(lastLabel)) return 'is not a valid IPv4 address';
  if (!labels.every((l) => LABEL.test(l)))
    return 'expected a host name (letters, digits, "-" and "_" between dots) or an IP address';
  return { name: host };
}

/** The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, translated, NAT64 64:ff9b::/96, compatible ::a.b.c.d,
 *  6to4 2002:AABB:CCDD::/48), which a dual-stack socket or a translator would reach. */
function embeddedV4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const range = ip.range();
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  if (range === 'ipv4Mapped') return ip.toIPv4Address();
  if (range === 'rfc6145' || range === 'rfc6052') return v4(p[6] ?? 0, p[7] ?? 0);
  if (range === '6to4') return v4(p[1] ?? 0, p[2] ?? 0);
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || (p[7] ?? 0) > 1)) return v4(p[6] ?? 0, p[7] ?? 0);
  return undefined;
}

function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) {
      const address = a.address.split('%')[0] ?? '';
      if (ipaddr.isValid(address)) own.add(ipaddr.parse(address).toNormalizedString());
    }
  return own;
}

/** Why a camera must not be at this address, or undefined when it may be. */
export function forbiddenAddress(ip: Address, purpose: HostPurpose): string | undefined {
  if (ip.kind() === 'ipv6') {
    const inner = embeddedV4(ip as ipaddr.IPv6);
    if (inner) return forbiddenAddress(inner, purpose);
  }
  const range = ip.range();
  const normal = ip.toNormalizedString();
  if (METADATA_ADDRESSES.includes(normal)) return 'cloud metadata endpoints are not cameras';
  if (purpose === 'snapshot' && range !== 'loopback' && ownAddresses().has(normal))
    return "the appliance's own addresses are refused for snapshot URLs";
  switch (range) {
    case 'linkLocal':
      return ip.kind() === 'ipv4'
        ? 'link-local and metadata addresses (169.254.0.0/16) are not allowed'
        : 'link-local addresses (fe80::/10) are not allowed';
    case 'unspecified':
      return `${ip.kind() === 'ipv4' ? '0.0.0.0/8' : '::'} is not a host`;
    case 'multicast':
    case 'broadcast':
      return 'multicast and broadcast addresses are not cameras';
    case 'reserved': // of these only 240.0.0.0/4 is not a host; the documentation ranges are used as networks
      return ip.kind() === 'ipv4' && ip.match(CLASS_E) ? '240.0.0.0/4 is not a host' : undefined;
    case 'loopback':
      if (purpose === 'snapshot')
        return 'loopback addresses are refused for snapshot URLs (they reach the appliance itself)';
      return undefined;
  }
  return undefined;
}

/** Why a URL hostname must not be a camera (checked without resolving names), or undefined when it may be. */
export function forbiddenHost(hostname: string, purpose: HostPurpose = 'stream'): string | undefined {
  const host = parseHost(hostname);
  if (typeof host === 'string') return host;
  if (host.ip) return forbiddenAddress(host.ip, purpose);
  if (METADATA_NAMES.has(host.name)) return 'cloud metadata endpoints are not cameras';
  return undefined;
}

/** The address to write into a URL: dotted quad, or bracketed IPv6. */
export function urlHost(ip: Address): string {
  return ip.kind() === 'ipv6' ? `[${ip.toString()}]` : ip.toString();
}

/**
 * Every address of a URL hostname, checked: the first one (to pin the connection to), or a GuardianError
 * (FORBIDDEN: not a place for a camera; UNAVAILABLE: the name does not resolve now). A name with any forbidden
 * address is refused, whichever address a client would have picked.
 */
export async function resolveHost(
  hostname: string,
  purpose: HostPurpose,
  resolve: Resolver = systemResolver,
): Promise<Address> {
  const host = parseHost(hostname);
  if (typeof host === 'string') throw new GuardianError('FORBIDDEN', `camera host ${host}`);
  const forbidden = (why: string) => new GuardianError('FORBIDDEN', `camera host not allowed: ${why}`);
  if (host.ip) {
    const bad = forbiddenAddress(host.ip, purpose);
    if (bad) throw forbidden(bad);
    return host.ip;
  }
  if (METADATA_NAMES.has(host.name)) throw forbidden('cloud metadata endpoints are not cameras');
  let found: string[];
  try {
    found = await resolve(host.name);
  } catch {
    throw new GuardianError('UNAVAILABLE', `camera host ${host.name} does not resolve`);
  }
  const addresses: Address[] = [];
  for (const a of found) {
    const address = a.split('%')[0] ?? '';
    if (!ipaddr.isValid(address)) throw forbidden(`${host.name} resolves to something that is not an address`);
    const ip = ipaddr.parse(address);
    const bad = forbiddenAddress(ip, purpose);
    if (bad) throw forbidden(`${host.name} resolves to ${ip.toString()}: ${bad}`);
    addresses.push(ip);
  }
  const first = addresses[0];
  if (!first) throw new GuardianError('UNAVAILABLE', `camera host ${host.name} does not resolve`);
  return first;
}

/**
 * A URL with its host replaced by the checked address it resolves to (credentials, port and path kept), for the
 * media core; `host` is the original hostname (for display, and TLS names where a client takes one).
 */
export async function pinUrl(
  url: string,
  purpose: HostPurpose,
  resolve: Resolver = systemResolver,
): Promise<{ url: string; host: string }> {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?(\[[^\]]*\]|[^/?#:]*)(.*)$/is.exec(url);
  if (!m) throw new GuardianError('INVALID_ARGUMENT', 'camera URL without a host');
  const [, scheme = '', userinfo = '', host = '', rest = ''] = m;
  const ip = await resolveHost(host, purpose, resolve);
  return { url: `${scheme}${userinfo}${urlHost(ip)}${rest}`, host };
}
