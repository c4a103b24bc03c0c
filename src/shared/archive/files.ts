// Archives as files (docs/archive-format.md): encryptFile and decryptFile write their output to a temporary file
// beside it, synced and renamed into place only once complete (a failed run leaves nothing); verifyFile checks every
// segment; rewrap rotates an archive's secret in place (only the key block is rewritten), rewrapHeader the header
// alone. File-system failures are GuardianErrors naming the file.
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { GuardianError } from '../errors.ts';
import { deriveKek, type KdfSettings, type Kek } from './kdf.ts';
import {
  type ArchiveHeader,
  HEADER_SIZE,
  KEY_BLOCK_OFFSET,
  kekFor,
  LAYOUT,
  parse,
  plaintextSizeOf,
  sealKeyBlock,
  unwrap,
} from './layout.ts';
import { ArchiveReader, type ByteSource } from './reader.ts';
import type { Secret } from './secret.ts';
import { createEncryptor, type EncryptOptions } from './writer.ts';

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

// ---------------------------------------------------------------------------------------------------------------
// Decrypting and verifying

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
