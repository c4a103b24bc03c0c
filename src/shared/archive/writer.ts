// Writing archives (docs/archive-format.md): a new object's header (random object id, nonce prefix and data key,
// the data key wrapped under the secret's KEK), then the plaintext sealed in 64 KiB segments, incrementally
// (createEncryptor), as a stream (encryptStream) or at once (encryptBuffer).
import { createCipheriv, type KeyObject, randomBytes } from 'node:crypto';
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
import { Nonces, segmentKey } from './segment.ts';

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
