// Status, telemetry, Prometheus metrics and this API's OpenAPI document.
import { basename } from 'node:path';

import type { StatusView } from '../../../shared/api-types.ts';
import { databaseHealth } from '../../../shared/db-integrity.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';

export function registerStatusRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/status', { summary: 'Detailed status of every component', tag: 'status' }, (): StatusView => {
    const cams = ctx.registry.list();
    const runtime = ctx.media.cameras;
    return {
      version: ctx.version,
      uptimeSeconds: ctx.telemetry.snapshot().uptimeSeconds,
      media: { running: ctx.media.ready, pid: ctx.media.pid, restarts: ctx.media.restarts, backend: ctx.media.backend },
      cameras: cams.map((c) => ({ id: c.id, name: c.name, ...c.health, ...(runtime[c.id] ?? {}) })),
      camerasOnline: cams.filter((c) => runtime[c.id]?.status === 'online').length,
      // Counted, not listed: a list stops at its page size (it said 500 on a busy day of 1,000 events).
      eventsToday: ctx.events.count(new Date().setHours(0, 0, 0, 0)),
      outboxLength: ctx.telemetry.snapshot().outboxLength,
      link: ctx.linkState(),
      database: (({ ok, problems, salvage }) => ({
        ok,
        problems,
        // The owner sees the damaged copy's file name, not the data dir's layout.
        ...(salvage ? { salvage: { ...salvage, damagedCopy: basename(salvage.damagedCopy) } } : {}),
      }))(databaseHealth(ctx.db)),
      tlsFingerprint: ctx.tlsFingerprint ?? null,
      acme: ctx.acmeStatus?.() ?? null,
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

  api.route('get', '/openapi.json', { summary: 'This document', tag: 'status' }, () => api.openapi(ctx.version));
}
