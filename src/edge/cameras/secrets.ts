// Camera credentials at rest: AES-256-GCM with a key of its own in a 0600 file beside the database, so a copy of
// guardian.db (a backup, a stolen disk image without the key file, a local user who can read it) holds no password.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { GuardianError } from '../../shared/errors.ts';

export const CREDENTIAL_KEY_FILE = 'camera-credentials.key';
const PREFIX = 'gcm1:';

/**
 * The key for a database file: `<its folder>/camera-credentials.key`, made (32 random bytes, mode 0600) on first use
 * and tightened to 0600 if it was looser. An in-memory database gets a key that lives as long as the process.
 */
export function credentialKey(dbFile: string): Buffer {
  if (!dbFile || dbFile === ':memory:') return randomBytes(32);
  const file = join(dirname(dbFile), CREDENTIAL_KEY_FILE);
  try {
    writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const key = readFileSync(file);
  if (key.length !== 32)
    throw new GuardianError('CORRUPT_DATA', `${CREDENTIAL_KEY_FILE} in the data folder is not a 32-byte key`);
  return key;
}

/** `aad` binds a value to its place (camera and field): a sealed password copied to another row does not open. */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** The plaintext of a sealed value, or undefined when it does not open with this key (another key, altered). */
export function unseal(key: Buffer, sealed: string, aad: string): string | undefined {
  if (!sealed.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  if (raw.length < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
