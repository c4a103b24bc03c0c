// Key derivation of the archive format (docs/archive-format.md, "Keys"): the key-encryption key (KEK) of a secret,
// derived with Argon2id within bounds (KDF_LIMITS) and cached for the process, and the wrapping of a data key under
// it (the AES-256-GCM of the header's key block; where the bytes go is layout.ts's).
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

import { hashRaw } from '@node-rs/argon2';

import { GuardianError } from '../errors.ts';
import { normalizeSecret, type Secret } from './secret.ts';

export interface KdfParams {
  /** Argon2id memory in KiB. */
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}
export interface KdfSettings extends KdfParams {
  /** 16 bytes. */
  salt: Buffer;
}

/** What the writer uses: about 0.15 s on the development machine (docs/benchmarks.md). */
export const DEFAULT_KDF: Readonly<KdfParams> = Object.freeze({ memoryKiB: 65536, iterations: 3, parallelism: 1 });

/**
 * What a reader accepts from a header (and a writer from its caller). The upper bounds cap the work a hostile header
 * can ask for: at most 256 MiB of memory and about 4 s of one core on the development machine.
 */
export const KDF_LIMITS = Object.freeze({
  memoryKiB: { min: 1024, max: 262144 },
  iterations: { min: 1, max: 10 },
  parallelism: { min: 1, max: 4 },
  saltBytes: 16,
});

/**
 * A key-encryption key derived from a secret: its key id and how it was derived. The key, and the secret it came
 * from, are held where nothing outside this module reaches them (not even by printing the object): a data key is
 * wrapped and unwrapped under it here (wrapDataKey, unwrapDataKey). Holding the secret lets a Kek open archives
 * written under another salt (by another process, or before a rotation): the KEK for that salt is derived from it,
 * once, and cached.
 */
export interface Kek {
  /** 8 bytes as 16 hex digits: recognises the secret (and salt) an archive was written with. */
  readonly keyId: string;
  readonly kdf: Readonly<KdfSettings>;
}

const kekKeys = new WeakMap<object, { key: KeyObject; secret: string }>();

export function isKek(value: unknown): value is Kek {
  return typeof value === 'object' && value !== null && kekKeys.has(value);
}

function makeKek(key: Buffer, kdf: KdfSettings, secret: string): Kek {
  const kek: Kek = Object.freeze({
    keyId: keyIdOf(key).toString('hex'),
    kdf: Object.freeze({ ...kdf, salt: Buffer.from(kdf.salt) }),
  });
  kekKeys.set(kek, { key: createSecretKey(key), secret });
  return kek;
}

function keyOf(kek: Kek): KeyObject {
  const k = kekKeys.get(kek);
  if (!k) throw new GuardianError('INVALID_ARGUMENT', 'not a key made by deriveKek');
  return k.key;
}

const sameKdf = (a: KdfSettings, b: Partial<KdfSettings>) =>
  (b.memoryKiB === undefined || a.memoryKiB === b.memoryKiB) &&
  (b.iterations === undefined || a.iterations === b.iterations) &&
  (b.parallelism === undefined || a.parallelism === b.parallelism) &&
  (b.salt === undefined || a.salt.equals(b.salt));

function keyIdOf(kek: Buffer): Buffer {
  return createHash('sha256').update('GDNA v1 key id').update(kek).digest().subarray(0, 8);
}

/** Refuses Argon2id settings past KDF_LIMITS (INVALID_ARGUMENT), naming `where` they came from. */
export function checkKdf(p: KdfParams, saltLength: number, where: string): void {
  const bad = (field: keyof typeof KDF_LIMITS, value: number) => {
    const { min, max } = KDF_LIMITS[field] as { min: number; max: number };
    if (!Number.isInteger(value) || value < min || value > max)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `${where} asks for Argon2id ${field} ${value}; accepted: a whole number from ${min} to ${max}`,
      );
  };
  bad('memoryKiB', p.memoryKiB);
  bad('iterations', p.iterations);
  bad('parallelism', p.parallelism);
  if (p.memoryKiB < 8 * p.parallelism)
    throw new GuardianError('INVALID_ARGUMENT', `${where}: Argon2id needs at least 8 KiB of memory per lane`);
  if (saltLength !== KDF_LIMITS.saltBytes)
    throw new GuardianError('INVALID_ARGUMENT', `${where}: the Argon2id salt must be ${KDF_LIMITS.saltBytes} bytes`);
}

const kekCache = new Map<string, Promise<Kek>>();
const writerSalts = new Map<string, Buffer>();
const KEK_CACHE_SIZE = 64;

const secretDigest = (text: string) => createHash('sha256').update('GDNA secret').update(text).digest('hex');

/**
 * The KEK of a secret. Without a salt this is the writer's KEK: one random salt per secret for the whole process,
 * so that every object written with the secret shares it and Argon2id runs once (a reader of many objects derives
 * once per distinct salt). Results are cached in memory for the process (by a digest of the secret, its salt and
 * parameters); concurrent calls share one derivation. Given a Kek, it is returned as it is when `params` agree with
 * it, and otherwise derived anew from the secret it holds.
 */
export async function deriveKek(secret: Secret | Kek, params: Partial<KdfSettings> = {}): Promise<Kek> {
  if (isKek(secret)) {
    if (sameKdf(secret.kdf, params)) return secret;
    return deriveKek((kekKeys.get(secret) as { secret: string }).secret, params);
  }
  const text = normalizeSecret(secret);
  const digest = secretDigest(text);
  const p: KdfParams = {
    memoryKiB: params.memoryKiB ?? DEFAULT_KDF.memoryKiB,
    iterations: params.iterations ?? DEFAULT_KDF.iterations,
    parallelism: params.parallelism ?? DEFAULT_KDF.parallelism,
  };
  let salt = params.salt;
  if (!salt) {
    salt = writerSalts.get(digest) ?? randomBytes(KDF_LIMITS.saltBytes);
    writerSalts.set(digest, salt);
  }
  if (!Buffer.isBuffer(salt)) throw new GuardianError('INVALID_ARGUMENT', 'the Argon2id salt must be a Buffer');
  checkKdf(p, salt.length, 'the key derivation');
  const cacheKey = `${digest}:${p.memoryKiB}:${p.iterations}:${p.parallelism}:${salt.toString('hex')}`;
  let kek = kekCache.get(cacheKey);
  if (!kek) {
    const settings: KdfSettings = { ...p, salt: Buffer.from(salt) };
    kek = hashRaw(Buffer.from(text, 'utf8'), {
      algorithm: 2, // Argon2id (a const enum in the typings, which tsx cannot inline)
      version: 1, // 0x13
      memoryCost: p.memoryKiB,
      timeCost: p.iterations,
      parallelism: p.parallelism,
      outputLen: 32,
      salt: settings.salt,
    }).then((key) => {
      const k = makeKek(key, settings, text);
      key.fill(0);
      return k;
    });
    kekCache.set(cacheKey, kek);
    if (kekCache.size > KEK_CACHE_SIZE) kekCache.delete(kekCache.keys().next().value as string);
    kek.catch(() => kekCache.delete(cacheKey));
  }
  return kek;
}

/** The data key wrapped under `kek` (AES-256-GCM, `aad` the header up to the wrapped key): 32 bytes and the tag. */
export function wrapDataKey(
  kek: Kek,
  wrapNonce: Buffer,
  aad: Buffer,
  dataKey: Buffer,
): { wrapped: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', keyOf(kek), wrapNonce);
  c.setAAD(aad);
  const wrapped = Buffer.concat([c.update(dataKey), c.final()]);
  return { wrapped, tag: c.getAuthTag() };
}

/** The data key unwrapped from a key block under `kek`, or null when the wrap tag does not authenticate it. */
export function unwrapDataKey(kek: Kek, wrapNonce: Buffer, aad: Buffer, wrapped: Buffer, tag: Buffer): Buffer | null {
  const d = createDecipheriv('aes-256-gcm', keyOf(kek), wrapNonce);
  d.setAAD(aad);
  d.setAuthTag(tag);
  const key = d.update(wrapped);
  try {
    d.final();
  } catch {
    key.fill(0);
    return null;
  }
  return key;
}
