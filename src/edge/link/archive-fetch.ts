// The edge's side of a FetchArchive call: a range of one of its own archived objects read back from the VM, as
// stored (ciphertext; the edge decrypts, see src/edge/archive/retrieval.ts). One server-streaming call per range: a
// header (the object's size and SHA-256, the range sent), then the bytes in chunks of at most 256 KiB. The bytes
// are collected into one buffer, checked against the header's count; any failure is a GuardianError whose code
// says what to do: NOT_FOUND (nothing archived), RANGE_NOT_SATISFIABLE (past the end), FORBIDDEN (another edge's
// object), UNAVAILABLE (the link or the VM; try again), CORRUPT_DATA (a short or long answer).
import * as grpc from '@grpc/grpc-js';

import { type ErrorCode, GuardianError } from '../../shared/errors.ts';
import type { ArchiveFetchChunk__Output } from '../../shared/link/generated/guardian/edge/v1/ArchiveFetchChunk.ts';
import type { EdgeLinkClient } from '../../shared/link/proto.ts';
import type { ArchiveObjectHeader } from './archive-upload.ts';

export interface ArchiveObjectInfo {
  /** The whole object's ciphertext bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the whole object, as the VM indexed it. */
  sha256: string;
}

export interface ArchiveRange extends ArchiveObjectInfo {
  /** The ciphertext bytes [start, end] (end inclusive; clamped to the object's last byte). */
  start: number;
  end: number;
  data: Buffer;
}

/** gRPC statuses of FetchArchive as the edge's error codes. */
const CODES: Partial<Record<grpc.status, ErrorCode>> = {
  [grpc.status.NOT_FOUND]: 'NOT_FOUND',
  [grpc.status.OUT_OF_RANGE]: 'RANGE_NOT_SATISFIABLE',
  [grpc.status.PERMISSION_DENIED]: 'FORBIDDEN',
  [grpc.status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [grpc.status.UNAUTHENTICATED]: 'UNAUTHORIZED',
  [grpc.status.DEADLINE_EXCEEDED]: 'TIMEOUT',
  [grpc.status.UNIMPLEMENTED]: 'NOT_FOUND',
};

function fetchError(err: grpc.ServiceError): GuardianError {
  const code = CODES[err.code] ?? 'UNAVAILABLE';
  const why = err.code === grpc.status.UNIMPLEMENTED ? 'the server keeps no archive' : err.details || err.message;
  return new GuardianError(code, `archive read from the server failed: ${why}`);
}

/**
 * Reads ciphertext bytes [start, end] (end inclusive; absent: to the end) of an archived object, or with
 * `headerOnly` just its size and SHA-256 (then `data` is empty). `metadata` is the edge's credential.
 */
export function fetchObject(
  client: EdgeLinkClient,
  metadata: grpc.Metadata,
  request: { eventId: string; kind: ArchiveObjectHeader['kind']; start: number; end?: number; headerOnly?: boolean },
  options: { deadlineMs?: number } = {},
): Promise<ArchiveRange> {
  return new Promise((resolve, reject) => {
    const call = client.FetchArchive(
      {
        eventId: request.eventId,
        kind: request.kind,
        start: request.start,
        ...(request.end !== undefined ? { end: request.end } : {}),
        headerOnly: request.headerOnly ?? false,
      },
      metadata,
      { deadline: Date.now() + (options.deadlineMs ?? 60_000) },
    );
    let header: Omit<ArchiveRange, 'data'> | undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let failed = false;
    const fail = (err: GuardianError) => {
      if (failed) return;
      failed = true;
      call.cancel();
      reject(err);
    };
    call.on('data', (m: ArchiveFetchChunk__Output) => {
      if (failed) return;
      if (m.header && !header) {
        header = {
          size: m.header.totalSize,
          sha256: m.header.sha256,
          start: m.header.start,
          end: m.header.end,
        };
        if (header.start !== request.start || header.end < header.start || header.end >= header.size)
          fail(
            new GuardianError(
              'CORRUPT_DATA',
              `the server sent range ${header.start}-${header.end} for ${request.start}-`,
            ),
          );
      } else if (m.data && header) {
        bytes += m.data.length;
        if (bytes > header.end - header.start + 1)
          return fail(new GuardianError('CORRUPT_DATA', 'the server sent more bytes than the range it announced'));
        chunks.push(m.data);
      } else fail(new GuardianError('CORRUPT_DATA', 'the server answered out of order'));
    });
    call.on('error', (err: grpc.ServiceError) => fail(fetchError(err)));
    call.on('end', () => {
      if (failed) return;
      if (!header) return fail(new GuardianError('UNAVAILABLE', 'the server ended the archive read without a header'));
      const expected = request.headerOnly ? 0 : header.end - header.start + 1;
      if (bytes !== expected)
        return fail(new GuardianError('UNAVAILABLE', `the server sent ${bytes} of ${expected} bytes; read again`));
      failed = true; // settled
      resolve({ ...header, data: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes) });
    });
  });
}
