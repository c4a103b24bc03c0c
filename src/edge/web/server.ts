// The edge HTTP API (express 5): everything the UI needs, behind login; files are found by id, never by path. Each
// route group is a file in routes/ on the shared route registry, which validates input and writes the OpenAPI.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import express from 'express';

import { GuardianError } from '../../shared/errors.ts';
import { Api, finalErrorHandler, sendError } from '../../shared/http/api.ts';
import { HostAllowList, refuseCrossOriginWrites } from '../../shared/http/host-check.ts';
import { projectRoot } from '../../shared/paths.ts';
import type { AcmeChallenges } from './acme.ts';
import type { EdgeContext } from './context.ts';
import { createWebListener, type WebListener } from './listener.ts';
import { registerAlertsRoutes } from './routes/alerts.ts';
import { registerAnomalyRoutes } from './routes/anomaly.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { registerCamerasRoutes } from './routes/cameras.ts';
import { registerConfigRoutes } from './routes/config.ts';
import { registerDatasetsRoutes } from './routes/datasets.ts';
import { registerEventsRoutes } from './routes/events.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerLinkRoutes } from './routes/link.ts';
import { registerLiveRoutes } from './routes/live.ts';
import { registerStatusRoutes } from './routes/status.ts';

export type { EdgeContext } from './context.ts';

/** No inline script, nothing from elsewhere; images may be blob: (snapshots drawn by the UI) and data: (icons). */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export function createEdgeServer(
  ctx: EdgeContext,
  tls: { cert: string; key: string } | null = null,
  acme?: AcmeChallenges,
): { app: express.Express; listener: WebListener; api: Api } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // First of all: a Host the appliance is not known by (DNS rebinding) gets 421, before any route or file.
  const acmeDomain = ctx.config.http.tls.acme?.domain;
  const hosts = new HostAllowList([...ctx.config.http.allowedHosts, ...(acmeDomain ? [acmeDomain] : [])]);
  app.use(hosts.middleware());
  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (req.secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    next();
  });
  app.use(refuseCrossOriginWrites());
  app.use(express.json({ limit: '1mb' }));
  const api = new Api(app, ctx.auth.middleware(), {
    title: 'Guardian edge API',
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'guardian_session' },
      token: { type: 'http', scheme: 'bearer' },
    },
    security: [{ session: [] }, { token: [] }],
  });
  registerHealthRoutes(api, ctx);
  registerAuthRoutes(api, ctx);
  registerLinkRoutes(api, ctx);
  registerStatusRoutes(api, ctx);
  registerCamerasRoutes(api, ctx);
  registerAnomalyRoutes(api, ctx);
  registerLiveRoutes(api, ctx);
  registerEventsRoutes(api, ctx);
  registerConfigRoutes(api, ctx);
  registerDatasetsRoutes(api, ctx);
  registerAlertsRoutes(api, ctx);

  app.use('/api', (_req, res) => sendError(res, new GuardianError('NOT_FOUND', 'no such endpoint')));
  // The web UI (web/, built into dist/ui by npm run setup): static files, and index.html for client-side routes.
  const ui = join(projectRoot, 'dist', 'ui');
  if (existsSync(join(ui, 'index.html'))) {
    app.use(
      express.static(ui, {
        index: 'index.html',
        maxAge: '1h',
        // The page and the push service worker are checked every time (a new version must not wait an hour).
        setHeaders: (res, path) =>
          (path.endsWith('index.html') || path.endsWith('sw.js')) && res.setHeader('Cache-Control', 'no-cache'),
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
  app.use(finalErrorHandler(ctx.log));
  return { app, listener: createWebListener(app, tls, hosts, acme), api };
}
