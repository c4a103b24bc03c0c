// The owner's archive secret: what it may look like, the recovery secret Guardian generates, and the file it lives in
// on the edge. The secret is text. The generated form is 40 Crockford base32 symbols (200 random bits) in groups of
// five, easy to write down and type back; typed back in any case, with or without the dashes, it means the same.
// The file is private: written 0600 without ever replacing an existing one, and refused when group or others could
// read it (as the WireGuard private key is, src/shared/wireguard/keys.ts).
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import { GuardianError } from '../errors.ts';

/** A secret as callers hold it: text, or the UTF-8 bytes of that text (a file's content, stdin). */
export type Secret = string | Buffer;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SECRET_BYTES = 25; // 200 bits = 40 symbols, 8 groups of 5
const GROUPS = 8;
const GROUP = 5;
const MIN_LENGTH = 8;
const MAX_LENGTH = 1024;
const MAX_FILE_BYTES = 4096;

/** A new recovery secret: 200 random bits as `XXXXX-XXXXX-…` (8 groups of 5 Crockford base32 symbols). */
export function createSecret(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(SECRET_BYTES);
  let bits = 0;
  let value = 0;
  let symbols = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      symbols += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return symbols.match(new RegExp(`.{${GROUP}}`, 'g'))?.join('-') ?? symbols;
}

/** The recovery form typed back: any case, dashes or spaces between groups or none, O for 0 and I/L for 1. */
function canonicalRecoverySecret(text: string): string | null {
  if (!new RegExp(`^[0-9a-z]{${GROUP}}([- ]?[0-9a-z]{${GROUP}}){${GROUPS - 1}}$`, 'i').test(text)) return null;
  const compact = text.replace(/[- ]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
  if (![...compact].every((c) => CROCKFORD.includes(c))) return null; // U is not a symbol
  return compact.match(new RegExp(`.{${GROUP}}`, 'g'))?.join('-') ?? null;
}

/**
 * The text a secret stands for, which is what the key derivation reads (as UTF-8): surrounding white space (the
 * newline at the end of a file or of stdin) removed, Unicode NFC, and a recovery secret in its canonical form.
 * Too short, too long, not UTF-8: INVALID_ARGUMENT.
 */
export function normalizeSecret(secret: Secret): string {
  let text: string;
  if (typeof secret === 'string') text = secret;
  else if (Buffer.isBuffer(secret)) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(secret);
    } catch {
      throw new GuardianError('INVALID_ARGUMENT', 'the archive secret is not UTF-8 text');
    }
  } else throw new GuardianError('INVALID_ARGUMENT', 'the archive secret must be a string or a Buffer');
  text = text.trim().normalize('NFC');
  const chars = [...text].length;
  if (chars < MIN_LENGTH)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `the archive secret is too short (${chars} characters; at least ${MIN_LENGTH})`,
    );
  if (chars > MAX_LENGTH)
    throw new GuardianError('INVALID_ARGUMENT', `the archive secret is too long (at most ${MAX_LENGTH} characters)`);
  return canonicalRecoverySecret(text) ?? text;
}

function fileError(err: unknown, path: string): GuardianError {
  if (err instanceof GuardianError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new GuardianError('NOT_FOUND', `the secret file ${path} does not exist`);
  if (code === 'EACCES' || code === 'EPERM')
    return new GuardianError('PERMISSION_DENIED', `the secret file ${path} cannot be opened (permission denied)`);
  if (code === 'EISDIR') return new GuardianError('INVALID_ARGUMENT', `${path} is a directory, not a secret file`);
  return new GuardianError('IO_ERROR', `${path}: ${(err as Error).message}`);
}

/** Reads and normalizes the secret in `path`; refused (PERMISSION_DENIED) when group or others may access it. */
export function readSecretFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fileError(err, path);
  }
  try {
    // fstat the descriptor read from, so the mode checked is the mode of the file read.
    const st = fstatSync(fd);
    if (!st.isFile()) throw new GuardianError('INVALID_ARGUMENT', `${path} is not a regular file`);
    if (st.mode & 0o077) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new GuardianError(
        'PERMISSION_DENIED',
        `the secret file ${path} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`,
      );
    }
    if (st.size > MAX_FILE_BYTES)
      throw new GuardianError('INVALID_ARGUMENT', `${path} is too large to be a secret file (${st.size} bytes)`);
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_FILE_BYTES) throw new GuardianError('INVALID_ARGUMENT', `${path} is too large to be a secret file`);
    try {
      return normalizeSecret(buf.subarray(0, n));
    } catch (err) {
      throw new GuardianError('INVALID_ARGUMENT', `${path}: ${(err as Error).message}`);
    }
  } catch (err) {
    throw fileError(err, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the secret to `path` with mode 0600 (its directory 0700 if made here). The file appears whole or not at
 * all (a temporary file linked into place), and an existing file is never replaced (CONFLICT): losing the secret
 * that archived footage was encrypted with loses the footage.
 */
export function writeSecretFile(path: string, secret: Secret): void {
  const text = normalizeSecret(secret);
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${text}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path); // fails with EEXIST instead of replacing
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new GuardianError(
          'CONFLICT',
          `${path} already exists; an archive secret is never overwritten (footage encrypted with it would be lost)`,
        );
      throw err;
    }
    try {
      const dir = openSync(dirname(path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch {
      // a directory that cannot be fsynced (some filesystems): the file itself is synced
    }
  } catch (err) {
    throw fileError(err, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}
