// Answers the VM's clip requests from the control stream: each clip (or byte range of it) goes on a SendClip call of
// its own, read from the file at the pace the VM's client reads (HTTP/2 flow control); a cancel stops it.
import { createReadStream, statSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import type { ClipChunk } from '../../shared/link/generated/guardian/edge/v1/ClipChunk.ts';
import type { ClipReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/ClipReceipt.ts';
import type { ClipRequest__Output } from '../../shared/link/generated/guardian/edge/v1/ClipRequest.ts';
import type { RequestFailed } from '../../shared/link/generated/guardian/edge/v1/RequestFailed.ts';
import type { VmRequest__Output } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import { clipChunkBytes } from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import { drainedOrEnded } from './flow.ts';

/** The calls this needs (LinkConnection). */
export interface ClipChannel {
  sendClip(done: grpc.requestCallback<ClipReceipt__Output>): grpc.ClientWritableStream<ClipChunk>;
  refuse(failed: RequestFailed): void;
}

export class ClipStreamer {
  private readonly cancelled = new Set<string>();
  private readonly transfers = new Set<grpc.ClientWritableStream<ClipChunk>>();

  constructor(
    private readonly channel: ClipChannel,
    /** The file of an event's clip (made from the recordings if needed); rejects with code NOT_FOUND if unknown. */
    private readonly clipFile: (eventId: string) => Promise<string>,
    private readonly log: Logger,
  ) {}

  /** A request of the VM from the control stream. */
  handle(req: VmRequest__Output): void {
    if (req.cancel) this.cancelled.add(req.requestId);
    else if (req.clip) void this.send(req.requestId, req.clip);
  }

  /** The link is going away: every transfer stops. */
  stop(): void {
    for (const t of this.transfers) t.cancel();
  }

  private refuse(requestId: string, code: string, message: string, totalSize = 0): void {
    this.channel.refuse({ requestId, code, message, totalSize });
  }

  private async send(requestId: string, req: ClipRequest__Output): Promise<void> {
    let path: string;
    try {
      path = await this.clipFile(req.eventId);
    } catch (err) {
      const code = (err as { code?: string }).code === 'NOT_FOUND' ? 'NOT_FOUND' : 'UNAVAILABLE';
      return this.refuse(requestId, code, (err as Error).message);
    }
    const size = statSync(path).size;
    const end = Math.min(req.end ?? size - 1, size - 1);
    if (req.start >= size || req.start > end)
      return this.refuse(requestId, 'RANGE', `the clip has ${size} bytes`, size);
    const call = this.channel.sendClip((err) => {
      if (err && err.code !== grpc.status.CANCELLED)
        this.log.warn({ error: err.message, event: req.eventId }, 'clip transfer failed');
    });
    const file = createReadStream(path, { start: req.start, end, highWaterMark: clipChunkBytes });
    let bytes = 0;
    this.transfers.add(call);
    try {
      call.write({ requestId, header: { totalSize: size, start: req.start, end, contentType: 'video/mp4' } });
      for await (const data of file) {
        if (this.cancelled.has(requestId)) throw new Error('cancelled by the VM');
        bytes += (data as Buffer).length;
        if (!call.write({ requestId, data })) await drainedOrEnded(call);
      }
      call.write({ requestId, end: { bytes } });
      call.end();
    } catch (err) {
      file.destroy();
      call.cancel();
      if (!this.cancelled.has(requestId))
        this.log.warn({ error: (err as Error).message, event: req.eventId }, 'clip transfer stopped');
    } finally {
      this.cancelled.delete(requestId);
      this.transfers.delete(call);
    }
  }
}
