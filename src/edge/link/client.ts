// The edge's end of the link to the owner's VM: brings up the WireGuard tunnel from the pairing, dials the VM's gRPC
// server through it, says hello, delivers the outbox (an item leaves the outbox only when the VM acknowledges it),
// reports telemetry and heartbeats, and answers the VM's clip requests on the control stream. Every failure ends in
// a reconnection with backoff; nothing is lost meanwhile because the outbox is on disk.
import { once } from 'node:events';
import { createReadStream, statSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import type { ClipChunk } from '../../shared/link/generated/guardian/edge/v1/ClipChunk.ts';
import type { HelloRequest } from '../../shared/link/generated/guardian/edge/v1/HelloRequest.ts';
import type { TelemetryReport } from '../../shared/link/generated/guardian/edge/v1/TelemetryReport.ts';
import type { VmRequest__Output } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import {
  clipChunkBytes,
  createLinkClient,
  credentialMetadata,
  type EdgeLinkClient,
  type EventJson,
  toWireEvent,
} from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import { WireGuardInterface } from '../../shared/wireguard/interface.ts';
import { readPrivateKey } from '../../shared/wireguard/keys.ts';
import type { Outbox, OutboxItem } from '../events/outbox.ts';
import { type DeliveryHandler, LinkFailure, OutboxDelivery } from './delivery.ts';
import { edgeKeyPath, type LinkSettings, readLinkSettings } from './pairing.ts';

export interface LinkState {
  configured: boolean;
  connected: boolean;
  lastError: string | null;
  edgeId: string | null;
  vm: string | null;
  tunnel: boolean;
  tunnelAddress: string | null;
  latencyMs: number | null;
  handshakeAgeSeconds: number | null;
  rxBytes: number | null;
  txBytes: number | null;
  delivered: number;
  reconnects: number;
}

export interface LinkOptions {
  dataDir: string;
  interfaceName: string;
  heartbeatSeconds: number;
  telemetrySeconds: number;
  backoff: { initialMs: number; maxMs: number };
}

export interface LinkDeps {
  outbox: Outbox;
  log: Logger;
  hello(): Omit<HelloRequest, 'edgeId'>;
  telemetry(): Omit<TelemetryReport, 'linkLatencyMs' | 'handshakeAgeSeconds'>;
  /** The file of an event's clip (made from the recordings if needed); rejects with code NOT_FOUND if unknown. */
  clipFile(eventId: string): Promise<string>;
}

/** Waits for room in the stream's buffer, or for the call to end (then the next write fails). */
async function drainedOrEnded(call: NodeJS.EventEmitter): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(call, 'drain', { signal: ac.signal }), once(call, 'status', { signal: ac.signal })]);
  } finally {
    ac.abort(); // removes the listener that did not fire
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export class LinkClient {
  readonly state: LinkState = {
    configured: false,
    connected: false,
    lastError: null,
    edgeId: null,
    vm: null,
    tunnel: false,
    tunnelAddress: null,
    latencyMs: null,
    handshakeAgeSeconds: null,
    rxBytes: null,
    txBytes: null,
    delivered: 0,
    reconnects: 0,
  };
  private settings: LinkSettings | null = null;
  private client: EdgeLinkClient | undefined;
  private tunnel: WireGuardInterface | undefined;
  private control: grpc.ClientDuplexStream<unknown, VmRequest__Output> | undefined;
  private stopped = false;
  private pumping = false;
  private pumpAgain = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly cancelled = new Set<string>();
  private readonly transfers = new Set<grpc.ClientWritableStream<ClipChunk>>();
  private wake: (() => void) | undefined;

  private readonly delivery: OutboxDelivery;

  constructor(
    private readonly options: LinkOptions,
    private readonly deps: LinkDeps,
  ) {
    this.delivery = new OutboxDelivery(deps.outbox, (kind) =>
      deps.log.warn({ kind }, 'the outbox holds a kind this edge cannot deliver; it waits'),
    );
    this.delivery.register('event', (items) => this.pushEvents(items));
  }

  /** Delivers a batch of event changes; the VM acknowledges each (a rejected one is dropped, and said so). */
  private async pushEvents(items: OutboxItem[]): Promise<Set<number>> {
    const { acks } = await this.unary<
      unknown,
      { acks: { deliveryId: number; eventId: string; status: string; error: string }[] }
    >(
      'PushEvents',
      {
        events: items.map((i) => ({ deliveryId: i.id, kind: i.kind, event: toWireEvent(i.payload as EventJson) })),
      },
      10_000,
    );
    const acked = new Set<number>();
    for (const a of acks) {
      if (a.status === 'REJECTED')
        this.deps.log.warn({ event: a.eventId, error: a.error }, 'the VM rejected an event; dropping it');
      acked.add(a.deliveryId);
    }
    this.state.delivered += acked.size;
    return acked;
  }

  /** Registers how another kind of outbox item (archive uploads, datasets...) reaches the VM. */
  registerDelivery(family: string, handler: DeliveryHandler): void {
    this.delivery.register(family, handler);
  }

  private get md(): grpc.Metadata {
    const s = this.settings as LinkSettings;
    return credentialMetadata(s.edgeId, s.secret);
  }

  async start(): Promise<void> {
    this.settings = readLinkSettings(this.options.dataDir);
    if (!this.settings) return; // not paired: the outbox waits on disk
    this.state.configured = true;
    this.state.edgeId = this.settings.edgeId;
    this.state.vm = this.settings.grpc;
    this.state.tunnel = Boolean(this.settings.tunnel);
    this.state.tunnelAddress = this.settings.tunnel?.edgeAddress ?? null;
    this.client = this.makeClient();
    void this.run();
    this.every(this.options.heartbeatSeconds * 1000, () => this.heartbeat());
    this.every(this.options.telemetrySeconds * 1000, () => this.sendTelemetry());
    this.every(1000, () => this.kick());
  }

  private makeClient(): EdgeLinkClient {
    return createLinkClient((this.settings as LinkSettings).grpc, {
      // Notice a dead tunnel within ~15 s and redial quickly once it is back.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.wake?.();
    for (const t of this.transfers) t.cancel();
    this.control?.cancel();
    this.client?.close();
    await this.tunnel?.down();
  }

  /** After a new pairing: drop the old link (and tunnel) and start over with the new settings. */
  async reload(): Promise<void> {
    await this.stop();
    this.tunnel = undefined;
    this.timers = [];
    this.stopped = false;
    Object.assign(this.state, { connected: false, lastError: null, latencyMs: null, handshakeAgeSeconds: null });
    await this.start();
  }

  /** Something was queued: deliver now rather than at the next tick. */
  kick(): void {
    if (!this.state.connected) return;
    if (this.pumping) this.pumpAgain = true;
    else void this.pump();
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (this.state.connected) void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private down(err: Error): void {
    if (this.state.connected) this.deps.log.warn({ error: err.message }, 'link to the VM lost; reconnecting');
    this.state.connected = false;
    this.state.lastError = err.message;
    this.wake?.();
  }

  /** Connection loop: tunnel, hello, control stream; waits while connected, then starts over with backoff. */
  private async run(): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff;
    let delay = initialMs;
    while (!this.stopped) {
      try {
        await this.ensureTunnel();
        await this.hello();
        this.openControl();
        this.state.connected = true;
        this.state.lastError = null;
        delay = initialMs;
        this.deps.log.info({ vm: this.settings?.grpc, tunnel: this.state.tunnel }, 'link to the VM up');
        // Whatever waited for the link goes now, not after its own backoff.
        this.deps.outbox.retryNow();
        void this.pump();
        void this.sendTelemetry().catch(() => undefined);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      } catch (err) {
        if (this.state.lastError !== (err as Error).message)
          this.deps.log.warn({ error: (err as Error).message }, 'cannot reach the VM; will retry');
        this.state.connected = false;
        this.state.lastError = (err as Error).message;
        // A fresh channel: a TCP connect begun while the tunnel was down can sit in SYN retransmission backoff for
        // many seconds after it returns.
        this.client?.close();
        if (!this.stopped) this.client = this.makeClient();
      }
      this.control?.cancel();
      this.control = undefined;
      if (this.stopped) break;
      this.state.reconnects++;
      await sleep(delay * (0.8 + 0.4 * Math.random()));
      delay = Math.min(maxMs, delay * 2);
    }
  }

  private async ensureTunnel(): Promise<void> {
    const t = this.settings?.tunnel;
    if (!t || this.tunnel) return;
    const tunnel = await WireGuardInterface.up({
      name: this.options.interfaceName,
      privateKey: readPrivateKey(edgeKeyPath(this.options.dataDir)),
      address: t.edgeAddress,
      log: this.deps.log.child({ component: 'wireguard' }),
      onExit: (exit) => {
        this.deps.log.error(
          { code: exit.code, stderr: exit.stderr },
          'wireguard-go stopped; bringing the tunnel up again',
        );
        if (this.tunnel === tunnel) this.tunnel = undefined;
        this.down(new Error('the WireGuard tunnel stopped'));
      },
    });
    await tunnel.setPeer({
      publicKey: t.vmPublicKey,
      endpoint: t.endpoint,
      allowedIps: [`${t.vmAddress}/32`],
      persistentKeepalive: 25,
    });
    this.tunnel = tunnel;
  }

  private unary<Req, Res>(method: string, req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      const client = this.client as unknown as Record<
        string,
        (r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Res) => void) => void
      >;
      (client[method] as NonNullable<(typeof client)[string]>).call(
        this.client,
        req,
        this.md,
        { deadline: Date.now() + timeoutMs },
        (err, value) => (err ? reject(err) : resolve(value as Res)),
      );
    });
  }

  private async hello(): Promise<void> {
    await this.unary('Hello', { edgeId: this.settings?.edgeId, ...this.deps.hello() }, 4000);
  }

  private async heartbeat(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.unary('Ping', { sentMs: Date.now() }, 5000);
      this.state.latencyMs = Math.round((performance.now() - t0) * 100) / 100;
    } catch (err) {
      this.down(err as Error);
    }
    if (this.tunnel) {
      const peer = (await this.tunnel.stats().catch(() => ({ peers: [] }))).peers[0];
      this.state.handshakeAgeSeconds =
        peer?.lastHandshakeAgeMs == null ? null : Math.round(peer.lastHandshakeAgeMs / 1000);
      this.state.rxBytes = peer?.rxBytes ?? null;
      this.state.txBytes = peer?.txBytes ?? null;
    }
  }

  private async sendTelemetry(): Promise<void> {
    await this.unary(
      'PushTelemetry',
      {
        ...this.deps.telemetry(),
        linkLatencyMs: this.state.latencyMs ?? 0,
        ...(this.state.handshakeAgeSeconds !== null ? { handshakeAgeSeconds: this.state.handshakeAgeSeconds } : {}),
      },
      5000,
    );
  }

  /** Delivers due outbox items in batches until none is left; an item is removed only once acknowledged. */
  async pump(): Promise<number> {
    if (this.pumping || !this.state.connected) return 0;
    this.pumping = true;
    let sent = 0;
    try {
      do {
        this.pumpAgain = false;
        try {
          sent += await this.delivery.drain();
        } catch (err) {
          if (!(err instanceof LinkFailure)) throw err;
          this.down(err.cause);
          return sent;
        }
      } while (this.pumpAgain && this.state.connected);
    } finally {
      this.pumping = false;
    }
    return sent;
  }

  private openControl(): void {
    const call = (this.client as EdgeLinkClient).Control(this.md) as unknown as grpc.ClientDuplexStream<
      unknown,
      VmRequest__Output
    >;
    this.control = call;
    call.write({ open: { edgeId: this.settings?.edgeId } });
    call.on('data', (req: VmRequest__Output) => {
      if (req.cancel) this.cancelled.add(req.requestId);
      else if (req.clip) void this.sendClip(req.requestId, req.clip);
    });
    call.on('error', (err) => {
      if (this.control === call) this.down(err);
    });
    call.on('end', () => {
      if (this.control === call) this.down(new Error('the VM closed the control stream'));
    });
  }

  private refuse(requestId: string, code: string, message: string, totalSize = 0): void {
    this.control?.write({ failed: { requestId, code, message, totalSize } });
  }

  /** Streams a clip (or the asked byte range) on its own SendClip call, at the pace the VM's client reads. */
  private async sendClip(requestId: string, req: { eventId: string; start: number; end?: number }): Promise<void> {
    let path: string;
    try {
      path = await this.deps.clipFile(req.eventId);
    } catch (err) {
      const code = (err as { code?: string }).code === 'NOT_FOUND' ? 'NOT_FOUND' : 'UNAVAILABLE';
      return this.refuse(requestId, code, (err as Error).message);
    }
    const size = statSync(path).size;
    const end = Math.min(req.end ?? size - 1, size - 1);
    if (req.start >= size || req.start > end)
      return this.refuse(requestId, 'RANGE', `the clip has ${size} bytes`, size);
    const call = (this.client as EdgeLinkClient).SendClip(this.md, (err) => {
      if (err && err.code !== grpc.status.CANCELLED)
        this.deps.log.warn({ error: err.message, event: req.eventId }, 'clip transfer failed');
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
        this.deps.log.warn({ error: (err as Error).message, event: req.eventId }, 'clip transfer stopped');
    } finally {
      this.cancelled.delete(requestId);
      this.transfers.delete(call);
    }
  }
}
