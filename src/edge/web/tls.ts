// HTTPS for the local UI. The home network is not trusted, so the appliance serves TLS whenever it listens beyond
// loopback: with the owner's certificate when configured, else with a self-signed one it makes at first run and
// keeps (its SHA-256 fingerprint is printed on the console and shown in the UI, for the owner to compare with what
// the browser shows once, then trust).
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';

import selfsigned from 'selfsigned';

import type { Config } from '../../shared/config.ts';
import { ValidationError } from '../../shared/errors.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, as browsers show it (AA:BB:...). */
  fingerprint: string;
  /** Whether the certificate was made just now (first run). */
  created: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Whether the UI is served over TLS: as configured, else whenever it listens beyond loopback. */
export function tlsWanted(config: Config): boolean {
  const { enabled } = config.http.tls;
  return enabled === 'auto' ? !LOOPBACK.test(config.http.host) : enabled;
}

/** The certificate and key to serve, made (and kept in the data dir, 0600) when none is configured. */
export async function edgeTlsMaterial(config: Config): Promise<TlsMaterial> {
  const { cert: certFile, key: keyFile } = config.http.tls;
  if (certFile || keyFile) {
    if (!certFile || !keyFile)
      throw new ValidationError([{ field: 'http.tls', message: 'cert and key are given together, or neither' }]);
    const cert = readPem(certFile, 'http.tls.cert');
    const key = readPem(keyFile, 'http.tls.key');
    return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256, created: false };
  }
  const dir = join(config.dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    return {
      cert,
      key: readFileSync(keyPath, 'utf8'),
      fingerprint: new X509Certificate(cert).fingerprint256,
      created: false,
    };
  }
  const me = hostname().toLowerCase();
  const names = [...new Set(['localhost', me, `${me}.local`, ...config.http.allowedHosts.map((h) => h.toLowerCase())])];
  const ips = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) ips.add(a.address.replace(/%.*$/, ''));
  const pems = await selfsigned.generate([{ name: 'commonName', value: `${me}.local` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          ...[...ips].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert, { mode: 0o600 });
  return {
    cert: pems.cert,
    key: pems.private,
    fingerprint: new X509Certificate(pems.cert).fingerprint256,
    created: true,
  };
}

function readPem(file: string, field: string): string {
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN')) throw new Error('not PEM');
    return pem;
  } catch (err) {
    throw new ValidationError([
      {
        field,
        message: `cannot read a PEM file there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      },
    ]);
  }
}
