// Dataset screenshots (for training the anomaly model) and their ZIP export.
import { z } from 'zod';
import { GuardianError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';
import { param, sendDataFile, servableDataFile } from './common.ts';

export function registerDatasetsRoutes(api: Api, ctx: EdgeContext): void {
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
      res.status(201);
      return ctx.datasets.add(cameraId, jpeg, body.label);
    },
  );
  api.route('get', '/screenshots', { summary: 'Dataset screenshots', tag: 'datasets' }, () =>
    ctx.datasets.list().map(({ file, ...r }) => r),
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
      const screenshotId = param(req.params.id);
      ctx.datasets.label(screenshotId, body.label);
      return { id: screenshotId, label: body.label };
    },
  );
  api.route(
    'get',
    '/screenshots/:id/image',
    { summary: 'A screenshot', tag: 'datasets', produces: 'image/jpeg' },
    ({ req, res }) => {
      const row = ctx.datasets.get(param(req.params.id));
      if (!row) throw new GuardianError('NOT_FOUND', 'no such screenshot');
      return sendDataFile(res, servableDataFile(ctx, row.file));
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
      res.type('application/zip').attachment('guardian-dataset.zip');
      ctx.datasets.exportZip((file) => servableDataFile(ctx, file)).pipe(res);
    },
  );
  api.route(
    'post',
    '/datasets/upload',
    {
      summary: "Send the labelled dataset to the owner's server for training (queued; goes when the link is up)",
      tag: 'datasets',
      body: z.strictObject({ name: z.string().max(120).default('dataset') }),
    },
    async ({ res, body }) => {
      if (!ctx.linkState().configured)
        throw new GuardianError('CONFLICT', 'this edge is not paired with a server: pair it first (Settings → Server)');
      if (!ctx.datasets.list().length)
        throw new GuardianError('INVALID_ARGUMENT', 'the dataset is empty: capture screenshots first');
      res.status(202);
      return ctx.datasetUploads.queue((file) => servableDataFile(ctx, file), body.name);
    },
  );
  api.route(
    'get',
    '/datasets/uploads',
    { summary: 'Datasets sent to the server, and what became of them', tag: 'datasets' },
    () => ({
      uploads: ctx.datasetUploads.list(),
    }),
  );
}
