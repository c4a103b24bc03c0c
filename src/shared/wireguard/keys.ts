// WireGuard keys: X25519 pairs from node:crypto, in WireGuard's text form (standard base64 of the raw 32 bytes).
// The private key file must stay private: it is written 0600 atomically and refused when others could read it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

// PKCS#8 header of an X25519 private key (RFC 8410): Node cannot import a JWK that has `d` without `x`.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

const b64urlToB64 = (s: string) => Buffer.from(s, 'base64url').toString('base64');

export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { privateKey: b64urlToB64(jwk.d as string), publicKey: b64urlToB64(jwk.x as string) };
}

/** 44-character base64 of exactly 32 bytes, the form `wg` prints and reads. */
export function isWireGuardKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
}

export function publicKeyOf(privateKeyB64: string): string {
  if (!isWireGuardKey(privateKeyB64)) throw new Error('not a WireGuard private key (44-character base64)');
  const der = Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKeyB64, 'base64')]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return b64urlToB64(jwk.x as string);
}

/** Writes the key with mode 0600 through a temporary file and a rename, so a reader never sees half a key. */
export function writePrivateKey(path: string, key: string): void {
  if (!isWireGuardKey(key)) throw new Error('not a WireGuard private key (44-character base64)');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${key}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function readPrivateKey(path: string): string {
  // fstat the descriptor we read from, so the mode checked is the mode of the file read.
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (st.mode & 0o077) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(`${path} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`);
    }
    const key = readFileSync(fd, 'utf8').trim();
    if (!isWireGuardKey(key)) throw new Error(`${path} does not hold a WireGuard private key`);
    return key;
  } finally {
    closeSync(fd);
  }
}

export function loadOrCreateKeyPair(path: string): KeyPair {
  try {
    const privateKey = readPrivateKey(path);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const pair = generateKeyPair();
  writePrivateKey(path, pair.privateKey);
  return pair;
}
