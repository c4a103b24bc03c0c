// The VM's end of the link: a gRPC server the edges dial through their tunnels. Every call is authenticated by the
// edge's own credential and, when required, by coming from that edge's tunnel address. Events are stored before
// they are acknowledged; clips are asked for on the edge's Control stream and arrive on a SendClip stream each;
// encrypted archive objects arrive on an Archive stream each and are acknowledged once durably stored, and an edge
// reads its own objects back (ciphertext ranges) on a FetchArchive stream each (both handled in archive/rpc.ts, once
// the call is authenticated here).
import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';

import type { Db } from '../shared/db.ts';
import type { ClipChunk__Output } from '../shared/link/generated/guardian/edge/v1/ClipChunk.ts';
import type { ClipHeader__Output } from '../shared/link/generated/guardian/edge/v1/ClipHeader.ts';
import type { EdgeMessage__Output } from '../shared/link/generated/guardian/edge/v1/EdgeMessage.ts';
import type { EventAck } from '../shared/link/generated/guardian/edge/v1/EventAck.ts';
import type { VmRequest } from '../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import {
  type EdgeLinkHandlers,
  type EventJson,
  fromWireEvent,
  hashMatches,
  linkPackage,
  maxMessageBytes,
  parseCredential,
} from '../shared/link/proto.ts';
import type { Logger } from '../shared/log.ts';
import { handleArchiveUpload, handleFetchArchive } from './archive/rpc.ts';
import type { ArchiveService } from './archive/service.ts';
import type { VmCache } from './cache/cache.ts';
import type { VmDatasets } from './models/datasets.ts';
import type { ModelDeployments } from './models/deploy.ts';
import { handleFetchModel, handleUploadDataset } from './models/rpc.ts';
import { edgeCredentialHash } from './pairing.ts';

/** What the edge says of a clip before its bytes: total size, the range sent (end inclusive), content type. */
type ClipHeader = ClipHeader__Output;

export class RelayError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'RANGE' | 'UNAVAILABLE' | 'TIMEOUT' | string,
    message: string,
    readonly totalSize?: number,
  ) {
    super(message);
  }
}

interface PendingClip {
  edgeId: string;
  resolve(v: { header: ClipHeader; body: Readable }): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  body?: PassThrough;
  header?: ClipHeader;
  /** Ends the edge's SendClip call: with a status to refuse or cut it, null when complete. */
  finish?: (err: ClipStatus | null) => void;
}

/** How a SendClip call is ended early (sendUnaryData takes a partial status). */
type ClipStatus = Partial<grpc.StatusObject>;

const ulidPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** "10.77.0.2:41234", "[::ffff:10.77.0.2]:41234" → "10.77.0.2". */
function peerIp(peer: string): string {
  const host = peer
    .replace(/^ipv[46]:/, '')
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
  return host.replace(/^::ffff:/, '');
}

export class LinkServer {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // Edges ping to keep NAT and the tunnel warm; let them.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
  });
  private readonly controls = new Map<string, grpc.ServerDuplexStream<EdgeMessage__Output, VmRequest>>();
  private readonly pending = new Map<string, PendingClip>();

  constructor(
    private readonly db: Db,
    private readonly cache: VmCache,
    private readonly options: {
      requireTunnel: boolean;
      version: string;
      heartbeatSeconds: number;
      log: Logger;
      /** Where Archive uploads go (absent: the call is UNIMPLEMENTED). */
      archive?: ArchiveService;
      /** An Archive call silent this long is aborted (its partial upload discarded). */
      archiveIdleMs?: number;
      /** Datasets sent for training, and model rollout (absent: those calls are UNIMPLEMENTED / NOT_FOUND). */
      datasets?: VmDatasets;
      deployments?: ModelDeployments;
    },
  ) {
    this.server.addService(linkPackage().EdgeLink.service, this.handlers());
  }

  async listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  }

  /** Writes a request on an edge's control stream; false when it is not connected. */
  sendControl(edgeId: string, req: VmRequest): boolean {
    const control = this.controls.get(edgeId);
    if (!control) return false;
    control.write(req);
    return true;
  }

  connectedEdges(): string[] {
    return [...this.controls.keys()];
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.body?.destroy(new Error('the VM is stopping'));
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Asks an edge for an event's clip (or a byte range of it); resolves once the edge has sent the header. */
  requestClip(
    edgeId: string,
    eventId: string,
    range: { start: number; end?: number },
    timeoutMs = 45_000,
  ): Promise<{ header: ClipHeader; body: Readable; cancel(): void }> {
    const control = this.controls.get(edgeId);
    if (!control) return Promise.reject(new RelayError('UNAVAILABLE', `edge ${edgeId} is not connected`));
    const requestId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new RelayError('TIMEOUT', `edge ${edgeId} did not answer in time`));
      }, timeoutMs);
      this.pending.set(requestId, {
        edgeId,
        timer,
        reject,
        resolve: ({ header, body }) =>
          resolve({ header, body, cancel: () => this.cancel(requestId, 'client went away') }),
      });
      control.write({
        requestId,
        clip: { eventId, start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) },
      });
    });
  }

  private cancel(requestId: string, why: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    this.controls.get(p.edgeId)?.write({ requestId, cancel: {} });
    p.finish?.({ code: grpc.status.CANCELLED, details: why });
  }

  /** The edge id behind a call, or the status to refuse it with. */
  private authenticate(call: { metadata: grpc.Metadata; getPeer(): string }): string | grpc.StatusObject {
    const refuse = (code: grpc.status, details: string) => ({ code, details, metadata: new grpc.Metadata() });
    const cred = parseCredential(String(call.metadata.get('authorization')[0] ?? ''));
    if (!cred) return refuse(grpc.status.UNAUTHENTICATED, 'missing or malformed edge credential');
    const edge = edgeCredentialHash(this.db, cred.edgeId);
    if (!edge?.hash || !hashMatches(cred.secret, edge.hash))
      return refuse(grpc.status.UNAUTHENTICATED, 'unknown edge or wrong credential');
    if (this.options.requireTunnel) {
      const ip = peerIp(call.getPeer());
      if (!edge.tunnelAddress || ip !== edge.tunnelAddress.split('/')[0]) {
        this.options.log.warn({ edge: cred.edgeId, peer: ip }, 'refused a link connection from outside its tunnel');
        return refuse(grpc.status.PERMISSION_DENIED, "connections must come through the edge's WireGuard tunnel");
      }
    }
    return cred.edgeId;
  }

  private handlers(): EdgeLinkHandlers {
    const { log } = this.options;
    const unary =
      <Req, Res>(fn: (edgeId: string, req: Req) => Res) =>
      (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return callback(who);
        try {
          callback(null, fn(who, call.request));
        } catch (err) {
          log.error({ err, edge: who, method: call.getPath() }, 'link call failed');
          callback({ code: grpc.status.INTERNAL, details: 'the VM could not handle the request' });
        }
      };

    return {
      Hello: unary((edgeId, req) => {
        this.cache.upsertEdge(edgeId, {
          version: req.version,
          cameras: req.cameras.map((c) => ({ id: c.id, name: c.name, kind: c.kind, status: c.status })),
        });
        if (req.models.length) this.options.deployments?.report(edgeId, { requestId: '', cameras: req.models });
        log.info({ edge: edgeId, version: req.version, cameras: req.cameras.length }, 'edge said hello');
        return {
          vmVersion: this.options.version,
          serverTimeMs: Date.now(),
          heartbeatSeconds: this.options.heartbeatSeconds,
        };
      }),

      PushEvents: unary((edgeId, req) => {
        const acks: EventAck[] = [];
        const valid: { deliveryId: number; event: EventJson }[] = [];
        for (const env of req.events) {
          const e = env.event;
          if (!e || !ulidPattern.test(e.id) || !e.cameraId || !e.label || !e.startMs || !e.updatedMs)
            acks.push({
              deliveryId: env.deliveryId,
              eventId: e?.id ?? '',
              status: 'REJECTED',
              error: 'malformed event',
            });
          else valid.push({ deliveryId: env.deliveryId, event: fromWireEvent(e) });
        }
        const { results } = this.cache.ingest(
          edgeId,
          valid.map((v) => v.event),
        );
        valid.forEach((v, i) =>
          acks.push({
            deliveryId: v.deliveryId,
            eventId: v.event.id,
            status: results[i] === 'unchanged' ? 'UNCHANGED' : 'STORED',
          }),
        );
        return { acks };
      }),

      PushTelemetry: unary((edgeId, req) => {
        const health = this.cache.telemetry(edgeId, {
          timeMs: req.timeMs,
          cpuPercent: req.cpuPercent,
          memoryPercent: req.memoryPercent,
          diskPercent: req.diskPercent,
          outboxLength: req.outboxLength,
          uptimeSeconds: req.uptimeSeconds,
          linkLatencyMs: req.linkLatencyMs,
          handshakeAgeSeconds: req.handshakeAgeSeconds ?? null,
          cameras: Object.fromEntries(
            req.cameras.map((c) => [c.id, { status: c.status, fps: c.fps, lastError: c.lastError || null }]),
          ),
        });
        // Archive quota warnings (80 %, or full of protected objects) go down to the edge's health and UI.
        const warnings = (this.options.archive?.retention.status(edgeId) ?? []).flatMap((c) =>
          c.warning ? [`camera ${c.cameraId}: ${c.warning}`] : [],
        );
        return { status: health.status, reasons: health.reasons, warnings };
      }),

      Ping: unary((edgeId, req) => {
        this.cache.touch(edgeId);
        return { sentMs: req.sentMs, serverTimeMs: Date.now() };
      }),

      Control: (call) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return call.emit('error', who);
        // A newer control stream from the same edge replaces the old one (e.g. after a tunnel flap).
        this.controls.get(who)?.end();
        this.controls.set(who, call);
        this.cache.touch(who);
        log.info({ edge: who }, 'edge control stream open');
        // Deployments asked while the edge was away (or never answered) go now.
        setImmediate(() => this.options.deployments?.push(who));
        call.on('data', (m: EdgeMessage__Output) => {
          if (m.model) this.options.deployments?.report(who, m.model);
          if (m.failed) {
            const p = this.pending.get(m.failed.requestId);
            if (p && p.edgeId === who && !p.body) {
              this.pending.delete(m.failed.requestId);
              clearTimeout(p.timer);
              p.reject(new RelayError(m.failed.code, m.failed.message, m.failed.totalSize));
            }
          }
        });
        const closed = () => {
          if (this.controls.get(who) !== call) return;
          this.controls.delete(who);
          log.info({ edge: who }, 'edge control stream closed');
          for (const [id, p] of this.pending)
            if (p.edgeId === who && !p.body) {
              this.pending.delete(id);
              clearTimeout(p.timer);
              p.reject(new RelayError('UNAVAILABLE', `edge ${who} disconnected`));
            }
        };
        call.on('end', () => {
          closed();
          call.end();
        });
        call.on('cancelled', closed);
        call.on('error', closed);
      },

      SendClip: (call, callback) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return callback(who);
        let p: PendingClip | undefined;
        let requestId = '';
        let bytes = 0;
        let done = false;
        const finish = (err: ClipStatus | null) => {
          if (done) return;
          done = true;
          callback(err, err ? undefined : { bytes });
        };
        call.on('data', (chunk: ClipChunk__Output) => {
          if (!p) {
            requestId = chunk.requestId;
            p = this.pending.get(requestId);
            if (!p || p.edgeId !== who) {
              finish({ code: grpc.status.NOT_FOUND, details: 'no such clip request' });
              return;
            }
            p.finish = finish;
          }
          const pending = p;
          if (chunk.header && !pending.body) {
            clearTimeout(pending.timer);
            pending.header = chunk.header;
            pending.body = new PassThrough({ highWaterMark: 1024 * 1024 });
            // HTTP/2 flow control carries the client's pace back to the edge.
            pending.body.on('drain', () => call.resume());
            pending.resolve({ header: chunk.header, body: pending.body });
          } else if (chunk.data && pending.body) {
            if (pending.body.destroyed) return; // the client went away; the call is being cancelled
            bytes += chunk.data.length;
            if (!pending.body.write(chunk.data)) call.pause();
          } else if (chunk.end && pending.body) {
            this.pending.delete(requestId);
            const expected = (pending.header?.end ?? -1) - (pending.header?.start ?? 0) + 1;
            // Never present a short clip as complete.
            if (bytes === expected) pending.body.end();
            else pending.body.destroy(new RelayError('UNAVAILABLE', `the edge sent ${bytes} of ${expected} bytes`));
            finish(null);
          } else if (chunk.error) {
            this.pending.delete(requestId);
            clearTimeout(pending.timer);
            const err = new RelayError(chunk.error.code, chunk.error.message);
            if (pending.body) pending.body.destroy(err);
            else pending.reject(err);
            finish(null);
          }
        });
        const broken = () => {
          if (!p || done) return;
          this.pending.delete(requestId);
          clearTimeout(p.timer);
          const err = new RelayError('UNAVAILABLE', 'the edge stopped sending the clip');
          if (p.body) p.body.destroy(err);
          else p.reject(err);
        };
        call.on('error', broken);
        call.on('cancelled', broken);
        call.on('end', () => {
          // The stream ended without an end marker: the edge went away mid-clip.
          if (p && !done) {
            broken();
            finish({ code: grpc.status.ABORTED, details: 'clip ended early' });
          }
        });
      },

      Archive: (call, callback) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return callback(who);
        handleArchiveUpload(this.options.archive, who, call, callback, { log, idleMs: this.options.archiveIdleMs });
      },

      FetchArchive: (call) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return call.emit('error', who);
        handleFetchArchive(this.options.archive, who, call, { log });
      },

      UploadDataset: (call, callback) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return callback(who);
        handleUploadDataset(this.options.datasets, who, call, callback, log);
      },

      FetchModel: (call) => {
        const who = this.authenticate(call);
        if (typeof who !== 'string') return call.emit('error', who);
        handleFetchModel(this.options.deployments, who, call, log);
      },
    };
  }
}
