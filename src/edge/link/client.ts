// The edge's end of the link to the owner's VM, composed of its parts: the WireGuard tunnel from the pairing
// (tunnel.ts), the gRPC connection and its reconnect loop (connection.ts), the outbox delivery by kind (delivery.ts;
// an item leaves the outbox only when the VM acknowledges it), heartbeats and telemetry (telemetry.ts), and the clips
// the VM asks for on the control stream (clip-stream.ts); archived objects go up (archive-upload.ts) and come back
// (archive-fetch.ts). Nothing is lost while the link is down: the outbox is on disk.
import type { Readable } from 'node:stream';
import type { LinkState } from '../../shared/api-types.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { DatasetReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/DatasetReceipt.ts';
import type { HelloRequest } from '../../shared/link/generated/guardian/edge/v1/HelloRequest.ts';
import type { ModelReport } from '../../shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { VmRequest__Output } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import type { Logger } from '../../shared/log.ts';
import type { Outbox } from '../events/outbox.ts';
import type { ArchiveObjectInfo, ArchiveRange } from './archive-fetch.ts';
import type { ArchiveObjectHeader } from './archive-upload.ts';
import { ClipStreamer } from './clip-stream.ts';
import { LinkConnection } from './connection.ts';
import { type DeliveryHandler, eventDelivery, LinkFailure, OutboxDelivery } from './delivery.ts';
import type { DatasetUploadHeader } from './models-link.ts';
import { edgeKeyPath, type LinkSettings, readLinkSettings } from './pairing.ts';
import { type EdgeReport, LinkTelemetry } from './telemetry.ts';
import { EdgeTunnel } from './tunnel.ts';

export type { LinkState };

export interface LinkOptions {
  dataDir: string;
  interfaceName: string;
  heartbeatSeconds: number;
  telemetrySeconds: number;
  /** Between connection attempts: doubling from initialMs to maxMs, ±20 % jitter. */
  backoff: { initialMs: number; maxMs: number };
}

export interface LinkDeps {
  outbox: Outbox;
  log: Logger;
  hello(): Omit<HelloRequest, 'edgeId'>;
  telemetry(): EdgeReport;
  /** The file of an event's clip (made from the recordings if needed); rejects with code NOT_FOUND if unknown. */
  clipFile(eventId: string): Promise<string>;
  /** A model push or rollback from the VM (src/edge/anomaly/deploy.ts). */
  onModelRequest?(req: VmRequest__Output): void;
}

/** The parts of one pairing's link; a new pairing (reload) makes new ones. */
interface Parts {
  settings: LinkSettings;
  tunnel: EdgeTunnel | undefined;
  connection: LinkConnection;
  telemetry: LinkTelemetry;
  clips: ClipStreamer;
}

export class LinkClient {
  private parts: Parts | undefined;
  private timers: NodeJS.Timeout[] = [];
  private pumping = false;
  private pumpAgain = false;
  /** Reconnections of the links replaced by reload(). */
  private pastReconnects = 0;
  private readonly delivery: OutboxDelivery;

  constructor(
    private readonly options: LinkOptions,
    private readonly deps: LinkDeps,
  ) {
    this.delivery = new OutboxDelivery(deps.outbox, (kind) =>
      deps.log.warn({ kind }, 'the outbox holds a kind this edge cannot deliver; it waits'),
    );
    this.delivery.register(
      'event',
      eventDelivery((batch) => this.current().pushEvents(batch), deps.log),
    );
  }

  get state(): LinkState {
    const p = this.parts;
    return {
      configured: Boolean(p),
      connected: p?.connection.connected ?? false,
      lastError: p?.connection.lastError ?? null,
      edgeId: p?.settings.edgeId ?? null,
      vm: p?.settings.grpc ?? null,
      tunnel: Boolean(p?.tunnel),
      tunnelAddress: p?.settings.tunnel?.edgeAddress ?? null,
      latencyMs: p?.telemetry.latencyMs ?? null,
      handshakeAgeSeconds: p?.telemetry.tunnelStats.handshakeAgeSeconds ?? null,
      rxBytes: p?.telemetry.tunnelStats.rxBytes ?? null,
      txBytes: p?.telemetry.tunnelStats.txBytes ?? null,
      delivered: this.delivery.delivered,
      serverWarnings: p?.telemetry.serverWarnings ?? [],
      reconnects: this.pastReconnects + (p?.connection.reconnects ?? 0),
    };
  }

  /** Registers how another kind of outbox item (archive uploads, datasets...) reaches the VM. */
  registerDelivery(family: string, handler: DeliveryHandler): void {
    this.delivery.register(family, handler);
  }

  async start(): Promise<void> {
    const settings = readLinkSettings(this.options.dataDir);
    if (!settings) return; // not paired: the outbox waits on disk
    const { log } = this.deps;
    // The parts refer to each other (the tunnel's death takes the connection down; the connection hands requests to
    // the clip streamer, which answers through it): the callbacks run only once connection.start() has been called.
    let connection: LinkConnection | undefined;
    const tunnel = settings.tunnel
      ? new EdgeTunnel({
          peer: settings.tunnel,
          interfaceName: this.options.interfaceName,
          keyPath: edgeKeyPath(this.options.dataDir),
          log: log.child({ component: 'wireguard' }),
          onDown: (err) => connection?.down(err),
        })
      : undefined;
    connection = new LinkConnection(settings, {
      backoff: this.options.backoff,
      log,
      tunnel,
      hello: () => this.deps.hello(),
      onUp: () => {
        // Whatever waited for the link goes now, not after its own backoff.
        this.deps.outbox.retryNow();
        this.pumpSoon();
        void telemetry.send().catch(() => undefined);
      },
      onRequest: (req) => {
        if (req.model || req.rollback) this.deps.onModelRequest?.(req);
        else clips.handle(req);
      },
    });
    const telemetry = new LinkTelemetry(connection, () => this.deps.telemetry(), tunnel);
    const clips = new ClipStreamer(connection, (eventId) => this.deps.clipFile(eventId), log);
    this.parts = { settings, tunnel, connection, telemetry, clips };
    connection.start();
    this.every(this.options.heartbeatSeconds * 1000, () => telemetry.heartbeat());
    this.every(this.options.telemetrySeconds * 1000, () => telemetry.send());
    this.every(1000, () => this.kick()); // items whose backoff ended
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const p = this.parts;
    if (!p) return;
    p.clips.stop();
    p.connection.stop();
    await p.tunnel?.down();
  }

  /** After a new pairing: drop the old link (and tunnel) and start over with the new settings. */
  async reload(): Promise<void> {
    await this.stop();
    this.pastReconnects += this.parts?.connection.reconnects ?? 0;
    this.parts = undefined;
    await this.start();
  }

  /** Uploads one encrypted archive object to the VM (for the archive's outbox delivery, which runs connected). */
  uploadArchive(header: ArchiveObjectHeader, body: Readable): Promise<'STORED' | 'UNCHANGED'> {
    return this.current().uploadArchive(header, body);
  }

  /**
   * Ciphertext bytes [start, end] (inclusive) of one of this edge's archived objects, read back from the server.
   * UNAVAILABLE while the link is down; see archive-fetch.ts for the other codes.
   */
  async fetchArchive(eventId: string, kind: ArchiveObjectHeader['kind'], start: number, end: number): Promise<Buffer> {
    return (await this.fetchArchiveRange(eventId, kind, start, end)).data;
  }

  /** The same, with the object's size and SHA-256 as the server announced them with the bytes. */
  fetchArchiveRange(
    eventId: string,
    kind: ArchiveObjectHeader['kind'],
    start: number,
    end?: number,
  ): Promise<ArchiveRange> {
    return this.connected().fetchArchive({ eventId, kind, start, ...(end !== undefined ? { end } : {}) });
  }

  /** Size and SHA-256 of one of this edge's archived objects on the server (a header-only read). */
  async archiveSize(eventId: string, kind: ArchiveObjectHeader['kind']): Promise<ArchiveObjectInfo> {
    const { size, sha256 } = await this.connected().fetchArchive({ eventId, kind, start: 0, headerOnly: true });
    return { size, sha256 };
  }

  /** Uploads a dataset ZIP (for the dataset outbox delivery, which runs connected). */
  uploadDataset(header: DatasetUploadHeader, file: string): Promise<DatasetReceipt__Output> {
    return this.current().uploadDataset(header, file);
  }

  /** The file of a model the VM is deploying here. UNAVAILABLE while the link is down. */
  fetchModel(modelId: string, maxBytes: number): Promise<Buffer> {
    return this.connected().fetchModel(modelId, maxBytes);
  }

  /** Tells the VM about a model request's outcome; false when the link is down (the next hello tells it). */
  reportModel(report: ModelReport): boolean {
    return this.parts?.connection.connected ? this.parts.connection.reportModel(report) : false;
  }

  /** Something was queued: deliver now rather than at the next tick. */
  kick(): void {
    if (!this.parts?.connection.connected) return;
    if (this.pumping) this.pumpAgain = true;
    else this.pumpSoon();
  }

  /** pump() from an event: a failure that is not the link's (the disk under the outbox) is logged, tried again later. */
  private pumpSoon(): void {
    this.pump().catch((err) => this.deps.log.warn({ err }, 'delivering the outbox failed; it is tried again'));
  }

  /** Delivers due outbox items in batches until none is left; an item is removed only once acknowledged. */
  async pump(): Promise<number> {
    const connection = this.parts?.connection;
    if (this.pumping || !connection?.connected) return 0;
    this.pumping = true;
    let sent = 0;
    try {
      do {
        this.pumpAgain = false;
        try {
          sent += await this.delivery.drain();
        } catch (err) {
          if (!(err instanceof LinkFailure)) throw err;
          connection.down(err.cause);
          return sent;
        }
      } while (this.pumpAgain && connection.connected);
    } finally {
      this.pumping = false;
    }
    return sent;
  }

  /** The current connection, for a delivery handler (which only runs from pump(), i.e. connected). */
  private current(): LinkConnection {
    const connection = this.parts?.connection;
    if (!connection) throw new Error('the link is not started');
    return connection;
  }

  /** The connection, for a call made on the owner's behalf (not from pump()): UNAVAILABLE when down. */
  private connected(): LinkConnection {
    const connection = this.parts?.connection;
    if (!connection) throw new GuardianError('UNAVAILABLE', 'this edge is not paired with a server');
    if (!connection.connected) throw new GuardianError('UNAVAILABLE', 'the link to the server is down');
    return connection;
  }

  /** Runs fn every ms while connected; its failures are the connection's to notice. */
  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (this.parts?.connection.connected) void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}
