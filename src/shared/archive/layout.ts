// The layout of the archive format, version 1 (docs/archive-format.md, "Header" and "Segments"): its constants,
// the 145-byte header (parsed and checked; its key block sealed and opened under a KEK), and the sizes a plaintext
// and its archive have. Every integer is big-endian.
import { createHash, timingSafeEqual } from 'node:crypto';

import { GuardianError } from '../errors.ts';
import { checkKdf, deriveKek, type KdfSettings, type Kek, unwrapDataKey, wrapDataKey } from './kdf.ts';
import type { Secret } from './secret.ts';

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

/** A parsed header with the views the reader and rotation need (internal to src/shared/archive). */
export interface ParsedHeader extends ArchiveHeader {
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

/** parseHeader with the views the reader and rotation need. */
export function parse(bytes: Buffer): ParsedHeader {
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
export function sealKeyBlock(immutable: Buffer, kek: Kek, dataKey: Buffer, wrapNonce: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  immutable.copy(header, 0);
  header[LAYOUT.kdf.offset] = KDF_ARGON2ID;
  header.writeUInt32BE(kek.kdf.memoryKiB, LAYOUT.memoryKiB.offset);
  header.writeUInt32BE(kek.kdf.iterations, LAYOUT.iterations.offset);
  header[LAYOUT.parallelism.offset] = kek.kdf.parallelism;
  kek.kdf.salt.copy(header, LAYOUT.salt.offset);
  Buffer.from(kek.keyId, 'hex').copy(header, LAYOUT.keyId.offset);
  wrapNonce.copy(header, LAYOUT.wrapNonce.offset);
  const { wrapped, tag } = wrapDataKey(kek, wrapNonce, header.subarray(0, LAYOUT.wrappedKey.offset), dataKey);
  wrapped.copy(header, LAYOUT.wrappedKey.offset);
  tag.copy(header, LAYOUT.wrapTag.offset);
  headerDigest(header.subarray(0, LAYOUT.digest.offset)).copy(header, LAYOUT.digest.offset);
  return header;
}

/** The data key of a parsed header: UNAUTHORIZED for a KEK of another secret, CORRUPT_DATA for a forged block. */
export function unwrap(h: ParsedHeader, kek: Kek): Buffer {
  if (kek.keyId !== h.keyId)
    throw new GuardianError(
      'UNAUTHORIZED',
      `wrong archive secret: the archive was written for key ${h.keyId}, this secret gives key ${kek.keyId}`,
    );
  const key = unwrapDataKey(kek, h.wrapNonce, h.wrapAad, h.wrappedKey, h.wrapTag);
  if (!key)
    throw new GuardianError('CORRUPT_DATA', "the archive's wrapped data key failed authentication (altered header)");
  return key;
}

/** The KEK for a header: derived with its KDF settings (a Kek of another salt re-derives from its secret). */
export async function kekFor(h: ParsedHeader, secret: Secret | Kek): Promise<Kek> {
  return deriveKek(secret, h.kdf);
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
