// The owner's API token on the VM. The VM keeps only its SHA-256 (`<dataDir>/api-token.sha256`, 0600): neither its
// database nor anything it reads to authenticate holds the token itself. A token it issues is shown once: written
// for the owner to `api.tokenFile` (default `<dataDir>/api-token`, 0600, which the owner may delete once the token is
// kept elsewhere: the VM never needs it again), or with `tokenFile: false` only printed on the console.
// `guardian keys token` issues a new one (the old one stops working at once).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { writePrivateFile } from '../shared/fs-perms.ts';
import type { Logger } from '../shared/log.ts';
import type { VmConfig } from './config.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const HASH = /^[0-9a-f]{64}$/;

export const apiTokenHashPath = (config: VmConfig) => join(config.dataDir, 'api-token.sha256');
/** Where a token the VM issues is written for the owner, or null when it is only printed. */
export const apiTokenFile = (config: VmConfig): string | null =>
  config.api.tokenFile === false ? null : (config.api.tokenFile ?? join(config.dataDir, 'api-token'));
/** Where versions before hashes kept the token (in clear): read once to keep the same token working. */
const legacyTokenPath = (config: VmConfig) => join(config.dataDir, 'api-token');

export interface OwnerToken {
  /** Whether a bearer token is the owner's (constant time; a rotated hash file is picked up). */
  matches(given: string): boolean;
  /** The token in clear when this process knows it (configured, issued now, or the owner's copy); '' otherwise. */
  token: string;
  /** Issued at this start: to show the owner once. */
  issued: boolean;
  /** Where the issued token was written for the owner, or null. */
  file: string | null;
}

function readHash(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const h = readFileSync(path, 'utf8').trim();
  if (!HASH.test(h)) throw new Error(`${path} does not hold a SHA-256 (64 hex digits); delete it to issue a new token`);
  return h;
}

function readToken(path: string | null): string {
  if (!path || !existsSync(path)) return '';
  return readFileSync(path, 'utf8').trim();
}

/** A new random token: its hash replaces the stored one, and the token goes to the owner's file when there is one. */
export function issueApiToken(config: VmConfig): { token: string; file: string | null } {
  if (config.api.token || config.api.tokenSha256)
    throw new Error('the API token is set in the configuration (api.token / api.tokenSha256): change it there');
  const token = randomBytes(32).toString('base64url');
  const file = apiTokenFile(config);
  // The owner's copy first: a crash in between leaves the old token valid and a new copy, which the next start reads
  // back (its hash is adopted only when no hash is stored) or the next `keys token` replaces.
  if (file) writePrivateFile(file, `${token}\n`);
  writePrivateFile(apiTokenHashPath(config), `${sha256(token)}\n`);
  return { token, file };
}

/** The owner's token as configured, else as stored (its hash), else issued now. */
export function ownerApiToken(config: VmConfig, log: Logger): OwnerToken {
  const fixed = (hash: string, token: string): OwnerToken => {
    const want = Buffer.from(hash, 'hex');
    return {
      matches: (given) => timingSafeEqual(Buffer.from(sha256(given), 'hex'), want),
      token,
      issued: false,
      file: null,
    };
  };
  if (config.api.token) return fixed(sha256(config.api.token), config.api.token);
  if (config.api.tokenSha256) return fixed(config.api.tokenSha256.toLowerCase(), '');

  const hashPath = apiTokenHashPath(config);
  const file = apiTokenFile(config);
  let issued = false;
  let token = readToken(file);
  if (!readHash(hashPath)) {
    // An older version's token file (or the owner's copy of a token whose hash was lost): keep that token working.
    const legacy = token || readToken(legacyTokenPath(config));
    if (legacy) {
      writePrivateFile(hashPath, `${sha256(legacy)}\n`);
      if (!token)
        log.warn(
          { file: legacyTokenPath(config) },
          'the API token is kept in clear in the data dir; the VM now keeps only its hash: store the token ' +
            'elsewhere and delete the file',
        );
    } else {
      ({ token } = issueApiToken(config));
      issued = true;
    }
  }
  let hash = readHash(hashPath) as string;
  let seen = '';
  /** The hash file's identity: a rename by `keys token` changes it. */
  const version = () => {
    const st = statSync(hashPath, { throwIfNoEntry: false });
    return st ? `${st.ino}:${st.mtimeMs}` : seen;
  };
  seen = version();
  if (token && sha256(token) !== hash) token = ''; // a copy of an older token: it no longer works
  return {
    matches(given) {
      const ok = () => timingSafeEqual(Buffer.from(sha256(given), 'hex'), Buffer.from(hash, 'hex'));
      if (ok()) return true;
      // `guardian keys token` may have replaced the hash while the VM runs.
      const now = version();
      if (now === seen) return false;
      seen = now;
      try {
        hash = readHash(hashPath) ?? hash;
      } catch {
        return false; // a damaged file is reported at the next start
      }
      return ok();
    },
    token,
    issued,
    file: issued ? file : null,
  };
}
