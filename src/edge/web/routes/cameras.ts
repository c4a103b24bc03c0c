// Cameras: list, add, change, remove, discovery, USB offers and connection tests.
import { z } from 'zod';
import type { CameraView } from '../../../shared/api-types.ts';
import { ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import { parseCameraUrl } from '../../cameras/url.ts';
import { discoverAll } from '../../discovery/index.ts';
import type { EdgeContext } from '../context.ts';
import { param, reloadCamera } from './common.ts';

export function registerCamerasRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/cameras', { summary: 'Cameras with live status', tag: 'cameras' }, (): CameraView[] =>
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
  api.route('get', '/cameras/:id', { summary: 'One camera', tag: 'cameras' }, ({ req }): CameraView => {
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
}
