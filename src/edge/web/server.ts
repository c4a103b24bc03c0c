// The edge HTTP API (express 5): everything the UI needs, behind login; files are found by id, never by path.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

import express from 'express';
import { ulid } from 'ulidx';
import yazl from 'yazl';
import { z } from 'zod';
import type { Config } from '../../shared/config.ts';
import { configJsonSchema, validateConfig } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError, ValidationError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { projectRoot } from '../../shared/paths.ts';
import type { CameraRegistry } from '../cameras/registry.ts';
import { parseCameraUrl } from '../cameras/url.ts';
import type { OfferedCamera } from '../discovery/hotplug.ts';
import { discoverAll } from '../discovery/index.ts';
import type { FrameDetections } from '../events/generator.ts';
import type { EventStore } from '../events/store.ts';
import type { LinkState } from '../link/client.ts';
import type { MediaProcess } from '../media/process.ts';
import type { ConfigureReport } from '../media/protocol.ts';
import type { Telemetry } from '../telemetry.ts';
import { Api, sendError } from './api.ts';
import { type Auth, CSRF_COOKIE, SESSION_COOKIE } from './auth.ts';

export interface EdgeContext {
  version: string;
  config: Config;
  dataDir: string;
  db: Db;
  registry: CameraRegistry;
  events: EventStore;
  auth: Auth;
  media: MediaProcess;
  telemetry: Telemetry;
  log: Logger;
  /** Validates, saves and applies a new configuration. */
  saveConfig(next: Config): Promise<ConfigureReport | { live: []; restartedCameras: []; pending: string }>;
  /** Path of an event's clip, making it from the recordings if needed. */
  eventClip(eventId: string): Promise<string>;
  linkState(): LinkState;
  /** Pairs with the owner's server using a code from `guardian keys pair`, then reconnects. */
  pairLink(code: string, name?: string): Promise<LinkState>;
  latestFrame(cameraId: string): FrameDetections | undefined;
  /** USB cameras plugged in that are not added yet. */
  offeredCameras(): OfferedCamera[];
}

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an id of letters, digits, _ and -');

/** A file the database names, resolved inside the data dir (a stored name can never point elsewhere). */
function dataFile(ctx: EdgeContext, rel: string | null): string {
  if (!rel) throw new GuardianError('NOT_FOUND', 'no such file');
  const p = normalize(join(ctx.dataDir, rel));
  if (!p.startsWith(`${normalize(ctx.dataDir)}/`)) throw new GuardianError('NOT_FOUND', 'no such file');
  return p;
}

/**
 * Sends a file the database names. `dotfiles: 'allow'` because the data dir itself may live under a dot-directory
 * (~/.cache/guardian); the path never comes from the request, so no dotfile can be asked for by name.
 */
function sendDataFile(
  res: express.Response,
  file: string,
  options: { download?: string; headers?: Record<string, string>; acceptRanges?: boolean } = {},
): Promise<void> {
  return new Promise((resolve) => {
    const done = (err?: unknown) => {
      if (err && !res.headersSent) {
        const status = (err as { status?: number }).status;
        sendError(res, status === 404 ? new GuardianError('NOT_FOUND', 'the file is gone') : err);
      }
      resolve();
    };
    const opts = { dotfiles: 'allow' as const, ...(options.headers ? { headers: options.headers } : {}) };
    if (options.download) res.download(file, options.download, opts, done);
    else res.sendFile(file, { ...opts, acceptRanges: options.acceptRanges ?? true }, done);
  });
}

/**
 * Restarts a changed camera in the media process; a media process that is not running reads it when it starts. The
 * change is saved either way, so a failure is logged (and the camera's health shows it) rather than failing the call.
 */
async function reloadCamera(ctx: EdgeContext, cameraId: string): Promise<void> {
  if (!ctx.media.ready) return;
  await ctx.media
    .request('reloadCamera', { cameraId })
    .catch((err) => ctx.log.error({ camera: cameraId, err }, 'the media process could not restart the camera'));
}

export function createEdgeServer(ctx: EdgeContext): { app: express.Express; server: Server; api: Api } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(express.json({ limit: '1mb' }));
  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });
  const api = new Api(app, ctx.auth.middleware());
  const param = (v: unknown) => {
    const r = id.safeParse(v);
    if (!r.success) throw new ValidationError([{ field: 'id', message: r.error.issues[0]?.message ?? 'invalid id' }]);
    return r.data;
  };

  // --- health and auth (no login needed)
  api.route('get', '/health', { summary: 'Liveness', tag: 'health', auth: false }, () => ({ status: 'ok' }));
  api.route(
    'get',
    '/health/ready',
    { summary: 'Readiness: the media process runs', tag: 'health', auth: false },
    ({ res }) => {
      const ready = ctx.media.ready;
      res.status(ready ? 200 : 503);
      return { ready, media: ready ? 'running' : 'starting' };
    },
  );
  api.route(
    'get',
    '/auth/state',
    { summary: 'Whether the admin password is set and this client is logged in', tag: 'auth', auth: false },
    ({ req }) => ({
      setupRequired: !ctx.auth.hasAdmin(),
      loggedIn: ctx.auth.identify(req) !== null,
    }),
  );
  const setCookies = (res: express.Response, session: string, csrf: string, expiresMs: number) => {
    const expires = new Date(expiresMs);
    res.cookie(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/', expires });
    res.cookie(CSRF_COOKIE, csrf, { httpOnly: false, sameSite: 'strict', path: '/', expires });
  };
  api.route(
    'post',
    '/auth/setup',
    {
      summary: 'First run: set the admin password',
      tag: 'auth',
      auth: false,
      body: z.object({ password: z.string() }),
    },
    async ({ req, res, body }) => {
      await ctx.auth.setup(body.password);
      const s = await ctx.auth.login('admin', body.password, req.socket.remoteAddress ?? '?');
      setCookies(res, s.session, s.csrf, s.expiresMs);
      return { user: 'admin', csrf: s.csrf };
    },
  );
  api.route(
    'post',
    '/auth/login',
    {
      summary: 'Log in; sets the session cookie',
      tag: 'auth',
      auth: false,
      body: z.object({ user: z.string().default('admin'), password: z.string() }),
    },
    async ({ req, res, body }) => {
      const s = await ctx.auth.login(body.user, body.password, req.socket.remoteAddress ?? '?');
      setCookies(res, s.session, s.csrf, s.expiresMs);
      return { user: body.user, csrf: s.csrf };
    },
  );
  api.route('post', '/auth/logout', { summary: 'Log out', tag: 'auth' }, ({ req, res }) => {
    const cookie = /guardian_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (cookie) ctx.auth.logout(decodeURIComponent(cookie));
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.clearCookie(CSRF_COOKIE, { path: '/' });
    return { ok: true };
  });
  api.route(
    'post',
    '/auth/tokens',
    {
      summary: 'Create an API token for scripts (shown once)',
      tag: 'auth',
      body: z.object({ name: z.string().regex(/^[\w .-]{1,40}$/) }),
    },
    ({ body }) => ({ token: ctx.auth.createApiToken(body.name) }),
  );

  api.route(
    'post',
    '/link/pair',
    {
      summary: "Pair with the owner's server (code from `guardian keys pair`) and connect",
      tag: 'status',
      body: z.object({
        code: z.string().min(10).max(4000),
        name: z
          .string()
          .regex(/^[\w .-]{1,40}$/)
          .optional(),
      }),
    },
    async ({ body }) => {
      try {
        return await ctx.pairLink(body.code, body.name);
      } catch (err) {
        throw new ValidationError([{ field: 'code', message: (err as Error).message }]);
      }
    },
  );

  // --- status, telemetry, metrics
  api.route('get', '/status', { summary: 'Detailed status of every component', tag: 'status' }, () => {
    const cams = ctx.registry.list();
    const runtime = ctx.media.cameras;
    return {
      version: ctx.version,
      uptimeSeconds: ctx.telemetry.snapshot().uptimeSeconds,
      media: { running: ctx.media.ready, pid: ctx.media.pid, restarts: ctx.media.restarts, backend: ctx.media.backend },
      cameras: cams.map((c) => ({ id: c.id, name: c.name, ...c.health, ...(runtime[c.id] ?? {}) })),
      camerasOnline: cams.filter((c) => runtime[c.id]?.status === 'online').length,
      eventsToday: ctx.events.list({ fromMs: new Date().setHours(0, 0, 0, 0), limit: 500 }).events.length,
      outboxLength: ctx.telemetry.snapshot().outboxLength,
      link: ctx.linkState(),
    };
  });
  api.route('get', '/telemetry', { summary: 'System and camera figures with an hour of history', tag: 'status' }, () =>
    ctx.telemetry.snapshot(),
  );
  api.route(
    'get',
    '/metrics',
    { summary: 'Prometheus metrics', tag: 'status', produces: 'text/plain' },
    async ({ res }) => {
      res.type(ctx.telemetry.registry.contentType).send(await ctx.telemetry.registry.metrics());
    },
  );

  // --- cameras
  api.route('get', '/cameras', { summary: 'Cameras with live status', tag: 'cameras' }, () =>
    ctx.registry.list().map((c) => ({ ...c, runtime: ctx.media.cameras[c.id] ?? null })),
  );
  api.route(
    'post',
    '/cameras',
    { summary: 'Add a camera (field errors in error.issues)', tag: 'cameras', body: z.record(z.string(), z.unknown()) },
    async ({ res, body }) => {
      const cam = ctx.registry.add(body);
      await reloadCamera(ctx, cam.id);
      res.status(201);
      return cam;
    },
  );
  api.route('get', '/cameras/offered', { summary: 'USB cameras plugged in and not added yet', tag: 'cameras' }, () =>
    ctx.offeredCameras(),
  );
  api.route('get', '/cameras/discover', { summary: 'ONVIF and USB discovery', tag: 'cameras' }, async () =>
    discoverAll({ timeoutMs: 2000, onvif: true, usb: true }),
  );
  api.route(
    'post',
    '/cameras/test',
    {
      summary: 'Test a connection and return a preview frame',
      tag: 'cameras',
      body: z.object({ url: z.string(), kind: z.enum(['rtsp', 'onvif', 'usb', 'file']).default('rtsp') }),
    },
    async ({ body }) => {
      const issues: { field: string; message: string }[] = [];
      if (!parseCameraUrl('url', body.url, body.kind, 'stream', issues)) throw new ValidationError(issues);
      const r = await ctx.media.request('testCamera', { url: body.url }, 20_000);
      return {
        info: r.info,
        preview: r.preview ? `data:image/jpeg;base64,${Buffer.from(r.preview).toString('base64')}` : null,
      };
    },
  );
  api.route('get', '/cameras/:id', { summary: 'One camera', tag: 'cameras' }, ({ req }) => {
    const c = ctx.registry.get(param(req.params.id));
    return { ...c, runtime: ctx.media.cameras[c.id] ?? null };
  });
  api.route(
    'put',
    '/cameras/:id',
    { summary: 'Change a camera (only it restarts)', tag: 'cameras', body: z.record(z.string(), z.unknown()) },
    async ({ req, body }) => {
      const cam = ctx.registry.update(param(req.params.id), body);
      await reloadCamera(ctx, cam.id);
      return cam;
    },
  );
  api.route(
    'delete',
    '/cameras/:id',
    { summary: 'Remove a camera (its recordings stay until retention)', tag: 'cameras' },
    async ({ req }) => {
      const cameraId = param(req.params.id);
      ctx.registry.remove(cameraId);
      await reloadCamera(ctx, cameraId);
      return { ok: true };
    },
  );
  api.route(
    'get',
    '/cameras/:id/latest.jpg',
    {
      summary: 'Latest frame',
      tag: 'cameras',
      produces: 'image/jpeg',
      query: z.object({ width: z.coerce.number().int().min(0).max(3840).default(0) }),
    },
    async ({ req, res, query }) => {
      const cameraId = param(req.params.id);
      ctx.registry.get(cameraId);
      const jpeg = await ctx.media.request('snapshot', { cameraId, width: query.width, quality: 80 });
      res.type('image/jpeg').setHeader('Cache-Control', 'no-store');
      res.end(Buffer.from(jpeg));
    },
  );
  api.route(
    'get',
    '/cameras/:id/live.mjpeg',
    {
      summary: 'Live MJPEG stream',
      tag: 'cameras',
      produces: 'multipart/x-mixed-replace',
      query: z.object({
        fps: z.coerce.number().min(0.5).max(10).default(4),
        width: z.coerce.number().int().min(0).max(1920).default(960),
      }),
    },
    async ({ req, res, query }) => {
      const cameraId = param(req.params.id);
      ctx.registry.get(cameraId);
      const boundary = 'guardianframe';
      res.writeHead(200, {
        'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`,
        'Cache-Control': 'no-store',
        Connection: 'close',
      });
      let open = true;
      req.on('close', () => {
        open = false;
      });
      while (open) {
        const t0 = Date.now();
        try {
          const jpeg = Buffer.from(
            await ctx.media.request('snapshot', { cameraId, width: query.width, quality: 70 }, 5000),
          );
          res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
          res.write(jpeg);
          res.write('\r\n');
        } catch {
          // camera reconnecting: keep the stream open and try again
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 / query.fps - (Date.now() - t0))));
      }
      res.end();
    },
  );
  // What the live view draws over the picture: the tracks of the last frame the model saw (null before the first).
  const latestDetections = z
    .object({
      cameraId: z.string(),
      frameIndex: z.number(),
      wallClockMs: z.number(),
      /** Measured here, so the UI can drop stale boxes without trusting the browser's clock. */
      ageMs: z.number(),
      width: z.number(),
      height: z.number(),
      detections: z.array(
        z.object({
          trackId: z.number(),
          label: z.string(),
          score: z.number(),
          box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
          confirmed: z.boolean(),
          stationary: z.boolean(),
          zones: z.array(z.string()),
        }),
      ),
    })
    .nullable();
  api.route(
    'get',
    '/cameras/:id/detections',
    { summary: 'Latest detections (boxes in pixels of a width×height frame), or null', tag: 'cameras' },
    ({ req, res }) => {
      const cameraId = param(req.params.id);
      ctx.registry.get(cameraId);
      const f = ctx.latestFrame(cameraId);
      res.setHeader('Cache-Control', 'no-store');
      return latestDetections.parse(f ? { ...f, ageMs: Math.max(0, Date.now() - f.wallClockMs) } : null);
    },
  );

  // --- events
  const eventQuery = z.object({
    camera: id.optional(),
    label: z
      .string()
      .regex(/^[a-z ]{1,30}$/)
      .optional(),
    from: z.coerce.number().int().min(0).optional(),
    to: z.coerce.number().int().min(0).optional(),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/)
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  });
  api.route(
    'get',
    '/events',
    { summary: 'Events, newest first, with cursor pagination', tag: 'events', query: eventQuery },
    ({ query }) => {
      try {
        return ctx.events.list({
          ...(query.camera ? { camera: query.camera } : {}),
          ...(query.label ? { label: query.label } : {}),
          ...(query.from !== undefined ? { fromMs: query.from } : {}),
          ...(query.to !== undefined ? { toMs: query.to } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          limit: query.limit,
        });
      } catch (err) {
        if (err instanceof SyntaxError)
          throw new ValidationError([{ field: 'query.cursor', message: 'not a cursor from this API' }]);
        throw err;
      }
    },
  );
  const eventById = (raw: unknown) => {
    const ev = ctx.events.get(param(raw));
    if (!ev) throw new GuardianError('NOT_FOUND', 'no such event');
    return ev;
  };
  api.route('get', '/events/:id', { summary: 'One event', tag: 'events' }, ({ req }) => eventById(req.params.id));
  for (const kind of ['snapshot', 'thumbnail'] as const) {
    api.route(
      'get',
      `/events/:id/${kind}.jpg`,
      { summary: `The event's ${kind}`, tag: 'events', produces: 'image/jpeg' },
      ({ req, res }) => {
        const ev = eventById(req.params.id);
        return sendDataFile(res, dataFile(ctx, ev[kind]), { headers: { 'Cache-Control': 'private, max-age=3600' } });
      },
    );
  }
  api.route(
    'get',
    '/events/:id/clip.mp4',
    {
      summary: 'The event clip (HTTP Range for seeking; ?download=1 to save)',
      tag: 'events',
      produces: 'video/mp4',
      query: z.object({ download: z.enum(['0', '1']).optional() }),
    },
    async ({ req, res, query }) => {
      const ev = eventById(req.params.id);
      const file = await ctx.eventClip(ev.id);
      const name = `${ev.cameraId}-${ev.label}-${new Date(ev.startMs).toISOString().replace(/[:.]/g, '-')}.mp4`;
      if (query.download === '1') return sendDataFile(res, file, { download: name });
      return sendDataFile(res, file, { headers: { 'Content-Type': 'video/mp4' } });
    },
  );
  api.route(
    'post',
    '/events/:id/protect',
    {
      summary: 'Keep (or stop keeping) an event beyond retention',
      tag: 'events',
      body: z.object({ protected: z.boolean() }),
    },
    ({ req, body }) => {
      const ev = eventById(req.params.id);
      return ctx.events.update(ev.id, { protected: body.protected }, 'event.update');
    },
  );

  // --- configuration
  api.route('get', '/config', { summary: 'The configuration', tag: 'config' }, () => ctx.config);
  api.route('get', '/config/schema', { summary: 'JSON Schema of the configuration', tag: 'config' }, () =>
    configJsonSchema(),
  );
  api.route(
    'put',
    '/config',
    {
      summary:
        'Replace the configuration (every invalid field listed); returns it with how it was applied (live, or by restarting the camera streams)',
      tag: 'config',
      body: z.record(z.string(), z.unknown()),
    },
    async ({ body }) => {
      const next = validateConfig({ ...body, dataDir: ctx.config.dataDir });
      const applied = await ctx.saveConfig(next);
      return { config: ctx.config, applied };
    },
  );

  // --- screenshots and datasets (for training the anomaly model)
  api.route(
    'post',
    '/cameras/:id/screenshots',
    {
      summary: 'Capture a screenshot for the dataset',
      tag: 'datasets',
      body: z.object({
        label: z
          .string()
          .regex(/^[a-z0-9_-]{1,32}$/)
          .default('unlabelled'),
      }),
    },
    async ({ req, res, body }) => {
      const cameraId = param(req.params.id);
      ctx.registry.get(cameraId);
      const jpeg = Buffer.from(await ctx.media.request('snapshot', { cameraId, width: 0, quality: 92 }));
      const sid = ulid();
      const rel = join('screenshots', cameraId, `${sid}.jpg`);
      mkdirSync(join(ctx.dataDir, 'screenshots', cameraId), { recursive: true });
      writeFileSync(join(ctx.dataDir, rel), jpeg);
      ctx.db
        .prepare('INSERT INTO screenshots (id, camera_id, file, label, taken_ms) VALUES (?, ?, ?, ?, ?)')
        .run(sid, cameraId, rel, body.label, Date.now());
      res.status(201);
      return { id: sid, cameraId, label: body.label };
    },
  );
  const screenshotRows = () =>
    ctx.db
      .prepare(
        'SELECT id, camera_id AS cameraId, file, label, taken_ms AS takenMs FROM screenshots ORDER BY taken_ms DESC',
      )
      .all() as {
      id: string;
      cameraId: string;
      file: string;
      label: string;
      takenMs: number;
    }[];
  api.route('get', '/screenshots', { summary: 'Dataset screenshots', tag: 'datasets' }, () =>
    screenshotRows().map(({ file, ...r }) => r),
  );
  api.route(
    'put',
    '/screenshots/:id',
    {
      summary: 'Label a screenshot (normal, abnormal or a custom label)',
      tag: 'datasets',
      body: z.object({ label: z.string().regex(/^[a-z0-9_-]{1,32}$/) }),
    },
    ({ req, body }) => {
      const r = ctx.db.prepare('UPDATE screenshots SET label = ? WHERE id = ?').run(body.label, param(req.params.id));
      if (!r.changes) throw new GuardianError('NOT_FOUND', 'no such screenshot');
      return { id: req.params.id, label: body.label };
    },
  );
  api.route(
    'get',
    '/screenshots/:id/image',
    { summary: 'A screenshot', tag: 'datasets', produces: 'image/jpeg' },
    ({ req, res }) => {
      const row = screenshotRows().find((r) => r.id === param(req.params.id));
      if (!row) throw new GuardianError('NOT_FOUND', 'no such screenshot');
      return sendDataFile(res, dataFile(ctx, row.file));
    },
  );
  api.route(
    'get',
    '/datasets/export.zip',
    {
      summary: 'The labelled dataset as a ZIP with manifest.json, ready for training',
      tag: 'datasets',
      produces: 'application/zip',
    },
    ({ res }) => {
      const rows = screenshotRows();
      const zip = new yazl.ZipFile();
      const manifest = { format: 'guardian-dataset/1', createdMs: Date.now(), items: [] as unknown[] };
      for (const r of rows) {
        const name = `images/${r.label}/${r.id}.jpg`;
        zip.addFile(dataFile(ctx, r.file), name);
        manifest.items.push({ file: name, label: r.label, cameraId: r.cameraId, takenMs: r.takenMs });
      }
      zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), 'manifest.json');
      zip.end();
      res.type('application/zip').attachment('guardian-dataset.zip');
      zip.outputStream.pipe(res);
    },
  );

  api.route('get', '/openapi.json', { summary: 'This document', tag: 'status' }, () => api.openapi(ctx.version));

  app.use('/api', (_req, res) => sendError(res, new GuardianError('NOT_FOUND', 'no such endpoint')));
  // The web UI (web/, built into dist/ui by npm run setup): static files, and index.html for client-side routes.
  const ui = join(projectRoot, 'dist', 'ui');
  if (existsSync(join(ui, 'index.html'))) {
    app.use(
      express.static(ui, {
        index: 'index.html',
        maxAge: '1h',
        setHeaders: (res, path) => path.endsWith('index.html') && res.setHeader('Cache-Control', 'no-cache'),
      }),
    );
    app.get(/^\/(?!api\/).*/, (_req, res) =>
      res.sendFile(join(ui, 'index.html'), { dotfiles: 'allow', headers: { 'Cache-Control': 'no-cache' } }),
    );
  } else {
    app.get('/', (_req, res) => {
      res
        .type('html')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Guardian</title><p>The web UI is not built: run <code>npm run setup</code>. The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>',
        );
    });
  }
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    // Body parser errors (malformed JSON...) and anything else thrown outside a route.
    const status = (err as { status?: number })?.status;
    if (status && status < 500) {
      const code = status === 404 ? 'NOT_FOUND' : status === 413 ? 'TOO_LARGE' : 'INVALID_ARGUMENT';
      return res.status(status).json({ error: { code, message: (err as Error).message } });
    }
    ctx.log.error({ err }, 'request failed');
    sendError(res, err);
  });
  const server = createServer(app);
  return { app, server, api };
}
