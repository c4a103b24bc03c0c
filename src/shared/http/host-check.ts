// The Host check against DNS rebinding: a web page anywhere can point a name of its own at the appliance's address
// and then talk to it as a "same origin" site. Browsers always send the name they used in Host, so answering only
// the names the appliance is known by (its IP literals, localhost, its hostname and <hostname>.local, and names
// the owner configured) closes that door; anything else gets 421 Misdirected Request.
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

import type { NextFunction, Request, Response } from 'express';

/** The host part of a Host header ("[::1]:8080" → "::1", "Cam.Local.:80" → "cam.local"), or null when malformed. */
export function hostOf(header: string | undefined): string | null {
  if (!header || header.length > 255) return null;
  const h = header.trim().toLowerCase();
  let host: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    host = h.slice(1, end);
    const rest = h.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return null;
    return isIP(host) === 6 ? host : null;
  }
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (!m?.[1]) return null;
  host = m[1].replace(/\.$/, '');
  return host || null;
}

/** The addresses of this machine's interfaces, re-read at most every few seconds (DHCP renews, Wi-Fi roams). */
function interfaceAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) out.add(a.address.toLowerCase().replace(/%.*$/, ''));
  return out;
}

export class HostAllowList {
  private addresses = new Set<string>();
  private readAtMs = 0;
  private readonly names: Set<string>;

  constructor(extraNames: readonly string[] = []) {
    const me = hostname().toLowerCase();
    this.names = new Set(
      ['localhost', me, `${me}.local`, ...extraNames.map((n) => n.toLowerCase().replace(/\.$/, ''))].filter(Boolean),
    );
  }

  allows(host: string): boolean {
    if (this.names.has(host)) return true;
    if (!isIP(host)) return false;
    const now = Date.now();
    if (now - this.readAtMs > 5_000) {
      this.addresses = interfaceAddresses();
      this.readAtMs = now;
    }
    // Addresses the machine has, and loopback whatever its spelling (127.0.0.0/8 all reach this machine).
    return this.addresses.has(host) || host.startsWith('127.') || host === '::1';
  }

  /** Express middleware: 421 for a Host the appliance is not known by, before any route or file is looked at. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const host = hostOf(req.headers.host);
      if (host && this.allows(host)) return next();
      res.status(421).json({
        error: {
          code: 'MISDIRECTED',
          message:
            'this appliance is not known by the name in the Host header; add the name to http.allowedHosts to use it',
        },
      });
    };
  }
}

/**
 * Refuses a state-changing request that a browser says comes from another site (Origin, or Sec-Fetch-Site), logged
 * in or not: login and first-run setup included, which have no session to carry a CSRF token yet.
 */
export function refuseCrossOriginWrites() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const crossOrigin =
      (origin !== undefined && origin !== `${req.protocol}://${req.headers.host}`) || site === 'cross-site';
    if (!crossOrigin) return next();
    res.status(403).json({ error: { code: 'CSRF', message: 'requests from another site are refused' } });
  };
}
