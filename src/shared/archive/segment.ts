// The segments of the archive format (docs/archive-format.md, "Segments"): the per-object segment key, the nonces
// (prefix, counter, last flag) and the opening of one stored segment, shared by the writer and the reader.
import { createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

import { TAG_SIZE } from './layout.ts';

/** The per-object segment key: HKDF-SHA256 of the data key, salted with the object id. */
export function segmentKey(dataKey: Buffer, objectId: Buffer): KeyObject {
  const k = Buffer.from(hkdfSync('sha256', dataKey, objectId, 'GDNA v1 segment key', 32));
  const key = createSecretKey(k);
  k.fill(0);
  return key;
}

/**
 * The nonces of one object: prefix || counter (u32) || last flag, in one buffer rewritten for each segment (the
 * cipher copies its IV when it is made, so the next segment may reuse the buffer at once).
 */
export class Nonces {
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
export function openSegment(key: KeyObject, nonce: Buffer, aad: Buffer, stored: Buffer): Buffer | null {
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
