// Events: list with cursor pagination, one event, its snapshot, thumbnail and clip, and protection.
import { z } from 'zod';
import { GuardianError, ValidationError } from '../../../shared/errors.ts';
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
      try {
        const page = ctx.events.list({
          ...(query.camera ? { camera: query.camera } : {}),
          ...(query.label ? { label: query.label } : {}),
          ...(query.from !== undefined ? { fromMs: query.from } : {}),
          ...(query.to !== undefined ? { toMs: query.to } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          limit: query.limit,
        });
        const archive = ctx.archiveStates(page.events.map((e) => e.id));
        return { ...page, events: page.events.map((e) => ({ ...e, archive: archive.get(e.id) ?? {} })) };
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
  api.route('get', '/events/:id', { summary: 'One event, with its archive state', tag: 'events' }, ({ req }) => {
    const ev = eventById(req.params.id);
    return { ...ev, archive: ctx.archiveStates([ev.id]).get(ev.id) ?? {} };
  });
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
      return ctx.protectEvent(ev.id, body.protected);
    },
  );
}
