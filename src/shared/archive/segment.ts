// The segments of the archive format (docs/archive-format.md, "Segments"): the per-object segment key and the
// cipher that seals and opens runs of segments under it (nonce prefix, counter, last flag; the immutable header as
// associated data), shared by the writer and the reader.
//
// Two implementations of one SegmentCipher, giving the same bytes: the addon's (native/gcm.h), which keys one
// AES-256-GCM context per object and only changes the nonce per segment, and node:crypto, which needs a new cipher
// (key schedule and GHASH setup, about 7 us) for every 64 KiB segment. The addon's is used when it loads; node:crypto
// otherwise (the owner's server may run without the native build), or when asked for (`gcm: 'node'`, or
// GUARDIAN_ARCHIVE_GCM=node in the environment).
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

import { nativeGcm } from '../../../bindings/gcm.ts';
import type { NativeGcmSegments } from '../../../bindings/types.ts';
import { GuardianError } from '../errors.ts';
import { SEGMENT_SIZE, TAG_SIZE } from './layout.ts';

/** Which AES-256-GCM runs the segments: `auto` (the default) is the addon's when it loads, else node:crypto's. */
export type GcmEngine = 'auto' | 'native' | 'node';

/**
 * Seals and opens runs of consecutive segments of one object. A run starting at segment `first` holds whole
 * segments, laid end to end as in the archive; `final` says it ends with the object's last segment (the only one
 * that may be short, and that carries the last flag).
 */
export interface SegmentCipher {
  readonly engine: 'native' | 'node';
  /** The stored bytes (ciphertext || tag per segment) of `plain` sealed as segments first, first + 1, ... An empty
   * `plain` is one empty last segment (`final` only). */
  seal(plain: Buffer, first: number, final: boolean): Buffer[];
  /** The plaintext of the stored segments in `stored`, or, when one fails authentication, its position in the run:
   * no plaintext of the run is returned then (and none of the failed segment's is left in memory by the addon). */
  open(stored: Buffer, first: number, final: boolean): Buffer[] | number;
  /** Frees the cipher's key material now (the addon's contexts); no use after. */
  dispose(): void;
}

const segmentsIn = (storedLength: number) => Math.ceil(storedLength / (SEGMENT_SIZE + TAG_SIZE));

/** The per-object segment key, HKDF-SHA256 of the data key salted with the object id, in a cipher for its segments. */
export function segmentCipher(
  dataKey: Buffer,
  objectId: Buffer,
  noncePrefix: Buffer,
  aad: Buffer,
  engine: GcmEngine = 'auto',
): SegmentCipher {
  const native = chooseNative(engine);
  const k = Buffer.from(hkdfSync('sha256', dataKey, objectId, 'GDNA v1 segment key', 32));
  try {
    // The key goes into the addon's cipher contexts (or node's KeyObject), and this copy is wiped either way.
    return native
      ? new NativeSegments(native.create(k, noncePrefix, aad, SEGMENT_SIZE))
      : new NodeSegments(k, noncePrefix, aad);
  } finally {
    k.fill(0);
  }
}

function chooseNative(engine: GcmEngine) {
  if (engine === 'node' || (engine === 'auto' && process.env.GUARDIAN_ARCHIVE_GCM === 'node')) return null;
  const { gcm, reason } = nativeGcm();
  if (!gcm && engine === 'native')
    throw new GuardianError('ADDON_NOT_BUILT', `the native archive cipher is not available: ${reason}`);
  return gcm;
}

/** Which engine `auto` picks in this process, and why not the addon's when it is node:crypto. */
export function gcmEngine(): { engine: 'native' | 'node'; reason: string | null } {
  if (process.env.GUARDIAN_ARCHIVE_GCM === 'node') return { engine: 'node', reason: 'GUARDIAN_ARCHIVE_GCM=node' };
  const { gcm, reason } = nativeGcm();
  return gcm ? { engine: 'native', reason: null } : { engine: 'node', reason };
}

/** The addon's: one call and one output buffer per run. */
class NativeSegments implements SegmentCipher {
  readonly engine = 'native';
  private readonly gcm: NativeGcmSegments;
  constructor(gcm: NativeGcmSegments) {
    this.gcm = gcm;
  }
  seal(plain: Buffer, first: number, final: boolean): Buffer[] {
    const n = Math.max(1, Math.ceil(plain.length / SEGMENT_SIZE));
    const out = Buffer.allocUnsafe(plain.length + n * TAG_SIZE);
    this.gcm.seal(plain, first, final, out);
    return [out];
  }
  open(stored: Buffer, first: number, final: boolean): Buffer[] | number {
    const out = Buffer.allocUnsafe(stored.length - segmentsIn(stored.length) * TAG_SIZE);
    const failed = this.gcm.open(stored, first, final, out);
    return failed < 0 ? [out] : failed;
  }
  dispose(): void {
    this.gcm.dispose();
  }
}

/** node:crypto's: a cipher per segment, the nonce in one buffer rewritten for each (the cipher copies its IV). */
class NodeSegments implements SegmentCipher {
  readonly engine = 'node';
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(12);
  private readonly aad: Buffer;
  constructor(key: Buffer, noncePrefix: Buffer, aad: Buffer) {
    this.key = createSecretKey(key);
    noncePrefix.copy(this.nonce, 0);
    this.aad = Buffer.from(aad);
  }
  private nonceOf(index: number, last: boolean): Buffer {
    this.nonce.writeUInt32BE(index, 7);
    this.nonce[11] = last ? 1 : 0;
    return this.nonce;
  }
  seal(plain: Buffer, first: number, final: boolean): Buffer[] {
    const n = Math.max(1, Math.ceil(plain.length / SEGMENT_SIZE));
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const c = createCipheriv('aes-256-gcm', this.key, this.nonceOf(first + i, final && i === n - 1));
      c.setAAD(this.aad);
      out.push(c.update(plain.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE)));
      c.final();
      out.push(c.getAuthTag());
    }
    return out;
  }
  open(stored: Buffer, first: number, final: boolean): Buffer[] | number {
    const whole = SEGMENT_SIZE + TAG_SIZE;
    const n = segmentsIn(stored.length);
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const s = stored.subarray(i * whole, (i + 1) * whole);
      const d = createDecipheriv('aes-256-gcm', this.key, this.nonceOf(first + i, final && i === n - 1));
      d.setAAD(this.aad);
      d.setAuthTag(s.subarray(s.length - TAG_SIZE));
      const pt = d.update(s.subarray(0, s.length - TAG_SIZE));
      try {
        d.final();
      } catch {
        pt.fill(0);
        return i;
      }
      out.push(pt);
    }
    return out;
  }
  dispose(): void {
    // A KeyObject cannot be wiped; it goes with the garbage collector.
  }
}
