// Where the VM keeps archived objects: opaque ciphertext made by the edge (the VM holds no key and never decrypts).
// One interface, two stores: the filesystem under the VM's data dir (the default) and any S3 API. Either way an
// object is visible only once it is complete and its size and SHA-256 are the ones announced: the filesystem writes
// a temporary file, fsyncs it and renames it; S3 gets one PutObject (small objects) or a multipart upload completed
// only after the last part was checked. A VM killed mid-upload leaves temporary files or incomplete multipart uploads,
// which cleanTemp() removes at start.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

import { GuardianError } from '../../shared/errors.ts';

export interface PutExpectation {
  /** Bytes the body must have. */
  size: number;
  /** Lowercase hex SHA-256 the body must have. */
  sha256: string;
}

/** Inclusive byte offsets, as in HTTP Range; no end (or one past the object's): to the end. */
export interface ByteRange {
  start: number;
  end?: number | undefined;
}

export interface StoredObject {
  body: Readable;
  /** Bytes in body (the range's length). */
  size: number;
  /** The whole object's size. */
  totalSize: number;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /**
   * Stores body under bucket/key, replacing what was there. Resolves once the object is durable and visible;
   * rejects (leaving nothing new visible) if the body's size or SHA-256 differs from `expect` (CORRUPT_DATA), the
   * body fails, or the store does.
   */
  put(bucket: string, key: string, body: Readable | Buffer, expect: PutExpectation): Promise<void>;
  /** The object or a range of it; NOT_FOUND, or RANGE_NOT_SATISFIABLE (an ArchiveRangeError with the size). */
  get(bucket: string, key: string, range?: ByteRange): Promise<StoredObject>;
  /** The object's size, or null if there is none. */
  head(bucket: string, key: string): Promise<{ size: number } | null>;
  /** Removes the object; nothing there is not an error. */
  delete(bucket: string, key: string): Promise<void>;
  ensureBucket(bucket: string): Promise<void>;
  /** Removes what uploads interrupted by a crash left behind; returns how many. Run before accepting uploads. */
  cleanTemp(): Promise<number>;
}

/** A range past the object's end. */
export class ArchiveRangeError extends GuardianError {
  constructor(readonly totalSize: number) {
    super('RANGE_NOT_SATISFIABLE', `the object has ${totalSize} bytes`);
  }
}

// S3's bucket rules (3-63 characters, lowercase letters, digits, dots and dashes, starting and ending with a letter or
// digit, no "..") are the stricter of the two stores, so both follow them.
const bucketPattern = /^[a-z0-9](?:[a-z0-9.-]{1,61})[a-z0-9]$/;
// Keys are paths of plain segments: no empty segment, none starting with a dot (so no "." or ".."), no backslash.
const keySegment = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export function validBucket(bucket: string): boolean {
  return bucketPattern.test(bucket) && !bucket.includes('..');
}

export function validKey(key: string): boolean {
  if (key.length > 512) return false;
  const parts = key.split('/');
  return parts.length <= 8 && parts.every((p) => keySegment.test(p));
}

function checkName(bucket: string, key?: string): void {
  if (!validBucket(bucket)) throw new GuardianError('INVALID_ARGUMENT', `not a valid bucket name: ${bucket}`);
  if (key !== undefined && !validKey(key))
    throw new GuardianError('INVALID_ARGUMENT', `not a valid object key: ${key}`);
}

function checkRange(range: ByteRange | undefined, totalSize: number): { start: number; end: number } {
  if (!range) return { start: 0, end: totalSize - 1 };
  const end = Math.min(range.end ?? totalSize - 1, totalSize - 1);
  if (!(range.start >= 0 && range.start < totalSize && end >= range.start)) throw new ArchiveRangeError(totalSize);
  return { start: range.start, end };
}

/**
 * The body's chunks, hashed and counted on the way: throws CORRUPT_DATA as soon as there are more bytes than
 * announced, and at the end if the count or the SHA-256 differ. A store makes the object visible only after this
 * has run to its end without throwing.
 */
async function* verified(body: Readable | Buffer, expect: PutExpectation): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let bytes = 0;
  const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : body;
  for await (const chunk of chunks) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    bytes += buf.length;
    if (bytes > expect.size) throw new GuardianError('CORRUPT_DATA', `more bytes than the ${expect.size} announced`);
    hash.update(buf);
    yield buf;
  }
  if (bytes !== expect.size)
    throw new GuardianError('CORRUPT_DATA', `received ${bytes} bytes where ${expect.size} were announced`);
  const sha256 = hash.digest('hex');
  if (sha256 !== expect.sha256.toLowerCase())
    throw new GuardianError('CORRUPT_DATA', `the bytes received have SHA-256 ${sha256}, not ${expect.sha256}`);
}

/** Objects as files under root/<bucket>/<key>: directories 0700, files 0600, written to root/.tmp and renamed. */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly tmp: string;

  constructor(private readonly root: string) {
    // Buckets never start with a dot, so the temporary directory cannot be one.
    this.tmp = join(root, '.tmp');
  }

  private path(bucket: string, key: string): string {
    checkName(bucket, key);
    return join(this.root, bucket, ...key.split('/'));
  }

  async ensureBucket(bucket: string): Promise<void> {
    checkName(bucket);
    await mkdir(join(this.root, bucket), { recursive: true, mode: 0o700 });
  }

  async put(bucket: string, key: string, body: Readable | Buffer, expect: PutExpectation): Promise<void> {
    const target = this.path(bucket, key);
    await mkdir(this.tmp, { recursive: true, mode: 0o700 });
    const temp = join(this.tmp, `${randomUUID()}.part`);
    const file = await open(temp, 'wx', 0o600);
    let closed = false;
    try {
      // One chunk at a time: the next is read only once this one is written (the sender's flow control).
      for await (const chunk of verified(body, expect)) await file.write(chunk);
      await file.sync();
      await file.close();
      closed = true;
      await this.ensureBucket(bucket);
      for (let attempt = 0; ; attempt++) {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        try {
          await rename(temp, target);
          break;
        } catch (err) {
          // A delete of the last object of the event removed the directory in between: make it again.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 2) throw err;
        }
      }
      await syncDir(dirname(target));
    } catch (err) {
      if (!closed) await file.close().catch(() => {});
      await unlink(temp).catch(() => {});
      if (!Buffer.isBuffer(body)) body.destroy();
      throw err;
    }
  }

  async get(bucket: string, key: string, range?: ByteRange): Promise<StoredObject> {
    const path = this.path(bucket, key);
    const size = await stat(path).then(
      (s) => s.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new GuardianError('NOT_FOUND', `no object ${bucket}/${key}`);
        throw err;
      },
    );
    const r = checkRange(range, size);
    return { body: createReadStream(path, r), size: r.end - r.start + 1, totalSize: size };
  }

  async head(bucket: string, key: string): Promise<{ size: number } | null> {
    const path = this.path(bucket, key);
    return stat(path).then(
      (s) => ({ size: s.size }),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      },
    );
  }

  async delete(bucket: string, key: string): Promise<void> {
    const path = this.path(bucket, key);
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    // Empty directories of the key (events/<id>/) go too; the bucket stays.
    const bucketDir = join(this.root, bucket);
    for (let dir = dirname(path); dir.startsWith(`${bucketDir}/`); dir = dirname(dir)) {
      if (
        !(await rmdir(dir).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }

  async cleanTemp(): Promise<number> {
    const names = await readdir(this.tmp).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(join(this.tmp, n), { force: true, recursive: true })));
    return names.length;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface S3StoreOptions {
  /** e.g. http://127.0.0.1:7070; absent: AWS itself. */
  endpoint?: string | undefined;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Objects above this size go as a multipart upload of parts this size (S3's minimum part is 5 MiB). */
  partBytes?: number;
}

const s3Code = (err: unknown) => {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e?.name ?? e?.Code ?? '', status: e?.$metadata?.httpStatusCode ?? 0 };
};

/** Objects in any S3 API through @aws-sdk/client-s3. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly buckets = new Set<string>();
  private readonly partBytes: number;

  constructor(options: S3StoreOptions) {
    this.partBytes = Math.max(options.partBytes ?? 8 * 1024 * 1024, 5 * 1024 * 1024);
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // SDK >= 3.729 checksums every request (CRC32) by default, and a multipart upload must then list each part's
      // checksum on completion, which versitygw 1.7 refuses (InvalidPart; test/integration/vm-archive-s3.test.ts).
      // Without them both AWS and versitygw accept it; our own SHA-256 checks the bytes, SigV4 each part's payload.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async ensureBucket(bucket: string): Promise<void> {
    checkName(bucket);
    if (this.buckets.has(bucket)) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const { name, status } = s3Code(err);
      if (status !== 404 && name !== 'NotFound' && name !== 'NoSuchBucket') throw err;
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (createErr) {
        // Created meanwhile (another upload of the same camera): fine.
        if (s3Code(createErr).name !== 'BucketAlreadyOwnedByYou') throw createErr;
      }
    }
    this.buckets.add(bucket);
  }

  async put(bucket: string, key: string, body: Readable | Buffer, expect: PutExpectation): Promise<void> {
    checkName(bucket, key);
    await this.ensureBucket(bucket);
    const chunks = verified(body, expect);
    try {
      if (expect.size <= this.partBytes) {
        // Small enough to hold: checked in full before the one PutObject that makes it visible.
        const parts: Buffer[] = [];
        for await (const c of chunks) parts.push(c);
        const data = Buffer.concat(parts);
        await this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: data,
            ContentLength: data.length,
            ContentType: 'application/octet-stream',
          }),
        );
        return;
      }
      await this.putMultipart(bucket, key, chunks);
    } catch (err) {
      if (!Buffer.isBuffer(body)) body.destroy();
      throw err;
    }
  }

  /** One part in memory at a time; completed only after the verifier has seen every byte. */
  private async putMultipart(bucket: string, key: string, chunks: AsyncGenerator<Buffer>): Promise<void> {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream' }),
    );
    if (!UploadId) throw new GuardianError('IO_ERROR', 'the S3 server gave no upload id');
    const done: { PartNumber: number; ETag: string }[] = [];
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        const data = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        const PartNumber = done.length + 1;
        const r = await this.client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber,
            Body: data,
            ContentLength: data.length,
          }),
        );
        done.push({ PartNumber, ETag: r.ETag ?? '' });
      };
      for await (const c of chunks) {
        pending.push(c);
        pendingBytes += c.length;
        if (pendingBytes >= this.partBytes) await flush();
      }
      if (pendingBytes > 0 || done.length === 0) await flush();
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }),
      );
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {}); // cleanTemp() at the next start aborts it otherwise
      throw err;
    }
  }

  async get(bucket: string, key: string, range?: ByteRange): Promise<StoredObject> {
    checkName(bucket, key);
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      const size = r.ContentLength ?? 0;
      const total = /\/(\d+)$/.exec(r.ContentRange ?? '');
      return { body: r.Body as Readable, size, totalSize: total ? Number(total[1]) : size };
    } catch (err) {
      const { name, status } = s3Code(err);
      if (name === 'NoSuchKey' || name === 'NoSuchBucket' || status === 404)
        throw new GuardianError('NOT_FOUND', `no object ${bucket}/${key}`);
      if (name === 'InvalidRange' || status === 416) {
        const head = await this.head(bucket, key);
        throw new ArchiveRangeError(head?.size ?? 0);
      }
      throw err;
    }
  }

  async head(bucket: string, key: string): Promise<{ size: number } | null> {
    checkName(bucket, key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { size: r.ContentLength ?? 0 };
    } catch (err) {
      const { name, status } = s3Code(err);
      if (name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket' || status === 404) return null;
      throw err;
    }
  }

  async delete(bucket: string, key: string): Promise<void> {
    checkName(bucket, key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      const { name, status } = s3Code(err);
      if (name !== 'NoSuchKey' && name !== 'NoSuchBucket' && status !== 404) throw err;
    }
  }

  /** Aborts the multipart uploads a crash left open in the archive's buckets (camera-*). */
  async cleanTemp(): Promise<number> {
    const { Buckets = [] } = await this.client.send(new ListBucketsCommand({}));
    let aborted = 0;
    for (const b of Buckets) {
      if (!b.Name?.startsWith('camera-')) continue;
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: b.Name,
            ...(KeyMarker ? { KeyMarker } : {}),
            ...(UploadIdMarker ? { UploadIdMarker } : {}),
          }),
        );
        for (const u of r.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: b.Name, Key: u.Key, UploadId: u.UploadId }));
          aborted++;
        }
        if (!r.IsTruncated) break;
        KeyMarker = r.NextKeyMarker;
        UploadIdMarker = r.NextUploadIdMarker;
      }
    }
    return aborted;
  }
}
