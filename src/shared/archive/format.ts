// The encrypted archive format, version 1 (docs/archive-format.md describes it byte by byte): a fixed 145-byte
// header, then the plaintext in 64 KiB segments, each sealed with AES-256-GCM under a per-object key, its nonce the
// object's random prefix, the segment counter and a last-segment flag (as in age's STREAM and Tink's streaming AEAD),
// its associated data the immutable part of the header. The data key is random per object and wrapped by a
// key-encryption key (KEK) derived from the owner's secret with Argon2id; rotating the secret rewrites the wrapped
// key (the header's key block) in place and leaves the body alone.
//
// Nothing here releases plaintext of a segment that failed: each segment is decrypted to a buffer, its tag
// verified, and only then handed on. Errors are GuardianErrors: CORRUPT_DATA (damaged, truncated, extended,
// reordered), UNAUTHORIZED (a wrong secret), INVALID_ARGUMENT (a header asking for unbounded work), UNSUPPORTED_INPUT
// (a later format version).
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';

import { hashRaw } from '@node-rs/argon2';

import { GuardianError } from '../errors.ts';
import { normalizeSecret, type Secret } from './secret.ts';

export { createSecret, normalizeSecret, readSecretFile, type Secret, writeSecretFile } from './secret.ts';

// ---------------------------------------------------------------------------------------------------------------
// Layout (version 1). Every integer is big-endian.

export const MAGIC = Buffer.from('GDNA', 'latin1');
export const FORMAT_VERSION = 1;
/** Algorithm 1: AES-256-GCM segments under an HKDF-SHA256 per-object key, the data key wrapped with AES-256-GCM. */
export const ALGORITHM_AES256GCM_HKDF_SHA256 = 1;
/** KDF 1: Argon2id, version 0x13, 32-byte output. */
export const KDF_ARGON2ID = 1;
export const SEGMENT_SIZE = 65536;
export const TAG_SIZE = 16;
/** A whole segment as stored: plaintext segment plus its tag. */
export const SEGMENT_STORED_SIZE = SEGMENT_SIZE + TAG_SIZE;
export const MAX_SEGMENTS = 2 ** 32;

/** Byte offsets and sizes of the v1 header; `docs/archive-format.md` has the same table. */
export const LAYOUT = {
  magic: { offset: 0, size: 4 },
  headerSize: { offset: 4, size: 2 },
  version: { offset: 6, size: 1 },
  algorithm: { offset: 7, size: 1 },
  segmentSize: { offset: 8, size: 4 },
  objectId: { offset: 12, size: 16 },
  noncePrefix: { offset: 28, size: 7 },
  // end of the immutable part (35 bytes): the associated data of every segment
  kdf: { offset: 35, size: 1 },
  memoryKiB: { offset: 36, size: 4 },
  iterations: { offset: 40, size: 4 },
  parallelism: { offset: 44, size: 1 },
  salt: { offset: 45, size: 16 },
  keyId: { offset: 61, size: 8 },
  wrapNonce: { offset: 69, size: 12 },
  wrappedKey: { offset: 81, size: 32 },
  wrapTag: { offset: 113, size: 16 },
  // end of the key block
  digest: { offset: 129, size: 16 },
} as const;
export const IMMUTABLE_SIZE = 35;
export const KEY_BLOCK_OFFSET = IMMUTABLE_SIZE;
export const KEY_BLOCK_SIZE = 94;
export const HEADER_SIZE = 145;
/** Later versions may have longer headers; none may be longer than this (a reader never reads more for one). */
const MAX_HEADER_SIZE = 4096;

// ---------------------------------------------------------------------------------------------------------------
// Key derivation

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
 * from, are held where nothing outside this module reaches them (not even by printing the object). Holding the
 * secret lets a Kek open archives written under another salt (by another process, or before a rotation): the KEK
 * for that salt is derived from it, once, and cached.
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

function checkKdf(p: KdfParams, saltLength: number, where: string): void {
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

// ---------------------------------------------------------------------------------------------------------------
// Header

/** What a header says, readable without the secret. */
export interface ArchiveHeader {
  version: number;
  algorithm: number;
  headerSize: number;
  segmentSize: number;
  /** 16 bytes, hex. */
  objectId: string;
  kdf: KdfSettings;
  /** 8 bytes, hex. */
  keyId: string;
}

interface ParsedHeader extends ArchiveHeader {
  bytes: Buffer;
  immutable: Buffer;
  objectIdBytes: Buffer;
  noncePrefix: Buffer;
  wrapAad: Buffer;
  wrapNonce: Buffer;
  wrappedKey: Buffer;
  wrapTag: Buffer;
}

const field = (buf: Buffer, f: { offset: number; size: number }) => buf.subarray(f.offset, f.offset + f.size);

const headerDigest = (bytesBeforeDigest: Buffer) =>
  createHash('sha256').update(bytesBeforeDigest).digest().subarray(0, LAYOUT.digest.size);

/**
 * Parses and checks a header from the first bytes of an archive (`bytes` may run on into the body). Checked in this
 * order: magic, header size, digest (any damaged byte: CORRUPT_DATA), version and algorithm (UNSUPPORTED_INPUT),
 * then the bounds of what it asks for (INVALID_ARGUMENT).
 */
export function parseHeader(bytes: Buffer): ArchiveHeader {
  return parse(bytes);
}

function parse(bytes: Buffer): ParsedHeader {
  if (bytes.length < 6 || !bytes.subarray(0, 4).equals(MAGIC))
    throw new GuardianError('CORRUPT_DATA', 'not a Guardian archive (it does not start with GDNA)');
  const headerSize = bytes.readUInt16BE(LAYOUT.headerSize.offset);
  if (headerSize < HEADER_SIZE || headerSize > MAX_HEADER_SIZE)
    throw new GuardianError('CORRUPT_DATA', `the archive header is damaged (its size field says ${headerSize} bytes)`);
  if (bytes.length < headerSize)
    throw new GuardianError('CORRUPT_DATA', `the archive is truncated: it ends inside its ${headerSize}-byte header`);
  const header = bytes.subarray(0, headerSize);
  const digest = header.subarray(headerSize - LAYOUT.digest.size);
  if (!timingSafeEqual(digest, headerDigest(header.subarray(0, headerSize - LAYOUT.digest.size))))
    throw new GuardianError('CORRUPT_DATA', 'the archive header is damaged (its digest does not match)');
  const version = header[LAYOUT.version.offset] as number;
  if (version !== FORMAT_VERSION)
    throw new GuardianError(
      'UNSUPPORTED_INPUT',
      `archive format version ${version}; this Guardian reads version ${FORMAT_VERSION}`,
    );
  if (headerSize !== HEADER_SIZE)
    throw new GuardianError('CORRUPT_DATA', `a version 1 archive header is ${HEADER_SIZE} bytes, not ${headerSize}`);
  const algorithm = header[LAYOUT.algorithm.offset] as number;
  if (algorithm !== ALGORITHM_AES256GCM_HKDF_SHA256)
    throw new GuardianError('UNSUPPORTED_INPUT', `archive algorithm ${algorithm} is not supported (known: 1)`);
  const segmentSize = header.readUInt32BE(LAYOUT.segmentSize.offset);
  if (segmentSize !== SEGMENT_SIZE)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `the archive header asks for ${segmentSize}-byte segments; version 1 has ${SEGMENT_SIZE}`,
    );
  const kdfId = header[LAYOUT.kdf.offset] as number;
  if (kdfId !== KDF_ARGON2ID)
    throw new GuardianError('UNSUPPORTED_INPUT', `archive key derivation ${kdfId} is not supported (known: 1)`);
  const kdf: KdfSettings = {
    memoryKiB: header.readUInt32BE(LAYOUT.memoryKiB.offset),
    iterations: header.readUInt32BE(LAYOUT.iterations.offset),
    parallelism: header[LAYOUT.parallelism.offset] as number,
    salt: Buffer.from(field(header, LAYOUT.salt)),
  };
  checkKdf(kdf, kdf.salt.length, 'the archive header');
  const objectIdBytes = field(header, LAYOUT.objectId);
  return {
    version,
    algorithm,
    headerSize,
    segmentSize,
    objectId: objectIdBytes.toString('hex'),
    kdf,
    keyId: field(header, LAYOUT.keyId).toString('hex'),
    bytes: header,
    immutable: header.subarray(0, IMMUTABLE_SIZE),
    objectIdBytes,
    noncePrefix: field(header, LAYOUT.noncePrefix),
    wrapAad: header.subarray(0, LAYOUT.wrappedKey.offset),
    wrapNonce: field(header, LAYOUT.wrapNonce),
    wrappedKey: field(header, LAYOUT.wrappedKey),
    wrapTag: field(header, LAYOUT.wrapTag),
  };
}

/** The key block (and digest) for `immutable` under `kek`: the data key wrapped, with the KDF settings it needs. */
function sealKeyBlock(immutable: Buffer, kek: Kek, dataKey: Buffer, wrapNonce: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  immutable.copy(header, 0);
  header[LAYOUT.kdf.offset] = KDF_ARGON2ID;
  header.writeUInt32BE(kek.kdf.memoryKiB, LAYOUT.memoryKiB.offset);
  header.writeUInt32BE(kek.kdf.iterations, LAYOUT.iterations.offset);
  header[LAYOUT.parallelism.offset] = kek.kdf.parallelism;
  kek.kdf.salt.copy(header, LAYOUT.salt.offset);
  Buffer.from(kek.keyId, 'hex').copy(header, LAYOUT.keyId.offset);
  wrapNonce.copy(header, LAYOUT.wrapNonce.offset);
  const c = createCipheriv('aes-256-gcm', keyOf(kek), wrapNonce);
  c.setAAD(header.subarray(0, LAYOUT.wrappedKey.offset));
  const wrapped = Buffer.concat([c.update(dataKey), c.final()]);
  wrapped.copy(header, LAYOUT.wrappedKey.offset);
  c.getAuthTag().copy(header, LAYOUT.wrapTag.offset);
  headerDigest(header.subarray(0, LAYOUT.digest.offset)).copy(header, LAYOUT.digest.offset);
  return header;
}

/** The data key of a parsed header: UNAUTHORIZED for a KEK of another secret, CORRUPT_DATA for a forged block. */
function unwrap(h: ParsedHeader, kek: Kek): Buffer {
  if (kek.keyId !== h.keyId)
    throw new GuardianError(
      'UNAUTHORIZED',
      `wrong archive secret: the archive was written for key ${h.keyId}, this secret gives key ${kek.keyId}`,
    );
  const d = createDecipheriv('aes-256-gcm', keyOf(kek), h.wrapNonce);
  d.setAAD(h.wrapAad);
  d.setAuthTag(h.wrapTag);
  const key = d.update(h.wrappedKey);
  try {
    d.final();
  } catch {
    key.fill(0);
    throw new GuardianError('CORRUPT_DATA', "the archive's wrapped data key failed authentication (altered header)");
  }
  return key;
}

/** The KEK for a header: derived with its KDF settings (a Kek of another salt re-derives from its secret). */
async function kekFor(h: ParsedHeader, secret: Secret | Kek): Promise<Kek> {
  return deriveKek(secret, h.kdf);
}

/** The per-object segment key: HKDF-SHA256 of the data key, salted with the object id. */
function segmentKey(dataKey: Buffer, objectId: Buffer): KeyObject {
  const k = Buffer.from(hkdfSync('sha256', dataKey, objectId, 'GDNA v1 segment key', 32));
  const key = createSecretKey(k);
  k.fill(0);
  return key;
}

/**
 * The nonces of one object: prefix || counter (u32) || last flag, in one buffer rewritten for each segment (the
 * cipher copies its IV when it is made, so the next segment may reuse the buffer at once).
 */
class Nonces {
  private readonly bytes = Buffer.alloc(12);
  constructor(prefix: Buffer) {
    prefix.copy(this.bytes, 0);
  }
  of(index: number, last: boolean): Buffer {
    this.bytes.writeUInt32BE(index, 7);
    this.bytes[11] = last ? 1 : 0;
    return this.bytes;
  }
}

/** The plaintext of one stored segment, or null when its tag does not authenticate it (nothing else is released). */
function openSegment(key: KeyObject, nonce: Buffer, aad: Buffer, stored: Buffer): Buffer | null {
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(stored.subarray(stored.length - TAG_SIZE));
  const pt = d.update(stored.subarray(0, stored.length - TAG_SIZE));
  try {
    d.final();
    return pt;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sizes

/** Number of segments of a plaintext size (an empty plaintext is one empty last segment). */
export function segmentCount(plaintextSize: number): number {
  return Math.max(1, Math.ceil(plaintextSize / SEGMENT_SIZE));
}

export function ciphertextSize(plaintextSize: number): number {
  return HEADER_SIZE + plaintextSize + segmentCount(plaintextSize) * TAG_SIZE;
}

/** The plaintext size an archive of `size` bytes holds; CORRUPT_DATA when no archive has that size. */
export function plaintextSizeOf(size: number): number {
  const body = size - HEADER_SIZE;
  if (body < TAG_SIZE)
    throw new GuardianError('CORRUPT_DATA', 'the archive is truncated: it has no last segment after its header');
  const n = Math.ceil(body / SEGMENT_STORED_SIZE);
  const lastPlain = body - (n - 1) * SEGMENT_STORED_SIZE - TAG_SIZE;
  if (lastPlain < 0 || (lastPlain === 0 && n > 1))
    throw new GuardianError(
      'CORRUPT_DATA',
      `the archive's length (${size} bytes) is not that of any archive: it is truncated or has bytes appended`,
    );
  if (n > MAX_SEGMENTS) throw new GuardianError('CORRUPT_DATA', 'the archive has more segments than the format allows');
  return (n - 1) * SEGMENT_SIZE + lastPlain;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

export interface EncryptOptions {
  /** Argon2id settings for the writer's KEK (default DEFAULT_KDF with the process's salt for the secret). */
  kdf?: Partial<KdfSettings>;
  /** Where the random bytes come from (test vectors inject fixed ones): object id 16, nonce prefix 7, data key 32,
   * wrap nonce 12, in that order. */
  random?: (n: number) => Buffer;
}

interface Writer {
  header: Buffer;
  aad: Buffer;
  nonces: Nonces;
  key: KeyObject;
}

async function newObject(secret: Secret | Kek, options: EncryptOptions): Promise<Writer> {
  const kek = await deriveKek(secret, options.kdf);
  const random = options.random ?? randomBytes;
  const take = (n: number) => {
    const b = random(n);
    if (!Buffer.isBuffer(b) || b.length !== n) throw new GuardianError('INTERNAL', `random(${n}) gave a wrong length`);
    return b;
  };
  const objectId = take(LAYOUT.objectId.size);
  const noncePrefix = take(LAYOUT.noncePrefix.size);
  const dataKey = take(32);
  const wrapNonce = take(LAYOUT.wrapNonce.size);
  const immutable = Buffer.alloc(IMMUTABLE_SIZE);
  MAGIC.copy(immutable, 0);
  immutable.writeUInt16BE(HEADER_SIZE, LAYOUT.headerSize.offset);
  immutable[LAYOUT.version.offset] = FORMAT_VERSION;
  immutable[LAYOUT.algorithm.offset] = ALGORITHM_AES256GCM_HKDF_SHA256;
  immutable.writeUInt32BE(SEGMENT_SIZE, LAYOUT.segmentSize.offset);
  objectId.copy(immutable, LAYOUT.objectId.offset);
  noncePrefix.copy(immutable, LAYOUT.noncePrefix.offset);
  const header = sealKeyBlock(immutable, kek, dataKey, wrapNonce);
  const key = segmentKey(dataKey, objectId);
  dataKey.fill(0);
  return { header, aad: header.subarray(0, IMMUTABLE_SIZE), nonces: new Nonces(noncePrefix), key };
}

/**
 * Encrypts one archive incrementally, without a stream: `header` first, then what `update` and `final` return, in
 * order. Each returned array holds whole segments (ciphertext, tag, ciphertext, tag ...) ready for one vectored
 * write. A full segment is sealed only once a byte after it has arrived, since the last segment carries the flag;
 * the input pieces it still needs are held by reference (not copied), so a caller must not reuse a buffer it has
 * passed to `update` until `final`.
 */
export interface Encryptor {
  readonly header: Buffer;
  update(chunk: Buffer): Buffer[];
  final(): Buffer[];
}

class SegmentEncryptor implements Encryptor {
  readonly header: Buffer;
  private readonly w: Writer;
  private pieces: Buffer[] = [];
  private pending = 0;
  private index = 0;
  private done = false;

  constructor(w: Writer) {
    this.w = w;
    this.header = w.header;
  }

  /** Seals the next segment (SEGMENT_SIZE bytes, or what is left when last) from the held pieces into `out`. */
  private seal(last: boolean, out: Buffer[]): void {
    if (this.index >= MAX_SEGMENTS) throw new GuardianError('TOO_LARGE', 'the plaintext is too large for one archive');
    const c = createCipheriv('aes-256-gcm', this.w.key, this.w.nonces.of(this.index, last));
    c.setAAD(this.w.aad);
    let want = last ? this.pending : SEGMENT_SIZE;
    this.pending -= want;
    let used = 0;
    while (want > 0) {
      const piece = this.pieces[used] as Buffer;
      if (piece.length <= want) {
        used++;
        want -= piece.length;
        out.push(c.update(piece));
      } else {
        this.pieces[used] = piece.subarray(want);
        out.push(c.update(piece.subarray(0, want)));
        want = 0;
      }
    }
    if (used) this.pieces.splice(0, used);
    c.final();
    out.push(c.getAuthTag());
    this.index++;
  }

  update(chunk: Buffer): Buffer[] {
    if (this.done) throw new GuardianError('INVALID_STATE', 'update() after final()');
    const out: Buffer[] = [];
    if (chunk.length) {
      this.pieces.push(chunk);
      this.pending += chunk.length;
    }
    while (this.pending > SEGMENT_SIZE) this.seal(false, out);
    return out;
  }

  final(): Buffer[] {
    if (this.done) throw new GuardianError('INVALID_STATE', 'final() called twice');
    this.done = true;
    const out: Buffer[] = [];
    this.seal(true, out);
    return out;
  }
}

/** A new archive's encryptor (a random data key, wrapped under the secret's KEK). */
export async function createEncryptor(secret: Secret | Kek, options: EncryptOptions = {}): Promise<Encryptor> {
  return new SegmentEncryptor(await newObject(secret, options));
}

class EncryptTransform extends Transform {
  private encryptor: Encryptor | undefined;
  private readonly ready: Promise<Encryptor>;

  constructor(secret: Secret | Kek, options: EncryptOptions) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.ready = createEncryptor(secret, options);
    this.ready.catch(() => {}); // reported by the first write or by the end
  }

  private async start(): Promise<Encryptor> {
    if (!this.encryptor) {
      this.encryptor = await this.ready;
      this.push(this.encryptor.header);
    }
    return this.encryptor;
  }

  private pushAll(buffers: Buffer[]): void {
    for (const b of buffers) this.push(b);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.encryptor) {
      try {
        this.pushAll(this.encryptor.update(chunk));
      } catch (err) {
        return callback(err as Error);
      }
      return callback();
    }
    this.start()
      .then((e) => this.pushAll(e.update(chunk)))
      .then(
        () => callback(),
        (err) => callback(err),
      );
  }

  override _flush(callback: TransformCallback): void {
    this.start()
      .then((e) => this.pushAll(e.final()))
      .then(
        () => callback(),
        (err) => callback(err),
      );
  }
}

/** A stream that encrypts what is written to it into one archive (header first, then the segments). */
export function encryptStream(secret: Secret | Kek, options: EncryptOptions = {}): Transform {
  return new EncryptTransform(secret, options);
}

/** Encrypts a whole buffer into one archive. */
export async function encryptBuffer(
  plaintext: Buffer,
  secret: Secret | Kek,
  options: EncryptOptions = {},
): Promise<Buffer> {
  const e = await createEncryptor(secret, options);
  return Buffer.concat([e.header, ...e.update(plaintext), ...e.final()]);
}

export interface FileOptions {
  /** Called as the work progresses, with plaintext bytes done and in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface EncryptResult {
  plaintextBytes: number;
  ciphertextBytes: number;
  /** SHA-256 of the archive written, hex. */
  sha256: string;
}

/** An error of the file system as a GuardianError naming the file. */
function fsError(err: unknown, path: string): Error {
  if (err instanceof GuardianError) return err;
  const e = err as NodeJS.ErrnoException;
  const code =
    e.code === 'ENOENT'
      ? 'NOT_FOUND'
      : e.code === 'EACCES' || e.code === 'EPERM'
        ? 'PERMISSION_DENIED'
        : e.code === 'ENOSPC'
          ? 'DISK_FULL'
          : e.code === 'EISDIR'
            ? 'INVALID_ARGUMENT'
            : 'IO_ERROR';
  const what = code === 'NOT_FOUND' ? 'no such file' : code === 'INVALID_ARGUMENT' ? 'is a directory' : e.message;
  return new GuardianError(code, `${e.path ?? path}: ${what}`);
}

const tempBeside = (path: string) =>
  join(dirname(resolve(path)), `.${basename(path)}.${randomBytes(4).toString('hex')}.part`);

/** Writes what `produce` writes to a temporary file beside `outPath`, synced and renamed only when it succeeds. */
async function writeAtomically(
  outPath: string,
  produce: (out: FileHandle) => Promise<void>,
  mode = 0o644,
): Promise<void> {
  const tmp = tempBeside(outPath);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await produce(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, outPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw fsError(err, outPath);
  }
}

function distinctPaths(inPath: string, outPath: string): void {
  if (resolve(inPath) === resolve(outPath))
    throw new GuardianError('INVALID_ARGUMENT', `the output ${outPath} is the input; write to another file`);
}

/** Encrypts a file into an archive at `outPath` (complete or not there at all). */
export async function encryptFile(
  inPath: string,
  outPath: string,
  secret: Secret | Kek,
  options: EncryptOptions & FileOptions = {},
): Promise<EncryptResult> {
  distinctPaths(inPath, outPath);
  let input: FileHandle;
  try {
    input = await open(inPath, 'r');
  } catch (err) {
    throw fsError(err, inPath);
  }
  try {
    const st = await input.stat();
    if (!st.isFile()) throw new GuardianError('INVALID_ARGUMENT', `${inPath} is not a regular file`);
    const total = st.size;
    const encryptor = await createEncryptor(secret, options);
    const hash = createHash('sha256');
    let plaintextBytes = 0;
    let ciphertextBytes = 0;
    await writeAtomically(outPath, async (out) => {
      const write = async (buffers: Buffer[]) => {
        for (const b of buffers) {
          hash.update(b);
          ciphertextBytes += b.length;
        }
        await writeAll(out, buffers);
      };
      await write([encryptor.header]);
      // Large reads, each into a buffer of its own (the encryptor may hold on to its tail); the next read is under
      // way while this one is encrypted and written.
      const readChunk = async () => {
        const buf = Buffer.allocUnsafe(READ_SIZE);
        const { bytesRead } = await input.read(buf, 0, READ_SIZE, null);
        return buf.subarray(0, bytesRead);
      };
      let next = readChunk();
      for (;;) {
        const chunk = await next;
        if (chunk.length === 0) break;
        next = readChunk();
        next.catch(() => {});
        plaintextBytes += chunk.length;
        await write(encryptor.update(chunk));
        options.onProgress?.(plaintextBytes, total);
      }
      await write(encryptor.final());
    });
    return { plaintextBytes, ciphertextBytes, sha256: hash.digest('hex') };
  } catch (err) {
    throw fsError(err, inPath);
  } finally {
    await input.close();
  }
}

const READ_SIZE = 1 << 20;

/** Writes every buffer at the file's position, in vectored writes (short writes continued). */
async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length) {
    const batch = rest.slice(0, 512); // well under IOV_MAX
    let { bytesWritten } = await fh.writev(batch);
    let k = 0;
    while (k < batch.length && bytesWritten >= (batch[k] as Buffer).length)
      bytesWritten -= (batch[k++] as Buffer).length;
    rest = rest.slice(k);
    if (bytesWritten > 0) rest[0] = (rest[0] as Buffer).subarray(bytesWritten);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Where an archive's bytes come from: a local file, a buffer, an HTTP Range fetcher. `read` returns exactly
 * `length` bytes from `offset` (fewer only past the end). */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export function bufferSource(buf: Buffer): ByteSource {
  return { size: buf.length, read: async (offset, length) => buf.subarray(offset, offset + length) };
}

/** A local file as a ByteSource; close it when done. */
export async function openFileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw fsError(err, path);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new GuardianError('INVALID_ARGUMENT', `${path} is not a regular file`);
  }
  return {
    size: st.size,
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      let n = 0;
      while (n < length) {
        const { bytesRead } = await fh.read(buf, n, length - n, offset + n).catch((err) => {
          throw fsError(err, path);
        });
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      return n === length ? buf : buf.subarray(0, n);
    },
    close: () => fh.close(),
  };
}

export interface ReaderOptions {
  /** Segments decrypted per read from the source when streaming (default 16: about 1 MiB). */
  batchSegments?: number;
}

/**
 * Random access to an archive. `open` reads the header and the last segment (so the plaintext size is
 * authenticated and a truncated or extended archive is refused at once); `read` and `stream` then decrypt only the
 * segments a range touches.
 */
export class ArchiveReader {
  readonly plaintextSize: number;
  readonly segmentCount: number;
  readonly header: ArchiveHeader;
  private readonly source: ByteSource;
  private readonly aad: Buffer;
  private readonly nonces: Nonces;
  private readonly key: KeyObject;
  private readonly batch: number;
  private tail: Buffer = Buffer.alloc(0);

  private constructor(source: ByteSource, h: ParsedHeader, key: KeyObject, plaintextSize: number, batch: number) {
    this.source = source;
    this.header = {
      version: h.version,
      algorithm: h.algorithm,
      headerSize: h.headerSize,
      segmentSize: h.segmentSize,
      objectId: h.objectId,
      kdf: h.kdf,
      keyId: h.keyId,
    };
    this.aad = Buffer.from(h.immutable);
    this.nonces = new Nonces(h.noncePrefix);
    this.key = key;
    this.plaintextSize = plaintextSize;
    this.segmentCount = segmentCount(plaintextSize);
    this.batch = batch;
  }

  static async open(source: ByteSource, secret: Secret | Kek, options: ReaderOptions = {}): Promise<ArchiveReader> {
    const size = source.size;
    if (!Number.isSafeInteger(size) || size < 0)
      throw new GuardianError('INVALID_ARGUMENT', `the archive source has no valid size (${size})`);
    // The header and the first segment in one read: small objects (snapshots, metadata) need no other.
    const first = await source.read(0, Math.min(size, HEADER_SIZE + SEGMENT_STORED_SIZE));
    const h = parse(first);
    const plaintextSize = plaintextSizeOf(size);
    const dataKey = unwrap(h, await kekFor(h, secret));
    const key = segmentKey(dataKey, h.objectIdBytes);
    dataKey.fill(0);
    const reader = new ArchiveReader(source, h, key, plaintextSize, Math.max(1, options.batchSegments ?? 16));
    const last = reader.segmentCount - 1;
    const at = reader.offsetOf(last);
    const stored = await reader.fetch(at, size - at, first);
    try {
      reader.tail = reader.open1(stored, last);
    } catch (err) {
      // Bytes after a full last segment: the segment before the one taken as last is the real last one.
      if (last > 0) {
        const before = await reader.fetch(reader.offsetOf(last - 1), SEGMENT_STORED_SIZE, first);
        if (openSegment(reader.key, reader.nonces.of(last - 1, true), reader.aad, before))
          throw new GuardianError(
            'CORRUPT_DATA',
            `the archive has bytes appended: segment ${last - 1} is its last segment but ${size - at} bytes follow it`,
          );
      }
      throw err;
    }
    return reader;
  }

  /** Ciphertext offset of segment `i`. */
  private offsetOf(i: number): number {
    return HEADER_SIZE + i * SEGMENT_STORED_SIZE;
  }

  /** The bytes of the source that `read(start, end)` needs: segments touched, as a ciphertext offset and length. */
  ciphertextRange(start: number, endInclusive: number): { offset: number; length: number } {
    this.checkRange(start, endInclusive);
    const a = Math.floor(start / SEGMENT_SIZE);
    const b = Math.floor(endInclusive / SEGMENT_SIZE);
    const offset = this.offsetOf(a);
    return { offset, length: Math.min(this.source.size, this.offsetOf(b + 1)) - offset };
  }

  private async fetch(offset: number, length: number, have?: Buffer): Promise<Buffer> {
    if (have && offset + length <= have.length) return have.subarray(offset, offset + length);
    const buf = await this.source.read(offset, length);
    if (buf.length !== length)
      throw new GuardianError(
        'CORRUPT_DATA',
        `the archive source gave ${buf.length} of ${length} bytes at ${offset}: it is shorter than its size says`,
      );
    return buf;
  }

  /** Decrypts stored segment `i` (ciphertext and tag) to a verified plaintext buffer. */
  private open1(stored: Buffer, i: number): Buffer {
    const last = i === this.segmentCount - 1;
    const pt = openSegment(this.key, this.nonces.of(i, last), this.aad, stored);
    if (pt) return pt;
    // Say what happened when the segment is authentic but in the wrong place relative to the end (the plaintext
    // of that trial is dropped either way).
    if (stored.length === SEGMENT_STORED_SIZE && openSegment(this.key, this.nonces.of(i, !last), this.aad, stored)) {
      throw new GuardianError(
        'CORRUPT_DATA',
        last
          ? `the archive is truncated: it ends after segment ${i}, which is not its last segment`
          : `the archive has bytes appended: segment ${i} is its last segment but ${this.source.size - this.offsetOf(i + 1)} bytes follow it`,
      );
    }
    throw new GuardianError(
      'CORRUPT_DATA',
      last
        ? `the last segment (${i}) of the archive failed authentication: it is truncated, has bytes appended, or is damaged`
        : `segment ${i} of ${this.segmentCount} failed authentication: the archive is damaged, or its segments were reordered or taken from another archive`,
    );
  }

  /** Verified plaintext of segments [a, b], read from the source in one piece. */
  private async segments(a: number, b: number): Promise<Buffer[]> {
    const lastIndex = this.segmentCount - 1;
    const upTo = Math.min(b, lastIndex - 1); // the last segment is held from open()
    const out: Buffer[] = [];
    if (upTo >= a) {
      const offset = this.offsetOf(a);
      const stored = await this.fetch(offset, this.offsetOf(upTo + 1) - offset);
      for (let i = a; i <= upTo; i++) {
        const at = (i - a) * SEGMENT_STORED_SIZE;
        out.push(this.open1(stored.subarray(at, at + SEGMENT_STORED_SIZE), i));
      }
    }
    if (b === lastIndex) out.push(this.tail);
    return out;
  }

  private checkRange(start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start)
      throw new GuardianError('INVALID_ARGUMENT', `bad range ${start}-${end}: expected 0 <= start <= end`);
    if (end >= this.plaintextSize)
      throw new GuardianError(
        'RANGE_NOT_SATISFIABLE',
        `range ${start}-${end} is past the end: the plaintext has ${this.plaintextSize} bytes` +
          (this.plaintextSize ? ` (offsets 0 to ${this.plaintextSize - 1})` : ''),
      );
  }

  /** Plaintext bytes [start, endInclusive], decrypting only the segments they lie in. */
  async read(start: number, endInclusive: number): Promise<Buffer> {
    this.checkRange(start, endInclusive);
    const a = Math.floor(start / SEGMENT_SIZE);
    const b = Math.floor(endInclusive / SEGMENT_SIZE);
    const parts = await this.segments(a, b);
    const from = start - a * SEGMENT_SIZE;
    const length = endInclusive - start + 1;
    if (parts.length === 1) return (parts[0] as Buffer).subarray(from, from + length);
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    let skip = from;
    for (const p of parts) {
      const piece = p.subarray(skip, skip + (length - at));
      at += piece.copy(out, at);
      skip = 0;
    }
    return out;
  }

  /**
   * The plaintext bytes [start, end] as arrays of verified segments (sliced to the range at its ends), one array
   * per read from the source of up to `batchSegments` segments; the next read is under way while a batch is used.
   * Each segment authenticates before its array is given out; the first that fails ends the iteration with its
   * error. An empty archive (0, -1) gives nothing.
   */
  async *batches(start = 0, end = this.plaintextSize - 1): AsyncGenerator<Buffer[]> {
    if (this.plaintextSize === 0 && start === 0 && end === -1) return;
    this.checkRange(start, end);
    const a = Math.floor(start / SEGMENT_SIZE);
    const b = Math.floor(end / SEGMENT_SIZE);
    const batchOf = (from: number) => {
      const p = this.segments(from, Math.min(b, from + this.batch - 1));
      p.catch(() => {}); // handled when its turn comes
      return p;
    };
    let next: Promise<Buffer[]> | null = batchOf(a);
    for (let from = a; next; from += this.batch) {
      const current: Promise<Buffer[]> = next;
      next = from + this.batch <= b ? batchOf(from + this.batch) : null;
      const parts = await current;
      for (let k = 0; k < parts.length; k++) {
        const i = from + k;
        const p = parts[k] as Buffer;
        const lo = i === a ? start - a * SEGMENT_SIZE : 0;
        const hi = i === b ? end - b * SEGMENT_SIZE + 1 : p.length;
        if (lo !== 0 || hi !== p.length) parts[k] = p.subarray(lo, hi);
      }
      yield parts;
    }
  }

  /** The plaintext bytes [start, end] (all by default) as a stream of verified segments, read in batches. */
  stream(start = 0, end = this.plaintextSize - 1): Readable {
    if (!(this.plaintextSize === 0 && start === 0 && end === -1)) this.checkRange(start, end);
    const it = this.batches(start, end);
    const out: Readable = new Readable({
      highWaterMark: 1 << 20,
      read() {
        it.next().then(
          (r) => {
            if (r.done) out.push(null);
            else for (const b of r.value) out.push(b);
          },
          (err) => out.destroy(err),
        );
      },
      destroy(err, callback) {
        it.return(undefined).then(
          () => callback(err),
          () => callback(err),
        );
      },
    });
    return out;
  }

  /** Decrypts and authenticates every segment; throws as a read would. */
  async verify(): Promise<void> {
    for await (const _ of this.batches()) {
      // every segment verified on the way
    }
  }
}

export interface DecryptResult {
  /** Plaintext size of the whole archive. */
  plaintextBytes: number;
  /** Bytes written to the output (the range's length with a range). */
  bytesWritten: number;
}

/**
 * Decrypts an archive file (or the inclusive plaintext `range` of it; without `end`, to the last byte) to
 * `outPath`. The output is written to a temporary file and renamed into place only when every segment
 * authenticated: a failed decrypt leaves nothing.
 */
export async function decryptFile(
  inPath: string,
  outPath: string,
  secret: Secret | Kek,
  range?: { start: number; end?: number },
  options: FileOptions = {},
): Promise<DecryptResult> {
  distinctPaths(inPath, outPath);
  const source = await openFileSource(inPath);
  try {
    const reader = await ArchiveReader.open(source, secret);
    const start = range?.start ?? 0;
    const end = range?.end ?? reader.plaintextSize - 1;
    // A range is checked before an output appears.
    if (range) reader.ciphertextRange(start, end);
    const total = end - start + 1;
    let bytesWritten = 0;
    // Plaintext footage is private: 0600, as the secret is.
    await writeAtomically(
      outPath,
      async (out) => {
        for await (const batch of reader.batches(start, end)) {
          await writeAll(out, batch);
          for (const b of batch) bytesWritten += b.length;
          options.onProgress?.(bytesWritten, total);
        }
      },
      0o600,
    );
    return { plaintextBytes: reader.plaintextSize, bytesWritten };
  } finally {
    await source.close();
  }
}

/** Checks an archive file through (every segment authenticated) and says what it holds. */
export async function verifyFile(
  inPath: string,
  secret: Secret | Kek,
  options: FileOptions = {},
): Promise<{ plaintextBytes: number; segments: number; header: ArchiveHeader }> {
  const source = await openFileSource(inPath);
  try {
    const reader = await ArchiveReader.open(source, secret);
    let done = 0;
    for await (const batch of reader.batches()) {
      for (const b of batch) done += b.length;
      options.onProgress?.(done, reader.plaintextSize);
    }
    return { plaintextBytes: reader.plaintextSize, segments: reader.segmentCount, header: reader.header };
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rotation

export interface RewrapResult {
  /** False when the archive was already under the new secret (nothing written). */
  rotated: boolean;
  keyIdBefore: string;
  keyIdAfter: string;
}

export interface RewrapOptions {
  /** Argon2id settings of the new KEK (default: DEFAULT_KDF with the process's salt for the new secret). */
  kdf?: Partial<KdfSettings>;
  /** Source of the new wrap nonce (12 bytes). */
  random?: (n: number) => Buffer;
}

/**
 * The header of an archive re-wrapped under `newSecret`: the same immutable part, a new key block and digest, the
 * same length. `rotated` is false (and `header` the one given) when it already opens with the new secret.
 * UNAUTHORIZED when neither secret opens it.
 */
export async function rewrapHeader(
  headerBytes: Buffer,
  oldSecret: Secret | Kek,
  newSecret: Secret | Kek,
  options: RewrapOptions = {},
): Promise<RewrapResult & { header: Buffer }> {
  const h = parse(headerBytes);
  const same = { rotated: false, keyIdBefore: h.keyId, keyIdAfter: h.keyId, header: h.bytes };
  const newKek = await deriveKek(newSecret, options.kdf);
  let dataKey: Buffer;
  try {
    dataKey = unwrap(h, await kekFor(h, oldSecret));
  } catch (err) {
    if ((err as GuardianError).code !== 'UNAUTHORIZED') throw err;
    // Already rotated (a rotation that stopped half way, run again)? Then it opens with the new secret.
    const already = await kekFor(h, newSecret).catch(() => null);
    if (already?.keyId !== h.keyId) throw err;
    unwrap(h, already).fill(0);
    return same;
  }
  try {
    if (newKek.keyId === h.keyId) return same;
    const wrapNonce = (options.random ?? randomBytes)(LAYOUT.wrapNonce.size);
    const header = sealKeyBlock(h.immutable, newKek, dataKey, wrapNonce);
    return { rotated: true, keyIdBefore: h.keyId, keyIdAfter: newKek.keyId, header };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Re-wraps an archive file's data key under `newSecret`, in place: only the key block and digest (bytes 35 to 144)
 * are rewritten, in one write of 110 bytes inside the first disk sector, then synced; the body is not touched (the
 * segments authenticate the immutable part of the header, which does not change). An archive that already opens
 * with the new secret is left as it is, so a rotation that stopped half way can be run again.
 */
export async function rewrap(
  inPath: string,
  oldSecret: Secret | Kek,
  newSecret: Secret | Kek,
  options: RewrapOptions = {},
): Promise<RewrapResult> {
  let fh: FileHandle;
  try {
    fh = await open(inPath, 'r+');
  } catch (err) {
    throw fsError(err, inPath);
  }
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.min(size, HEADER_SIZE));
    await fh.read(buf, 0, buf.length, 0);
    parse(buf);
    plaintextSizeOf(size);
    const { header, ...result } = await rewrapHeader(buf, oldSecret, newSecret, options);
    if (!result.rotated) return result;
    const block = header.subarray(KEY_BLOCK_OFFSET);
    const { bytesWritten } = await fh.write(block, 0, block.length, KEY_BLOCK_OFFSET);
    if (bytesWritten !== block.length) throw new GuardianError('IO_ERROR', `${inPath}: short write of the header`);
    await fh.sync();
    return result;
  } catch (err) {
    throw fsError(err, inPath);
  } finally {
    await fh.close();
  }
}
