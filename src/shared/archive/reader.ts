// Reading archives (docs/archive-format.md, "Random access"): an ArchiveReader over any ByteSource (a buffer, a
// local file from files.ts's openFileSource, an HTTP Range fetcher) opens the header and the last segment, then
// decrypts only the segments a range touches. No plaintext of a segment is handed on before its tag verified.
import { Readable } from 'node:stream';

import { GuardianError } from '../errors.ts';
import type { Kek } from './kdf.ts';
import {
  type ArchiveHeader,
  HEADER_SIZE,
  kekFor,
  type ParsedHeader,
  parse,
  plaintextSizeOf,
  SEGMENT_SIZE,
  SEGMENT_STORED_SIZE,
  segmentCount,
  unwrap,
} from './layout.ts';
import type { Secret } from './secret.ts';
import { type GcmEngine, type SegmentCipher, segmentCipher } from './segment.ts';

/** Where an archive's bytes come from: a local file, a buffer, an HTTP Range fetcher. `read` returns exactly
 * `length` bytes from `offset` (fewer only past the end). */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export function bufferSource(buf: Buffer): ByteSource {
  return { size: buf.length, read: async (offset, length) => buf.subarray(offset, offset + length) };
}

export interface ReaderOptions {
  /** Segments decrypted per read from the source when streaming (default 16: about 1 MiB). */
  batchSegments?: number;
  /** Which AES-256-GCM opens the segments (the same plaintext either way): the addon's when it loads (`auto`, the
   * default), node:crypto's, or the addon's or an ADDON_NOT_BUILT error (src/shared/archive/segment.ts). */
  gcm?: GcmEngine;
}

/** Bytes [lo, hi) of the concatenation of `parts`, as views of them (no copy). */
function span(parts: Buffer[], lo: number, hi: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const p of parts) {
    const a = Math.max(lo - at, 0);
    const b = Math.min(hi - at, p.length);
    if (b > a) out.push(a === 0 && b === p.length ? p : p.subarray(a, b));
    at += p.length;
    if (at >= hi) break;
  }
  return out;
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
  private readonly cipher: SegmentCipher;
  private readonly batch: number;
  private tail: Buffer = Buffer.alloc(0);

  private constructor(
    source: ByteSource,
    h: ParsedHeader,
    cipher: SegmentCipher,
    plaintextSize: number,
    batch: number,
  ) {
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
    this.cipher = cipher;
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
    let cipher: SegmentCipher;
    try {
      cipher = segmentCipher(dataKey, h.objectIdBytes, h.noncePrefix, h.immutable, options.gcm);
    } finally {
      dataKey.fill(0);
    }
    const reader = new ArchiveReader(source, h, cipher, plaintextSize, Math.max(1, options.batchSegments ?? 16));
    const last = reader.segmentCount - 1;
    const at = reader.offsetOf(last);
    const stored = await reader.fetch(at, size - at, first);
    try {
      reader.tail = reader.open1(stored, last);
    } catch (err) {
      // Bytes after a full last segment: the segment before the one taken as last is the real last one.
      if (last > 0) {
        const before = await reader.fetch(reader.offsetOf(last - 1), SEGMENT_STORED_SIZE, first);
        if (typeof cipher.open(before, last - 1, true) !== 'number')
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
    const pt = this.cipher.open(stored, i, last);
    if (typeof pt !== 'number') return pt[0] as Buffer;
    this.failed(stored, i);
  }

  /** The error for stored segment `i`, which failed authentication. */
  private failed(stored: Buffer, i: number): never {
    const last = i === this.segmentCount - 1;
    // Say what happened when the segment is authentic but in the wrong place relative to the end (the plaintext
    // of that trial is dropped either way).
    if (stored.length === SEGMENT_STORED_SIZE && typeof this.cipher.open(stored, i, !last) !== 'number') {
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

  /** Verified plaintext of segments [a, b] end to end (in one or more buffers), read from the source in one piece
   * and opened in one run: when a segment fails, its error and nothing of the run. */
  private async segments(a: number, b: number): Promise<Buffer[]> {
    const lastIndex = this.segmentCount - 1;
    const upTo = Math.min(b, lastIndex - 1); // the last segment is held from open()
    let out: Buffer[] = [];
    if (upTo >= a) {
      const offset = this.offsetOf(a);
      const stored = await this.fetch(offset, this.offsetOf(upTo + 1) - offset);
      const opened = this.cipher.open(stored, a, false);
      if (typeof opened === 'number') {
        const at = opened * SEGMENT_STORED_SIZE;
        this.failed(stored.subarray(at, at + SEGMENT_STORED_SIZE), a + opened);
      }
      out = opened;
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
    const from = start - a * SEGMENT_SIZE;
    const length = endInclusive - start + 1;
    const parts = span(await this.segments(a, b), from, from + length);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length);
  }

  /**
   * The plaintext bytes [start, end] as arrays of verified plaintext (sliced to the range at its ends; a buffer may
   * hold several segments), one array per read from the source of up to `batchSegments` segments; the next read is
   * under way while a batch is used. Each segment authenticates before its array is given out; the first that fails
   * ends the iteration with its error. An empty archive (0, -1) gives nothing.
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
      // The batch's plaintext starts at byte from * SEGMENT_SIZE of the plaintext.
      const base = from * SEGMENT_SIZE;
      yield span(await current, Math.max(start - base, 0), end + 1 - base);
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
