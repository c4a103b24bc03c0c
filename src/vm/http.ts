// The VM's HTTP API: the owner's token-protected view of events, edges and telemetry, the clip relay, and the
// pairing endpoint edges call (with proof of the one-time code) before their tunnel exists.
import { timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream/promises';

import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';

import type { Logger } from '../shared/log.ts';
import type { VmCache } from './cache/cache.ts';
import { type LinkServer, RelayError } from './link-server.ts';
import { PairingError } from './pairing.ts';

export interface VmHttpContext {
  cache: VmCache;
  link: LinkServer;
  apiToken: string;
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
  publicKey: z.string().length(44).nullable(),
  credentialHash: z.string().regex(/^[0-9a-f]{64}$/),
  mac: z.string().regex(/^[0-9a-f]{64}$/),
});
const eventQuery = z.strictObject({
  edge: id.optional(),
  camera: id.optional(),
  type: z.string().max(32).optional(),
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

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createVmApp(ctx: VmHttpContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  const fail = (res: Response, status: number, code: string, message: string, extra: object = {}) =>
    res.status(status).json({ error: { code, message, ...extra } });

  const parse = <S extends z.ZodType>(schema: S, value: unknown, res: Response): z.infer<S> | undefined => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    fail(res, 400, 'INVALID', 'invalid request', {
      issues: r.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', message: i.message })),
    });
    return undefined;
  };

  // Edges register here before their tunnel exists; the body proves possession of the one-time code.
  app.post('/api/pair', async (req, res) => {
    const body = parse(pairBody, req.body, res);
    if (!body) return;
    try {
      res.json(await ctx.pair(body));
    } catch (err) {
      if (!(err instanceof PairingError)) throw err;
      const status = { NOT_FOUND: 404, EXPIRED: 410, USED: 409, CONFLICT: 409, BAD_PROOF: 403, FULL: 507 }[err.code];
      fail(res, status, err.code, err.message);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  // Everything else is the owner's.
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!m || !tokenMatches(m[1] as string, ctx.apiToken)) {
      fail(res, 401, 'UNAUTHENTICATED', 'a valid API token is required (Authorization: Bearer <token>)');
      return;
    }
    next();
  });

  app.get('/api/health', (_req, res) => {
    const edges = ctx.cache.health(ctx.offlineAfterMs);
    res.json({
      version: ctx.version,
      edges: edges.length,
      healthy: edges.filter((e) => e.status === 'healthy').length,
      connected: ctx.link.connectedEdges().length,
    });
  });

  app.post('/api/pairings', (req, res) => {
    const body = parse(z.strictObject({ name: z.string().max(64).optional() }), req.body ?? {}, res);
    if (!body) return;
    res.status(201).json(ctx.issuePairing(body.name));
  });

  app.get('/api/edges', async (_req, res) => {
    const connected = new Set(ctx.link.connectedEdges());
    const tunnel = await ctx.tunnelStats();
    res.json({
      edges: ctx.cache.edges(ctx.offlineAfterMs).map((e) => ({
        ...e,
        connected: connected.has(e.edgeId),
        tunnel: (e.publicKey && tunnel.get(e.publicKey)) || null,
      })),
    });
  });

  app.get('/api/edges/:id/telemetry', (req, res) => {
    const edgeId = parse(id, req.params.id, res);
    const since = parse(
      z.coerce
        .number()
        .int()
        .default(Date.now() - 3_600_000),
      req.query.since,
      res,
    );
    if (!edgeId || since === undefined) return;
    res.json({ edgeId, samples: ctx.cache.telemetryHistory(edgeId, since) });
  });

  app.get('/api/events', (req, res) => {
    const q = parse(eventQuery, req.query, res);
    if (!q) return;
    res.json({
      events: ctx.cache.events({
        ...(q.edge ? { edgeId: q.edge } : {}),
        ...(q.camera ? { cameraId: q.camera } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.from !== undefined ? { fromMs: q.from } : {}),
        ...(q.to !== undefined ? { toMs: q.to } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
      }),
    });
  });

  app.get('/api/events/:id', (req, res) => {
    const eventId = parse(id, req.params.id, res);
    if (!eventId) return;
    const ev = ctx.cache.event(eventId);
    if (!ev) return void fail(res, 404, 'NOT_FOUND', 'no such event');
    res.json(ev);
  });

  // The clip relay: the edge streams the clip (or the asked range) and the bytes go out as they arrive. The length
  // is announced up front, so a transfer cut short by the edge is a failed response, never a short "complete" file.
  app.get('/api/events/:id/clip', async (req, res) => {
    const eventId = parse(id, req.params.id, res);
    if (!eventId) return;
    const ev = ctx.cache.event(eventId);
    if (!ev) return void fail(res, 404, 'NOT_FOUND', 'no such event');
    const range = parseRange(req.get('range'));
    let clip: Awaited<ReturnType<LinkServer['requestClip']>>;
    try {
      clip = await ctx.link.requestClip(ev.edgeId, eventId, range ?? { start: 0 });
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      if (err.code === 'NOT_FOUND') return void fail(res, 404, 'NOT_FOUND', err.message);
      if (err.code === 'RANGE') {
        res.set('Content-Range', `bytes */${err.totalSize ?? '*'}`);
        return void fail(res, 416, 'RANGE', err.message);
      }
      if (err.code === 'TIMEOUT') return void fail(res, 504, 'TIMEOUT', err.message);
      return void fail(res, 503, 'EDGE_UNAVAILABLE', err.message);
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
      ctx.log.warn({ event: eventId, error: (err as Error).message }, 'clip relay interrupted');
      res.destroy(); // the client sees the connection drop before Content-Length: a failed download
    }
  });

  app.use((_req: Request, res: Response) => fail(res, 404, 'NOT_FOUND', 'no such route'));
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed') return void fail(res, 400, 'INVALID', 'the body is not valid JSON');
    if (err.status === 413) return void fail(res, 413, 'TOO_LARGE', 'the body is too large');
    ctx.log.error({ err }, 'VM API request failed');
    if (!res.headersSent) fail(res, 500, 'INTERNAL', 'internal error');
    else res.destroy();
  });
  return app;
}
