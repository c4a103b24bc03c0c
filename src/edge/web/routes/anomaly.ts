// A camera's anomaly model: its state (none, learning with progress, active with version and when it was fitted,
// failed with the reason), and learning normal from the camera's own recordings of the last N hours or around the
// screenshots the owner labelled normal in Datasets.
import { z } from 'zod';

import type { AnomalyModelState } from '../../../shared/api-types.ts';
import type { Api } from '../../../shared/http/api.ts';
import type { EdgeContext } from '../context.ts';
import { param } from './common.ts';

export function registerAnomalyRoutes(api: Api, ctx: EdgeContext): void {
  const state = (cameraId: string): AnomalyModelState =>
    ctx.anomaly.state(cameraId, ctx.media.cameras[cameraId]?.anomaly ?? null);
  api.route(
    'get',
    '/cameras/:id/anomaly',
    {
      summary: "A camera's anomaly model: none, learning (progress), active (version, fitted) or failed",
      tag: 'cameras',
    },
    ({ req }): AnomalyModelState => {
      const id = ctx.registry.get(param(req.params.id)).id; // 404 for an unknown camera
      return state(id);
    },
  );
  api.route(
    'post',
    '/cameras/:id/anomaly/learn',
    {
      summary:
        "Learn normal from the camera's recordings of the last N hours, or around its screenshots labelled normal in Datasets (a background fit; 202, then poll)",
      tag: 'cameras',
      body: z.strictObject({
        hours: z
          .number()
          .min(0.01)
          .max(24 * 14)
          .default(2)
          .describe('hours of recordings to learn from (from: recordings)'),
        from: z
          .enum(['recordings', 'dataset'])
          .default('recordings')
          .describe(
            "recordings: the last `hours`; dataset: the recordings around the camera's screenshots labelled normal",
          ),
      }),
    },
    ({ req, res, body }): AnomalyModelState => {
      const id = ctx.registry.get(param(req.params.id)).id;
      const moments =
        body.from === 'dataset'
          ? ctx.datasets
              .list()
              .filter((s) => s.cameraId === id && s.label === 'normal')
              .map((s) => s.takenMs)
          : undefined;
      const s = ctx.anomaly.learn(id, body.hours, Date.now(), moments);
      res.status(202);
      return s;
    },
  );
  api.route(
    'post',
    '/cameras/:id/anomaly/rollback',
    {
      summary: 'Return the camera to its previous anomaly model version (at its next frame); the server is told',
      tag: 'cameras',
    },
    ({ req }): AnomalyModelState => {
      const id = ctx.registry.get(param(req.params.id)).id;
      ctx.anomaly.rollback(id, 'asked on this edge');
      ctx.reportModel({
        requestId: '',
        modelId: '',
        cameras: [ctx.anomaly.report(id, 'rolled_back', 'asked on this edge')],
      });
      return state(id);
    },
  );
}
