// Cameras: list, add, change, remove, discovery, USB offers and connection tests.
import { z } from 'zod';
import type { CameraView } from '../../../shared/api-types.ts';
import { ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import { pinUrl } from '../../cameras/hosts.ts';
import type { SavedCamera } from '../../cameras/registry.ts';
import { cameraPolicy, checkCameraHosts, parseCameraUrl, withCredentials } from '../../cameras/url.ts';
import { discoverAll } from '../../discovery/index.ts';
import type { EdgeContext } from '../context.ts';
import { param, reloadCamera } from './common.ts';

/** The saved camera with what the owner should know (credentials dropped or sent over plain RTSP), also logged. */
function answer(ctx: EdgeContext, saved: SavedCamera) {
  for (const warning of saved.warnings) ctx.log.warn({ camera: saved.camera.id }, warning);
  return { ...saved.camera, warnings: saved.warnings };
}

export function registerCamerasRoutes(api: Api, ctx: EdgeContext): void {
  api.route('get', '/cameras', { summary: 'Cameras with live status', tag: 'cameras' }, (): CameraView[] =>
    ctx.registry.list().map((c) => ({ ...c, runtime: ctx.media.cameras[c.id] ?? null })),
  );
  api.route(
    'post',
    '/cameras',
    { summary: 'Add a camera (field errors in error.issues)', tag: 'cameras', body: z.record(z.string(), z.unknown()) },
    async ({ res, body }) => {
      const saved = await ctx.registry.addChecked(body, cameraPolicy(ctx.config));
      await reloadCamera(ctx, saved.camera.id);
      res.status(201);
      return answer(ctx, saved);
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
      const parsed = parseCameraUrl('url', body.url, body.kind, 'stream', issues, cameraPolicy(ctx.config));
      if (!parsed) throw new ValidationError(issues);
      let url = parsed.url;
      if (body.kind !== 'file' && body.kind !== 'usb') {
        const checked = await checkCameraHosts([{ field: 'url', url, purpose: 'stream' }]);
        if (checked.issues.length) throw new ValidationError(checked.issues);
        // The media core connects to the checked address, with the credentials given inline.
        url = withCredentials((await pinUrl(url, 'stream')).url, parsed.username, parsed.password);
      }
      const r = await ctx.media.request('testCamera', { url }, 20_000);
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
      const saved = await ctx.registry.updateChecked(param(req.params.id), body, cameraPolicy(ctx.config));
      await reloadCamera(ctx, saved.camera.id);
      return answer(ctx, saved);
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
