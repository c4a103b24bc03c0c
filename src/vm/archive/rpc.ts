// The VM's archive RPCs on the link (docs/architecture.md, "Archive"), for an edge the link server has
// authenticated: Archive (an encrypted object uploaded on a stream of its own, acknowledged once durably stored) and
// FetchArchive (an edge reading a ciphertext range of its own objects back). Without an archive both are
// UNIMPLEMENTED; an ArchiveRefusal is answered with its own status, anything else with UNAVAILABLE (and logged).
import { once } from 'node:events';
import { PassThrough } from 'node:stream';

import * as grpc from '@grpc/grpc-js';

import { GuardianError } from '../../shared/errors.ts';
import type { ArchiveChunk__Output } from '../../shared/link/generated/guardian/edge/v1/ArchiveChunk.ts';
import type { ArchiveFetchChunk } from '../../shared/link/generated/guardian/edge/v1/ArchiveFetchChunk.ts';
import type { ArchiveFetchRequest__Output } from '../../shared/link/generated/guardian/edge/v1/ArchiveFetchRequest.ts';
import type { ArchiveHeader__Output } from '../../shared/link/generated/guardian/edge/v1/ArchiveHeader.ts';
import type { ArchiveReceipt } from '../../shared/link/generated/guardian/edge/v1/ArchiveReceipt.ts';
import { clipChunkBytes } from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import { ArchiveRefusal, type ArchiveService } from './service.ts';
import { ArchiveRangeError } from './store.ts';

export interface ArchiveRpcOptions {
  log: Logger;
  /** An Archive call silent this long is aborted (its partial upload discarded); 60 s by default. */
  idleMs?: number;
}

/** Answers an authenticated edge's Archive call: stores the object it uploads, or says why not. */
export function handleArchiveUpload(
  archive: ArchiveService | undefined,
  edgeId: string,
  call: grpc.ServerReadableStream<ArchiveChunk__Output, ArchiveReceipt>,
  callback: grpc.sendUnaryData<ArchiveReceipt>,
  options: ArchiveRpcOptions,
): void {
  const { log } = options;
  if (!archive) return callback({ code: grpc.status.UNIMPLEMENTED, details: 'this VM keeps no archive' });
  void receiveArchive(edgeId, archive, call, options.idleMs).then(
    (receipt) => callback(null, receipt),
    (err: unknown) => {
      if (!(err instanceof ArchiveRefusal)) log.error({ err, edge: edgeId }, 'archive upload failed');
      const refusal = err instanceof ArchiveRefusal ? err : null;
      callback({
        code: refusal ? grpc.status[refusal.code] : grpc.status.UNAVAILABLE,
        details: refusal?.message ?? 'the VM could not store the object; upload it again later',
      });
    },
  );
}

/** Answers an authenticated edge's FetchArchive call: a range of one of its own stored objects, or a status. */
export function handleFetchArchive(
  archive: ArchiveService | undefined,
  edgeId: string,
  call: grpc.ServerWritableStream<ArchiveFetchRequest__Output, ArchiveFetchChunk>,
  options: Pick<ArchiveRpcOptions, 'log'>,
): void {
  const { log } = options;
  if (!archive) {
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'this VM keeps no archive' });
    return;
  }
  void sendArchive(edgeId, archive, call).catch((err: unknown) => {
    if (call.cancelled) return;
    const refusal = err instanceof ArchiveRefusal ? err : null;
    if (!refusal) log.error({ err, edge: edgeId, event: call.request.eventId }, 'archive read failed');
    call.emit('error', {
      code: refusal ? grpc.status[refusal.code] : grpc.status.UNAVAILABLE,
      details: refusal?.message ?? 'the VM could not read the object; try again later',
    });
  });
}

/** Waits for room in a call's buffer, or for the call to be cancelled (then nothing more is written). */
async function drainedOrCancelled(call: NodeJS.EventEmitter): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([
      once(call, 'drain', { signal: ac.signal }),
      once(call, 'cancelled', { signal: ac.signal }),
      once(call, 'close', { signal: ac.signal }),
    ]);
  } finally {
    ac.abort();
  }
}

/**
 * One Archive call: the header, then the bytes as a stream the archive reads at its own pace: when the body's buffer
 * is full the call is paused, so gRPC's flow control holds the edge back and nothing is buffered whole. The bytes
 * count only if the end marker arrives: a call cancelled, cut or silent for archiveIdleMs fails the body, and the
 * store discards what it had. When the archive stops reading (a replay answered UNCHANGED, a refusal, an upload
 * superseded by a newer one) the rest of the call is dropped.
 */
async function receiveArchive(
  edgeId: string,
  archive: ArchiveService,
  call: grpc.ServerReadableStream<ArchiveChunk__Output, unknown>,
  archiveIdleMs: number | undefined,
) {
  const idleMs = archiveIdleMs ?? 60_000;
  const header = await new Promise<ArchiveHeader__Output>((resolve, reject) => {
    const timer = setTimeout(() => fail(new ArchiveRefusal('ABORTED', 'no header received')), idleMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      call.off('data', first);
      reject(err);
    };
    const first = (m: ArchiveChunk__Output) => {
      clearTimeout(timer);
      call.off('data', first);
      call.pause();
      if (m.header) resolve(m.header);
      else reject(new ArchiveRefusal('INVALID_ARGUMENT', 'the first message must be the header'));
    };
    call.on('data', first);
    call.once('end', () => fail(new ArchiveRefusal('ABORTED', 'the upload ended before its header')));
    call.once('error', () => fail(new ArchiveRefusal('ABORTED', 'the upload was cut')));
  });

  const body = new PassThrough({ highWaterMark: 4 * clipChunkBytes });
  // A failure reaches the archive through its reading of the body; after it has stopped, nobody needs it.
  body.on('error', () => {});
  let ended = false;
  let idle: NodeJS.Timeout | undefined;
  // The idle clock runs only while the archive waits for the edge, not while the store is busy writing.
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => fail(new ArchiveRefusal('ABORTED', `nothing received for ${idleMs / 1000} s`)), idleMs);
  };
  const fail = (err: Error) => {
    clearTimeout(idle);
    if (!ended && !body.destroyed) body.destroy(err);
  };
  call.on('data', (m: ArchiveChunk__Output) => {
    if (ended || body.destroyed) return;
    if (m.end) {
      ended = true;
      clearTimeout(idle);
      body.end();
    } else if (!m.data) fail(new ArchiveRefusal('INVALID_ARGUMENT', 'expected data or the end marker'));
    else if (m.data.length > clipChunkBytes)
      fail(new ArchiveRefusal('INVALID_ARGUMENT', `data chunks are at most ${clipChunkBytes} bytes`));
    else if (body.write(m.data)) arm();
    else {
      clearTimeout(idle);
      call.pause();
    }
  });
  body.on('drain', () => {
    arm();
    call.resume();
  });
  call.on('end', () => fail(new ArchiveRefusal('ABORTED', 'the upload ended without its end marker')));
  call.on('cancelled', () => fail(new ArchiveRefusal('ABORTED', 'the edge cancelled the upload')));
  call.on('error', () => fail(new ArchiveRefusal('ABORTED', 'the upload was cut')));
  // The archive stopped reading early: drop whatever else the edge sends.
  body.on('close', () => {
    clearTimeout(idle);
    if (!ended) call.destroy();
  });
  arm();
  call.resume();
  try {
    return await archive.upload(
      edgeId,
      {
        eventId: header.eventId,
        cameraId: header.cameraId,
        kind: header.kind,
        size: header.size,
        sha256: header.sha256,
        protected: header.protected,
      },
      body,
    );
  } finally {
    clearTimeout(idle);
    body.destroy();
  }
}

/**
 * One FetchArchive call: a range of one of the calling edge's own stored objects, as stored. The header goes
 * first; the bytes follow at the pace the edge reads them (a full call buffer waits for 'drain': gRPC's flow
 * control), and a cancelled call stops the store's read. Throws an ArchiveRefusal (or the store's error) before
 * the header; after it, a failure ends the call with a status, never with a short range presented as complete.
 */
async function sendArchive(
  edgeId: string,
  archive: ArchiveService,
  call: grpc.ServerWritableStream<ArchiveFetchRequest__Output, ArchiveFetchChunk>,
): Promise<void> {
  const req = call.request;
  const o = archive.ownObject(edgeId, req.eventId, req.kind);
  if (req.start >= o.size)
    throw new ArchiveRefusal('OUT_OF_RANGE', `the object has ${o.size} bytes (offsets 0 to ${o.size - 1})`);
  if (req.end !== undefined && req.end < req.start)
    throw new ArchiveRefusal('INVALID_ARGUMENT', `bad range ${req.start}-${req.end}: the end is before the start`);
  const end = Math.min(req.end ?? o.size - 1, o.size - 1);
  const header = { totalSize: o.size, sha256: o.sha256, start: req.start, end };
  if (req.headerOnly) {
    call.write({ header });
    call.end();
    return;
  }
  let got: Awaited<ReturnType<ArchiveService['store']['get']>>;
  try {
    got = await archive.store.get(o.bucket, o.key, { start: req.start, end });
  } catch (err) {
    if (err instanceof ArchiveRangeError || (err instanceof GuardianError && err.code === 'NOT_FOUND'))
      // The index and the store disagree: an object replaced or deleted meanwhile.
      throw new ArchiveRefusal('ABORTED', `the object of event ${req.eventId} changed while being read; read again`);
    throw err;
  }
  const { body } = got;
  if (got.totalSize !== o.size) {
    body.destroy();
    throw new ArchiveRefusal('ABORTED', `the object of event ${req.eventId} changed while being read; read again`);
  }
  const stop = () => body.destroy();
  call.on('cancelled', stop);
  try {
    if (call.cancelled) return;
    call.write({ header });
    let sent = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; at += clipChunkBytes) {
        if (call.cancelled) return;
        const piece = chunk.subarray(at, at + clipChunkBytes);
        sent += piece.length;
        if (!call.write({ data: piece })) await drainedOrCancelled(call);
      }
    }
    if (call.cancelled) return;
    if (sent !== end - req.start + 1)
      throw new Error(`the store gave ${sent} of the ${end - req.start + 1} bytes asked for`);
    call.end();
  } finally {
    call.off('cancelled', stop);
    body.destroy();
  }
}
