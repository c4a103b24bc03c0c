// The edge's connection to its VM: the gRPC channel (typed by the generated EdgeLinkClient), the credential every call
// carries, and the connection loop: tunnel, hello, control stream; then wait while connected; on any failure start
// over on a fresh channel after a jittered backoff.
import type { Readable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { backoffDelay } from '../../shared/backoff.ts';
import type { ClipChunk } from '../../shared/link/generated/guardian/edge/v1/ClipChunk.ts';
import type { ClipReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/ClipReceipt.ts';
import type { DatasetReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/DatasetReceipt.ts';
import type { EdgeMessage } from '../../shared/link/generated/guardian/edge/v1/EdgeMessage.ts';
import type { EventAcks__Output } from '../../shared/link/generated/guardian/edge/v1/EventAcks.ts';
import type { EventBatch } from '../../shared/link/generated/guardian/edge/v1/EventBatch.ts';
import type { HelloReply__Output } from '../../shared/link/generated/guardian/edge/v1/HelloReply.ts';
import type { HelloRequest } from '../../shared/link/generated/guardian/edge/v1/HelloRequest.ts';
import type { ModelReport } from '../../shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { PingReply__Output } from '../../shared/link/generated/guardian/edge/v1/PingReply.ts';
import type { PingRequest } from '../../shared/link/generated/guardian/edge/v1/PingRequest.ts';
import type { RequestFailed } from '../../shared/link/generated/guardian/edge/v1/RequestFailed.ts';
import type { TelemetryReply__Output } from '../../shared/link/generated/guardian/edge/v1/TelemetryReply.ts';
import type { TelemetryReport } from '../../shared/link/generated/guardian/edge/v1/TelemetryReport.ts';
import type { VmRequest__Output } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import { createLinkClient, credentialMetadata, type EdgeLinkClient } from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import { type ArchiveRange, fetchObject } from './archive-fetch.ts';
import { type ArchiveObjectHeader, uploadObject } from './archive-upload.ts';
import { type DatasetUploadHeader, fetchModel, uploadDataset } from './models-link.ts';
import type { LinkSettings } from './pairing.ts';

export interface ConnectionOptions {
  /** Between connection attempts: doubling from initialMs to maxMs, ±20 % jitter. */
  backoff: { initialMs: number; maxMs: number };
  log: Logger;
  /** Brought up before each attempt (absent without a tunnel: demo, loopback tests). */
  tunnel?: { ensure(): Promise<void> } | undefined;
  hello(): Omit<HelloRequest, 'edgeId'>;
  /** Connected (hello answered, control stream open). */
  onUp(): void;
  /** A request of the VM on the control stream. */
  onRequest(req: VmRequest__Output): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

const channelOptions: grpc.ChannelOptions = {
  // Notice a dead tunnel within ~15 s and redial quickly once it is back.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
};

export class LinkConnection {
  connected = false;
  lastError: string | null = null;
  /** Connection attempts after the first. */
  reconnects = 0;
  private client: EdgeLinkClient;
  private control: grpc.ClientDuplexStream<EdgeMessage, VmRequest__Output> | undefined;
  private readonly md: grpc.Metadata;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly settings: LinkSettings,
    private readonly o: ConnectionOptions,
  ) {
    this.md = credentialMetadata(settings.edgeId, settings.secret);
    this.client = createLinkClient(settings.grpc, channelOptions);
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.connected = false;
    this.wake?.();
    this.control?.cancel();
    this.client.close();
  }

  /** The link failed (a call, the control stream, the tunnel): reconnect. */
  down(err: Error): void {
    if (this.connected) this.o.log.warn({ error: err.message }, 'link to the VM lost; reconnecting');
    this.connected = false;
    this.lastError = err.message;
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { log } = this.o;
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.o.tunnel?.ensure();
        await this.hello();
        this.openControl();
        this.connected = true;
        this.lastError = null;
        attempt = 0;
        log.info({ vm: this.settings.grpc, tunnel: Boolean(this.o.tunnel) }, 'link to the VM up');
        this.o.onUp();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      } catch (err) {
        const message = (err as Error).message;
        if (this.lastError !== message) log.warn({ error: message }, 'cannot reach the VM; will retry');
        this.connected = false;
        this.lastError = message;
        // A fresh channel: a TCP connect begun while the tunnel was down can sit in SYN retransmission backoff for
        // many seconds after it returns.
        this.client.close();
        if (!this.stopped) this.client = createLinkClient(this.settings.grpc, channelOptions);
      }
      this.control?.cancel();
      this.control = undefined;
      if (this.stopped) break;
      this.reconnects++;
      await sleep(backoffDelay(attempt++, { ...this.o.backoff, factor: 2, jitter: 0.2 }));
    }
  }

  /** One unary call with the credential and a deadline. */
  private unary<Res>(
    timeoutMs: number,
    call: (md: grpc.Metadata, options: grpc.CallOptions, done: grpc.requestCallback<Res>) => grpc.ClientUnaryCall,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      call(this.md, { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) reject(err);
        else if (value === undefined) reject(new Error('the VM sent an empty reply'));
        else resolve(value);
      });
    });
  }

  private hello(): Promise<HelloReply__Output> {
    const req: HelloRequest = { edgeId: this.settings.edgeId, ...this.o.hello() };
    return this.unary(4000, (md, options, done) => this.client.Hello(req, md, options, done));
  }

  ping(req: PingRequest): Promise<PingReply__Output> {
    return this.unary(5000, (md, options, done) => this.client.Ping(req, md, options, done));
  }

  pushEvents(batch: EventBatch): Promise<EventAcks__Output> {
    return this.unary(10_000, (md, options, done) => this.client.PushEvents(batch, md, options, done));
  }

  pushTelemetry(report: TelemetryReport): Promise<TelemetryReply__Output> {
    return this.unary(5000, (md, options, done) => this.client.PushTelemetry(report, md, options, done));
  }

  /** A SendClip call of its own for one clip, so that each transfer has its own HTTP/2 flow control. */
  sendClip(done: grpc.requestCallback<ClipReceipt__Output>): grpc.ClientWritableStream<ClipChunk> {
    return this.client.SendClip(this.md, done);
  }

  /** Uploads one encrypted archive object (its own Archive call, with its own flow control). */
  uploadArchive(header: ArchiveObjectHeader, body: Readable): Promise<'STORED' | 'UNCHANGED'> {
    return uploadObject(this.client, this.md, header, body, { deadlineMs: 10 * 60_000 });
  }

  /** Reads back ciphertext bytes [start, end] of one of this edge's archived objects (its own FetchArchive call). */
  fetchArchive(request: {
    eventId: string;
    kind: ArchiveObjectHeader['kind'];
    start: number;
    end?: number;
    headerOnly?: boolean;
  }): Promise<ArchiveRange> {
    return fetchObject(this.client, this.md, request, { deadlineMs: 60_000 });
  }

  /** Uploads a dataset ZIP for training (its own UploadDataset call). */
  uploadDataset(header: DatasetUploadHeader, file: string): Promise<DatasetReceipt__Output> {
    return uploadDataset(this.client, this.md, header, file);
  }

  /** Reads the file of a model the VM is deploying here (its own FetchModel call). */
  fetchModel(modelId: string, maxBytes: number): Promise<Buffer> {
    return fetchModel(this.client, this.md, modelId, maxBytes);
  }

  /** Tells the VM what became of a model request (or of a model the edge changed itself). */
  reportModel(model: ModelReport): boolean {
    if (!this.control) return false;
    this.control.write({ model });
    return true;
  }

  /** Answers a request on the control stream with a refusal. */
  refuse(failed: RequestFailed): void {
    this.control?.write({ failed });
  }

  private openControl(): void {
    const call = this.client.Control(this.md);
    this.control = call;
    call.write({ open: { edgeId: this.settings.edgeId } });
    call.on('data', (req: VmRequest__Output) => this.o.onRequest(req));
    call.on('error', (err: Error) => {
      if (this.control === call) this.down(err);
    });
    call.on('end', () => {
      if (this.control === call) this.down(new Error('the VM closed the control stream'));
    });
  }
}
