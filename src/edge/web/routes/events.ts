// Events: list with cursor pagination, one event, its snapshot, thumbnail and clip, and protection. A clip or snapshot
// gone from the box (recordings deleted, a failed disk) is answered from the owner's server's encrypted copy, read
// back and decrypted on this edge (src/edge/archive/retrieval.ts); `X-Guardian-Source` says which copy was sent.
import { existsSync } from 'node:fs';

import { z } from 'zod';
import type { EventView } from '../../../shared/api-types.ts';
import { GuardianError } from '../../../shared/errors.ts';
import { servableFile } from '../../../shared/fs-perms.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';
import { dataFile, id, param, sendDataFile } from './common.ts';

export function registerEventsRoutes(api: Api, ctx: EdgeContext): void {
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
      const page = ctx.events.list({
        ...(query.camera ? { camera: query.camera } : {}),
        ...(query.label ? { label: query.label } : {}),
        ...(query.from !== undefined ? { fromMs: query.from } : {}),
        ...(query.to !== undefined ? { toMs: query.to } : {}),
        ...(query.cursor ? { cursor: query.cursor } : {}),
        limit: query.limit,
      });
      const archive = ctx.archiveStates(page.events.map((e) => e.id));
      const events: EventView[] = page.events.map((e) => ({ ...e, archive: archive.get(e.id) ?? {} }));
      return { ...page, events };
    },
  );
  const eventById = (raw: unknown) => {
    const ev = ctx.events.get(param(raw));
    if (!ev) throw new GuardianError('NOT_FOUND', 'no such event');
    return ev;
  };
  api.route(
    'get',
    '/events/:id',
    { summary: 'One event, with its archive state', tag: 'events' },
    ({ req }): EventView => {
      const ev = eventById(req.params.id);
      return { ...ev, archive: ctx.archiveStates([ev.id]).get(ev.id) ?? {} };
    },
  );
  const local = { 'X-Guardian-Source': 'local' };
  for (const kind of ['snapshot', 'thumbnail'] as const) {
    api.route(
      'get',
      `/events/:id/${kind}.jpg`,
      {
        summary:
          kind === 'snapshot'
            ? "The event's snapshot (from the archive if the box's copy is gone)"
            : "The event's thumbnail",
        tag: 'events',
        produces: 'image/jpeg',
      },
      ({ req, res }) => {
        const ev = eventById(req.params.id);
        const cacheControl = 'private, max-age=3600';
        // A lost snapshot comes from the archive (which holds no thumbnail: a lost one stays a 404).
        const file = ev[kind] ? dataFile(ctx, ev[kind]) : null;
        if (kind === 'snapshot' && (!file || !existsSync(file)) && ctx.archive.has(ev.id, 'snapshot'))
          return ctx.archive.send(req, res, ev.id, 'snapshot', { contentType: 'image/jpeg', cacheControl });
        // Only a regular file inside the data dir: never what a symbolic link placed there points to.
        const served = servableFile(ctx.dataDir, dataFile(ctx, ev[kind]), ctx.log);
        return sendDataFile(res, served, { headers: { 'Cache-Control': cacheControl, ...local } });
      },
    );
  }
  api.route(
    'get',
    '/events/:id/clip.mp4',
    {
      summary:
        'The event clip (HTTP Range for seeking; ?download=1 to save); from the archive if the recordings are gone',
      tag: 'events',
      produces: 'video/mp4',
      query: z.object({ download: z.enum(['0', '1']).optional() }),
    },
    async ({ req, res, query }) => {
      const ev = eventById(req.params.id);
      const name = `${ev.cameraId}-${ev.label}-${new Date(ev.startMs).toISOString().replace(/[:.]/g, '-')}.mp4`;
      let file: string;
      try {
        file = await ctx.eventClip(ev.id);
      } catch (err) {
        // The clip cannot be made here (its recordings are gone): the server's copy, if it has one.
        if (!ctx.archive.has(ev.id, 'clip')) throw err;
        ctx.log.info(
          { event: ev.id, reason: (err as Error).message },
          'the clip cannot be cut on the box; serving the archived copy',
        );
        return ctx.archive.send(req, res, ev.id, 'clip', {
          contentType: 'video/mp4',
          ...(query.download === '1' ? { download: name } : {}),
        });
      }
      file = servableFile(ctx.dataDir, file, ctx.log);
      if (query.download === '1') return sendDataFile(res, file, { download: name, headers: local });
      return sendDataFile(res, file, { headers: { 'Content-Type': 'video/mp4', ...local } });
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
      return ctx.protectEvent(ev.id, body.protected);
    },
  );
  api.route(
    'post',
    '/events/:id/verdict',
    {
      summary:
        "The owner's verdict: a real event (confirmed) or a false positive (3 of one kind in one place raise the score it needs to alert there; see /alerts/suppressions); null clears it",
      tag: 'events',
      body: z.strictObject({ verdict: z.enum(['confirmed', 'false_positive']).nullable() }),
    },
    ({ req, body }) => ctx.alerts.verdict(eventById(req.params.id).id, body.verdict),
  );
}
