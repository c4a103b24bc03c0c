// Live view: the latest frame, the MJPEG stream and the detections drawn over it.
import { z } from 'zod';
import type { LatestDetections } from '../../../shared/api-types.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';
import { param } from './common.ts';

export function registerLiveRoutes(api: Api, ctx: EdgeContext): void {
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
            await ctx.media.request('snapshot', { cameraId, width: query.width, quality: 70, live: true }, 5000),
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
      const view: LatestDetections | null = f ? { ...f, ageMs: Math.max(0, Date.now() - f.wallClockMs) } : null;
      return latestDetections.parse(view);
    },
  );
}
