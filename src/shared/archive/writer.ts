// Writing archives (docs/archive-format.md): a new object's header (random object id, nonce prefix and data key,
// the data key wrapped under the secret's KEK), then the plaintext sealed in 64 KiB segments, incrementally
// (createEncryptor), as a stream (encryptStream) or at once (encryptBuffer).
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import { GuardianError } from '../errors.ts';
import { deriveKek, type KdfSettings, type Kek } from './kdf.ts';
import {
  ALGORITHM_AES256GCM_HKDF_SHA256,
  FORMAT_VERSION,
  HEADER_SIZE,
  IMMUTABLE_SIZE,
  LAYOUT,
  MAGIC,
  MAX_SEGMENTS,
  SEGMENT_SIZE,
  sealKeyBlock,
} from './layout.ts';
import type { Secret } from './secret.ts';
import { type GcmEngine, type SegmentCipher, segmentCipher } from './segment.ts';

export interface EncryptOptions {
  /** Argon2id settings for the writer's KEK (default DEFAULT_KDF with the process's salt for the secret). */
  kdf?: Partial<KdfSettings>;
  /** Where the random bytes come from (test vectors inject fixed ones): object id 16, nonce prefix 7, data key 32,
   * wrap nonce 12, in that order. */
  random?: (n: number) => Buffer;
  /** Which AES-256-GCM seals the segments (the same bytes either way): the addon's when it loads (`auto`, the
   * default), node:crypto's, or the addon's or an ADDON_NOT_BUILT error (src/shared/archive/segment.ts). */
  gcm?: GcmEngine;
}

interface Writer {
  header: Buffer;
  cipher: SegmentCipher;
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
  try {
    return { header, cipher: segmentCipher(dataKey, objectId, noncePrefix, immutable, options.gcm) };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Encrypts one archive incrementally, without a stream: `header` first, then what `update` and `final` return, in
 * order. Each returned array holds whole stored segments (ciphertext and tag; one buffer may hold several segments)
 * ready for one vectored write. A full segment is sealed only once a byte after it has arrived, since the last
 * segment carries the flag; the input pieces it still needs are held by reference (not copied), so a caller must
 * not reuse a buffer it has passed to `update` until `final`.
 */
export interface Encryptor {
  readonly header: Buffer;
  update(chunk: Buffer): Buffer[];
  final(): Buffer[];
}

/** Segments sealed per call at most: bounds one output buffer to about 16 MiB whatever a caller hands over. */
const MAX_RUN = 256;

class SegmentEncryptor implements Encryptor {
  readonly header: Buffer;
  private readonly cipher: SegmentCipher;
  private pieces: Buffer[] = [];
  private pending = 0;
  private index = 0;
  private done = false;
  private scratch: Buffer | undefined;

  constructor(w: Writer) {
    this.cipher = w.cipher;
    this.header = w.header;
  }

  /** Seals `count` segments from `plain` (contiguous; all of it when last) as the next ones, into `out`. */
  private seal(plain: Buffer, count: number, last: boolean, out: Buffer[]): void {
    if (this.index + count > MAX_SEGMENTS)
      throw new GuardianError('TOO_LARGE', 'the plaintext is too large for one archive');
    for (const b of this.cipher.seal(plain, this.index, last)) out.push(b);
    this.index += count;
  }

  /** Drops the first `n` held bytes. */
  private consume(n: number): void {
    this.pending -= n;
    let used = 0;
    while (n > 0) {
      const piece = this.pieces[used] as Buffer;
      if (piece.length <= n) {
        used++;
        n -= piece.length;
      } else {
        this.pieces[used] = piece.subarray(n);
        n = 0;
      }
    }
    if (used) this.pieces.splice(0, used);
  }

  /** The first `n` (at most SEGMENT_SIZE) held bytes in one buffer: the first piece's own bytes when it holds them,
   * else a copy in a scratch buffer (valid until the next call: a segment is sealed from it at once). */
  private first(n: number): Buffer {
    const head = this.pieces[0];
    if (!head || head.length >= n) return head ? head.subarray(0, n) : Buffer.alloc(0);
    this.scratch ??= Buffer.allocUnsafe(SEGMENT_SIZE);
    let at = 0;
    for (const piece of this.pieces) {
      if (at === n) break;
      at += piece.copy(this.scratch, at, 0, Math.min(piece.length, n - at));
    }
    return this.scratch.subarray(0, n);
  }

  update(chunk: Buffer): Buffer[] {
    if (this.done) throw new GuardianError('INVALID_STATE', 'update() after final()');
    const out: Buffer[] = [];
    if (chunk.length) {
      this.pieces.push(chunk);
      this.pending += chunk.length;
    }
    // Whole segments a byte follows, sealed in runs: as many as the first piece holds per call (a 1 MiB read is
    // two: the segment held back from the read before, then the rest), a segment across pieces alone from a copy.
    let ready = Math.floor((this.pending - 1) / SEGMENT_SIZE);
    while (ready > 0) {
      const head = this.pieces[0] as Buffer;
      const run = Math.min(ready, MAX_RUN, Math.floor(head.length / SEGMENT_SIZE));
      if (run > 0) this.seal(head.subarray(0, run * SEGMENT_SIZE), run, false, out);
      else this.seal(this.first(SEGMENT_SIZE), 1, false, out);
      this.consume(Math.max(run, 1) * SEGMENT_SIZE);
      ready -= Math.max(run, 1);
    }
    return out;
  }

  final(): Buffer[] {
    if (this.done) throw new GuardianError('INVALID_STATE', 'final() called twice');
    this.done = true;
    const out: Buffer[] = [];
    try {
      // At most one segment is held (update seals the rest), empty when nothing was written at all.
      this.seal(this.first(this.pending), 1, true, out);
      this.consume(this.pending);
    } finally {
      this.cipher.dispose();
    }
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
