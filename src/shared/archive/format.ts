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
//
// This module is the format's public API. The code is split by concern: layout.ts (constants, the header, sizes),
// kdf.ts (Argon2id KEK derivation, its bounds and cache, the key wrap), segment.ts (segment key; the segment cipher,
// the addon's or node:crypto's), writer.ts (encryptors), reader.ts (ArchiveReader, byte sources), files.ts
// (encrypting, decrypting, verifying and rotating files, atomic writes) and secret.ts (the owner's secret).

export {
  type DecryptResult,
  decryptFile,
  type EncryptResult,
  encryptFile,
  type FileOptions,
  openFileSource,
  type RewrapOptions,
  type RewrapResult,
  rewrap,
  rewrapHeader,
  verifyFile,
} from './files.ts';
export {
  DEFAULT_KDF,
  deriveKek,
  isKek,
  KDF_LIMITS,
  type KdfParams,
  type KdfSettings,
  type Kek,
} from './kdf.ts';
export {
  ALGORITHM_AES256GCM_HKDF_SHA256,
  type ArchiveHeader,
  ciphertextSize,
  FORMAT_VERSION,
  HEADER_SIZE,
  IMMUTABLE_SIZE,
  KDF_ARGON2ID,
  KEY_BLOCK_OFFSET,
  KEY_BLOCK_SIZE,
  LAYOUT,
  MAGIC,
  MAX_SEGMENTS,
  parseHeader,
  plaintextSizeOf,
  SEGMENT_SIZE,
  SEGMENT_STORED_SIZE,
  segmentCount,
  TAG_SIZE,
} from './layout.ts';
export { ArchiveReader, type ByteSource, bufferSource, type ReaderOptions } from './reader.ts';
export { createSecret, normalizeSecret, readSecretFile, type Secret, writeSecretFile } from './secret.ts';
export { type GcmEngine, gcmEngine } from './segment.ts';
export { createEncryptor, type EncryptOptions, type Encryptor, encryptBuffer, encryptStream } from './writer.ts';
