// The owner's API for datasets, training, the model catalog and rollout (on the VM's route registry).
import { z } from 'zod';

import type { Api } from '../../shared/http/api.ts';
import type { ModelCatalog } from './catalog.ts';
import type { VmDatasets } from './datasets.ts';
import type { ModelDeployments } from './deploy.ts';
import type { TrainingQueue } from './training.ts';

export interface VmModels {
  datasets: VmDatasets;
  catalog: ModelCatalog;
  training: TrainingQueue;
  deployments: ModelDeployments;
}

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const cameraId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/);
const target = z.strictObject({ edgeId: id, cameraIds: z.array(cameraId).min(1).max(64) });

export function registerModelRoutes(api: Api, m: VmModels, param: (v: unknown) => string): void {
  api.route(
    'get',
    '/datasets',
    {
      summary: 'Labelled datasets the edges sent for training',
      tag: 'models',
      query: z.strictObject({ edge: id.optional() }),
    },
    ({ query }) => ({ datasets: m.datasets.list(query.edge) }),
  );
  api.route(
    'delete',
    '/datasets/:id',
    { summary: 'Delete a dataset (its images go at once)', tag: 'models' },
    ({ req, res }) => {
      m.datasets.delete(param(req.params.id));
      res.status(204);
    },
  );
  api.route(
    'post',
    '/train',
    {
      summary: 'Queue a training job (kind cae: the convolutional autoencoder, on the normal images)',
      tag: 'models',
      body: z.strictObject({
        datasetId: id,
        cameraId: cameraId.optional(),
        kind: z.literal('cae'),
        epochs: z.number().int().min(1).max(1000).optional(),
      }),
    },
    ({ body, res }) => {
      res.status(202);
      return m.training.enqueue(body);
    },
  );
  api.route('get', '/train', { summary: 'Training jobs, newest first', tag: 'models' }, () => ({
    jobs: m.training.list(),
  }));
  api.route(
    'get',
    '/train/:id',
    { summary: 'A training job: state, progress (epoch, loss), metrics, logs', tag: 'models' },
    ({ req }) => {
      const job = m.training.get(param(req.params.id));
      return { ...job, metrics: job.modelId ? m.catalog.get(job.modelId).metrics : null };
    },
  );
  api.route('post', '/train/:id/cancel', { summary: 'Cancel a queued or running job', tag: 'models' }, ({ req }) =>
    m.training.cancel(param(req.params.id)),
  );
  api.route(
    'get',
    '/models',
    {
      summary: 'The model catalog: trained here, reported by edges, shipped detectors',
      tag: 'models',
      query: z.strictObject({ kind: z.string().max(32).optional() }),
    },
    ({ query }) => ({ models: m.catalog.list(query), deployments: m.deployments.list() }),
  );
  api.route('get', '/models/:id', { summary: 'One catalog entry, and where it runs', tag: 'models' }, ({ req }) => {
    const model = m.catalog.get(param(req.params.id));
    const { dir, ...entry } = model;
    return {
      ...entry,
      deployments: m.deployments
        .list()
        .filter((d) => d.modelId === entry.modelId || d.running?.modelId === entry.modelId),
    };
  });
  api.route(
    'post',
    '/models/:id/deploy',
    { summary: "Push a model to an edge's cameras (sent now, or when the edge connects)", tag: 'models', body: target },
    ({ req, body, res }) => {
      res.status(202);
      return { deployments: m.deployments.deploy(param(req.params.id), body.edgeId, body.cameraIds) };
    },
  );
  api.route(
    'post',
    '/models/rollback',
    { summary: "Return an edge's cameras to the model version they ran before", tag: 'models', body: target },
    ({ body, res }) => {
      res.status(202);
      return { deployments: m.deployments.rollback(body.edgeId, body.cameraIds) };
    },
  );
  api.route(
    'get',
    '/deployments',
    {
      summary: 'Per edge and camera: the model asked for, the one running, the state',
      tag: 'models',
      query: z.strictObject({ edge: id.optional() }),
    },
    ({ query }) => ({ deployments: m.deployments.list(query.edge) }),
  );
}
