// The edge's side of an Archive upload: one client-streaming call per encrypted object (header, chunks of at most
// 256 KiB, end marker), read from its source only as fast as the call drains (gRPC's flow control), answered by the
// VM once the object is durably stored. A replay of an object the VM already holds is answered UNCHANGED, at once:
// the rest of the body is then not sent. Any failure rejects with the call's gRPC error (its `code` says whether to
// retry, see archiveErrorIsPermanent); the VM keeps nothing of a failed upload, so retrying means uploading again.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';

import type { ArchiveChunk } from '../../shared/link/generated/guardian/edge/v1/ArchiveChunk.ts';
import type { ArchiveHeader } from '../../shared/link/generated/guardian/edge/v1/ArchiveHeader.ts';
import { clipChunkBytes, type EdgeLinkClient } from '../../shared/link/proto.ts';
import { drainedOrEnded } from './flow.ts';

export interface ArchiveObjectHeader {
  eventId: string;
  cameraId: string;
  kind: 'clip' | 'snapshot' | 'metadata';
  /** Ciphertext bytes of body. */
  size: number;
  /** Lowercase hex SHA-256 of body. */
  sha256: string;
  protected: boolean;
}

/**
 * Uploads one archive object and resolves with the VM's answer. `metadata` is the edge's credential
 * (credentialMetadata); `options.deadlineMs` bounds the whole call.
 */
export function uploadObject(
  client: EdgeLinkClient,
  metadata: grpc.Metadata,
  header: ArchiveObjectHeader,
  body: Readable,
  options: { deadlineMs?: number } = {},
): Promise<'STORED' | 'UNCHANGED'> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let bodyError: Error | undefined;
    const call: grpc.ClientWritableStream<ArchiveChunk> = client.Archive(
      metadata,
      options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {},
      (err, receipt) => {
        answered = true;
        if (bodyError) reject(bodyError);
        else if (err) reject(err);
        else if (receipt?.status === 'STORED' || receipt?.status === 'UNCHANGED') resolve(receipt.status);
        else reject(new Error(`the VM answered the upload with ${receipt?.status ?? 'nothing'}`));
      },
    );
    const wire: ArchiveHeader = { ...header };
    const pump = async () => {
      call.write({ header: wire });
      for await (const chunk of body) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        for (let at = 0; at < buf.length; at += clipChunkBytes) {
          if (answered) return; // UNCHANGED (or a refusal) before the body: stop reading it
          if (!call.write({ data: buf.subarray(at, at + clipChunkBytes) })) await drainedOrEnded(call);
        }
      }
      if (answered) return;
      call.write({ end: {} });
      call.end();
    };
    pump().then(
      () => {
        if (answered) body.destroy();
      },
      (err: Error) => {
        // The source failed: the VM must not keep a partial object, so the call is cancelled (never ended).
        bodyError = err;
        body.destroy();
        call.cancel();
      },
    );
  });
}

/** Size and SHA-256 of a file, for the header of its upload. */
export async function describeFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: clipChunkBytes })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Uploads an encrypted file (hashed first, then streamed). */
export async function uploadFile(
  client: EdgeLinkClient,
  metadata: grpc.Metadata,
  object: Omit<ArchiveObjectHeader, 'size' | 'sha256'>,
  path: string,
  options: { deadlineMs?: number } = {},
): Promise<'STORED' | 'UNCHANGED'> {
  const { size, sha256 } = await describeFile(path);
  return uploadObject(
    client,
    metadata,
    { ...object, size, sha256 },
    createReadStream(path, { highWaterMark: clipChunkBytes }),
    options,
  );
}

/**
 * Whether an upload error is final for this object (do not retry as is): a malformed header, an event of another
 * edge, bytes that do not match their header (re-encrypt or re-read, then upload again), a bad credential, a VM
 * without an archive. Everything else (link down, VM restarting, event not delivered yet, quota full of protected
 * objects, superseded or cut) is worth retrying later.
 */
export function archiveErrorIsPermanent(err: unknown): boolean {
  const code = (err as { code?: number })?.code;
  return (
    code === grpc.status.INVALID_ARGUMENT ||
    code === grpc.status.PERMISSION_DENIED ||
    code === grpc.status.DATA_LOSS ||
    code === grpc.status.UNAUTHENTICATED ||
    code === grpc.status.UNIMPLEMENTED
  );
}
