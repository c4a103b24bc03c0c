// The VM's HTTP API: the owner's token-protected view of events, edges and telemetry, the clip relay, the encrypted
// archive (served as stored: ciphertext, with Range), and the pairing endpoint edges call (with proof of the one-time
// code) before their tunnel exists.
import { pipeline } from 'node:stream/promises';

import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';

import { type ErrorCode, GuardianError, ValidationError } from '../shared/errors.ts';
import { Api, finalErrorHandler, sendError } from '../shared/http/api.ts';
import type { Logger } from '../shared/log.ts';
import { isWireGuardKey } from '../shared/wireguard/keys.ts';
import { ARCHIVE_KINDS, type ArchiveKind } from './archive/index.ts';
import type { ArchiveService } from './archive/service.ts';
import { ArchiveRangeError, type StoredObject } from './archive/store.ts';
import type { CachedEvent, VmCache } from './cache/cache.ts';
import { type LinkServer, RelayError } from './link-server.ts';
import { registerModelRoutes, type VmModels } from './models/routes.ts';
import { PairingError } from './pairing.ts';

export interface VmHttpContext {
  cache: VmCache;
  link: LinkServer;
  archive: ArchiveService;
  models: VmModels;
  /** Whether a bearer token is the owner's (the VM keeps only the token's hash). */
  apiTokenMatches(token: string): boolean;
  offlineAfterMs: number;
  version: string;
  log: Logger;
  /** Completes a pairing and configures the tunnel peer. */
  pair(req: z.infer<typeof pairBody>): Promise<{ edgeId: string }>;
  /** Per WireGuard peer (public key): handshake age and bytes, or an empty map without a tunnel. */
  tunnelStats(): Promise<Map<string, { lastHandshakeAgeSeconds: number | null; rxBytes: number; txBytes: number }>>;
  /** Issues a pairing code (the API twin of `guardian keys pair`). */
  issuePairing(name?: string): { code: string; edgeId: string; expiresAt: number };
}

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const pairBody = z.strictObject({
  pairingId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  name: z.string().max(64),
  publicKey: z
    .string()
    .refine(isWireGuardKey, 'expected a WireGuard public key: base64 of exactly 32 bytes (44 characters)')
    .nullable(),
  credentialHash: z.string().regex(/^[0-9a-f]{64}$/),
  mac: z.string().regex(/^[0-9a-f]{64}$/),
});
const eventQuery = z.strictObject({
  edge: id.optional(),
  camera: id.optional(),
  type: z.string().max(32).optional(),
  severity: z
    .enum(['critical', 'warning', 'normal', 'false_positive', 'info'])
    .optional()
    .describe("the edge's rating (info: not rated)"),
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** A single "bytes=a-b" or "bytes=a-" range; anything else (several ranges, suffixes) is served whole. */
export function parseRange(header: string | undefined): { start: number; end?: number } | null {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start) return null;
  return { start, ...(end !== undefined ? { end } : {}) };
}

/** Pairing failures as the API's error codes. */
const PAIRING_CODES: Record<PairingError['code'], ErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  EXPIRED: 'EXPIRED',
  USED: 'CONFLICT',
  CONFLICT: 'CONFLICT',
  BAD_PROOF: 'FORBIDDEN',
  BAD_KEY: 'INVALID_ARGUMENT',
  FULL: 'RESOURCE_EXHAUSTED',
};

/** Relay failures as the API's error codes. */
const RELAY_CODES: Record<string, ErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  RANGE: 'RANGE_NOT_SATISFIABLE',
  TIMEOUT: 'TIMEOUT',
};

export function createVmApp(ctx: VmHttpContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  const requireToken = (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!m || !ctx.apiTokenMatches(m[1] as string))
      return sendError(
        res,
        new GuardianError('UNAUTHORIZED', 'a valid API token is required (Authorization: Bearer <token>)'),
      );
    next();
  };
  const api = new Api(app, requireToken, {
    title: "Guardian owner's server (VM) API",
    securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
    security: [{ token: [] }],
  });
  const param = (v: unknown) => {
    const r = id.safeParse(v);
    if (!r.success) throw new ValidationError([{ field: 'id', message: r.error.issues[0]?.message ?? 'invalid id' }]);
    return r.data;
  };

  // Edges register here before their tunnel exists; the body proves possession of the one-time code.
  api.route(
    'post',
    '/pair',
    {
      summary: 'An edge completes its pairing (proof of the one-time code)',
      tag: 'pairing',
      auth: false,
      body: pairBody,
    },
    async ({ body }) => {
      try {
        return await ctx.pair(body);
      } catch (err) {
        if (!(err instanceof PairingError)) throw err;
        throw new GuardianError(PAIRING_CODES[err.code] ?? 'INVALID_ARGUMENT', err.message);
      }
    },
  );

  api.route('get', '/health', { summary: 'Edges known, healthy and connected', tag: 'status' }, () => {
    const edges = ctx.cache.health(ctx.offlineAfterMs);
    return {
      version: ctx.version,
      edges: edges.length,
      healthy: edges.filter((e) => e.status === 'healthy').length,
      connected: ctx.link.connectedEdges().length,
    };
  });

  api.route(
    'post',
    '/pairings',
    {
      summary: 'Issue a one-time pairing code for a new edge',
      tag: 'pairing',
      body: z.strictObject({ name: z.string().max(64).optional() }),
    },
    ({ res, body }) => {
      res.status(201);
      return ctx.issuePairing(body.name);
    },
  );

  // Each edge's archive usage per camera, against the quota: a warning from 80 %, level "full" when protected objects
  // alone fill it (unprotected uploads are then refused). Shown here; not yet sent down to the edge.
  api.route(
    'get',
    '/edges',
    { summary: 'Edges with health, cameras, tunnel figures and archive usage per camera', tag: 'edges' },
    async () => {
      const connected = new Set(ctx.link.connectedEdges());
      const tunnel = await ctx.tunnelStats();
      return {
        edges: ctx.cache.edges(ctx.offlineAfterMs).map((e) => ({
          ...e,
          connected: connected.has(e.edgeId),
          tunnel: (e.publicKey && tunnel.get(e.publicKey)) || null,
          archive: {
            quotaBytesPerCamera: ctx.archive.retention.quotaBytes,
            cameras: ctx.archive.retention.status(e.edgeId),
          },
        })),
      };
    },
  );

  api.route(
    'get',
    '/edges/:id/telemetry',
    {
      summary: "An edge's telemetry since a time (default: the last hour)",
      tag: 'edges',
      query: z.strictObject({ since: z.coerce.number().int().optional() }),
    },
    ({ req, query }) => {
      const edgeId = param(req.params.id);
      return { edgeId, samples: ctx.cache.telemetryHistory(edgeId, query.since ?? Date.now() - 3_600_000) };
    },
  );

  api.route(
    'get',
    '/events',
    { summary: 'Events of every edge, newest first, with filters', tag: 'events', query: eventQuery },
    ({ query: q }) => ({
      events: withArchiveState(
        ctx.cache.events({
          ...(q.edge ? { edgeId: q.edge } : {}),
          ...(q.camera ? { cameraId: q.camera } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.severity ? { severity: q.severity } : {}),
          ...(q.from !== undefined ? { fromMs: q.from } : {}),
          ...(q.to !== undefined ? { toMs: q.to } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      ),
    }),
  );

  /** Events as listed: each with which of its objects the archive holds. */
  const withArchiveState = (events: CachedEvent[]) => {
    const kinds = ctx.archive.index.archivedKinds(events.map((e) => e.eventId));
    return events.map((e) => ({ ...e, archived: kinds.get(e.eventId) }));
  };
  const eventById = (raw: unknown) => {
    const ev = ctx.cache.event(param(raw));
    if (!ev) throw new GuardianError('NOT_FOUND', 'no such event');
    return ev;
  };
  api.route(
    'get',
    '/events/:id',
    { summary: 'One event, with its archive state', tag: 'events' },
    ({ req }) => withArchiveState([eventById(req.params.id)])[0],
  );

  // An archived object exactly as the edge uploaded it: ciphertext (the VM holds no key), with HTTP Range so a player
  // that decrypts segment by segment fetches only the segments it needs. Served from the archive even after the
  // event has left the VM's cache or the edge's recordings are gone.
  api.route(
    'get',
    '/events/:id/archive/:kind',
    {
      summary: "An event's archived clip, snapshot or metadata: the encrypted object as stored (HTTP Range)",
      tag: 'events',
      produces: 'application/octet-stream',
    },
    async ({ req, res }) => {
      const eventId = param(req.params.id);
      const kind = req.params.kind as ArchiveKind;
      if (!ARCHIVE_KINDS.includes(kind))
        throw new ValidationError([{ field: 'kind', message: `must be one of ${ARCHIVE_KINDS.join(', ')}` }]);
      const o = ctx.archive.object(eventId, kind);
      if (!o) throw new GuardianError('NOT_FOUND', `the archive holds no ${kind} of this event`);
      const range = parseRange(req.get('range'));
      let got: StoredObject;
      try {
        got = await ctx.archive.store.get(o.bucket, o.key, range ?? undefined);
      } catch (err) {
        if (err instanceof ArchiveRangeError) res.set('Content-Range', `bytes */${err.totalSize}`);
        throw err;
      }
      const start = range?.start ?? 0;
      res.status(range ? 206 : 200);
      res.set({
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(got.size),
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'private, no-store',
        ETag: `"${o.sha256}"`,
        'Content-Disposition': `attachment; filename="${eventId}-${o.key.split('/').pop()}"`,
      });
      if (range) res.set('Content-Range', `bytes ${start}-${start + got.size - 1}/${got.totalSize}`);
      try {
        await pipeline(got.body, res);
      } catch (err) {
        ctx.log.warn({ event: eventId, kind, error: (err as Error).message }, 'archive download interrupted');
        res.destroy();
      }
    },
  );

  // The clip relay: the edge streams the clip (or the asked range) and the bytes go out as they arrive. The length
  // is announced up front, so a transfer cut short by the edge is a failed response, never a short "complete" file.
  api.route(
    'get',
    '/events/:id/clip',
    { summary: 'The event clip, relayed from its edge (HTTP Range)', tag: 'events', produces: 'video/mp4' },
    async ({ req, res }) => {
      const ev = eventById(req.params.id);
      const range = parseRange(req.get('range'));
      let clip: Awaited<ReturnType<LinkServer['requestClip']>>;
      try {
        clip = await ctx.link.requestClip(ev.edgeId, ev.eventId, range ?? { start: 0 });
      } catch (err) {
        if (!(err instanceof RelayError)) throw err;
        if (err.code === 'RANGE') res.set('Content-Range', `bytes */${err.totalSize ?? '*'}`);
        throw new GuardianError(RELAY_CODES[err.code] ?? 'UNAVAILABLE', err.message);
      }
      const { header } = clip;
      res.status(range ? 206 : 200);
      res.set({
        'Content-Type': header.contentType || 'video/mp4',
        'Content-Length': String(header.end - header.start + 1),
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'private, no-store',
      });
      if (range) res.set('Content-Range', `bytes ${header.start}-${header.end}/${header.totalSize}`);
      res.on('close', () => {
        if (!res.writableFinished) clip.cancel();
      });
      try {
        await pipeline(clip.body, res);
      } catch (err) {
        ctx.log.warn({ event: ev.eventId, error: (err as Error).message }, 'clip relay interrupted');
        res.destroy(); // the client sees the connection drop before Content-Length: a failed download
      }
    },
  );

  registerModelRoutes(api, ctx.models, param);

  api.route('get', '/openapi.json', { summary: 'This document', tag: 'status' }, () => api.openapi(ctx.version));

  app.use((_req: Request, res: Response) => sendError(res, new GuardianError('NOT_FOUND', 'no such route')));
  app.use(finalErrorHandler(ctx.log));
  return app;
}
