// Rollout bookkeeping without a network: a deployment asked while the edge is away waits and goes when its control
// stream opens (a link outage during deployment); a hello does not settle a pending request, the edge's answer to it
// does; an edge reads only the models deployed to it. And on the edge: a model the media process cannot load is
// rolled back to the previous version and the server is told.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ModelInstaller } from '../../src/edge/anomaly/deploy.ts';
import { AnomalyModels } from '../../src/edge/anomaly/learn.ts';
import { openDatabase } from '../../src/shared/db.ts';
import type { ModelReport } from '../../src/shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { VmRequest } from '../../src/shared/link/generated/guardian/edge/v1/VmRequest.ts';
import { createLogger } from '../../src/shared/log.ts';
import { vmMigrations } from '../../src/vm/cache/schema.ts';
import { ModelCatalog } from '../../src/vm/models/catalog.ts';
import { ModelDeployments } from '../../src/vm/models/deploy.ts';
import { tempDir } from '../helpers.ts';

const log = createLogger({ level: 'silent' });

describe('model rollout', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('guardian-rollout-');
  });
  afterEach(() => tmp.remove());

  function vmSide() {
    const db = openDatabase(':memory:', vmMigrations);
    const catalog = new ModelCatalog(db, tmp.path);
    const modelId = 'M1';
    mkdirSync(join(catalog.root, modelId), { recursive: true });
    writeFileSync(join(catalog.root, modelId, 'model.json'), JSON.stringify({ kind: 'cae', onnx: { sha256: 'ab' } }));
    writeFileSync(join(catalog.root, modelId, 'model.onnx'), 'onnx');
    catalog.addTrained({ modelId, kind: 'cae', cameraId: 'yard', datasetId: 'D', sha256: 'ab', size: 4, metrics: {} });
    const sent: [string, VmRequest][] = [];
    let connected = false;
    const deployments = new ModelDeployments(
      db,
      catalog,
      (edge, req) => {
        if (!connected) return false;
        sent.push([edge, req]);
        return true;
      },
      log,
    );
    return { deployments, sent, modelId, connect: () => (connected = true) };
  }

  it('a deployment asked while the edge is away goes when it connects, and waits for its answer', () => {
    const { deployments, sent, modelId, connect } = vmSide();
    const [d] = deployments.deploy(modelId, 'edge-a', ['yard']);
    assert.equal(d?.state, 'pending');
    assert.equal(sent.length, 0, 'nothing can be sent to an edge that is not connected');
    connect();
    deployments.push('edge-a'); // its control stream opened
    assert.equal(sent.length, 1);
    const [edge, req] = sent[0] as [string, VmRequest];
    assert.equal(edge, 'edge-a');
    assert.equal(req.model?.modelId, modelId);
    assert.deepEqual(req.model?.cameraIds, ['yard']);
    // The edge's hello (what it runs now) does not settle the request...
    const running = {
      cameraId: 'yard',
      kind: 'knn-patch',
      version: 1,
      modelId: '',
      sha256: 'cd',
      state: 'active',
      message: '',
      versions: [1],
    };
    deployments.report('edge-a', { requestId: '', cameras: [running] });
    assert.equal(deployments.list('edge-a')[0]?.state, 'pending');
    // ...its answer does.
    deployments.report('edge-a', {
      requestId: req.requestId as string,
      cameras: [{ ...running, kind: 'cae', version: 2, modelId, sha256: 'ab', versions: [2, 1] }],
    });
    const after = deployments.list('edge-a')[0];
    assert.equal(after?.state, 'active');
    assert.deepEqual(after?.running, { kind: 'cae', version: 2, modelId });
    assert.deepEqual(after?.versions, [2, 1]);
  });

  it('an edge reads only the models deployed to it', () => {
    const { deployments, modelId } = vmSide();
    deployments.deploy(modelId, 'edge-a', ['yard']);
    assert.match(deployments.modelFileFor('edge-a', modelId) ?? '', /model\.onnx$/);
    assert.equal(deployments.modelFileFor('edge-b', modelId), null);
    assert.equal(deployments.modelFileFor('edge-a', 'other'), null);
  });

  it('refuses to deploy what is not a trained anomaly model', () => {
    const { deployments } = vmSide();
    assert.throws(() => deployments.deploy('nope', 'edge-a', ['yard']), /no model nope/);
  });

  it('on the edge: a model the media process cannot load goes back to the previous version, and the server hears', () => {
    const models = new AnomalyModels(tmp.path, { segments: () => [], detectFps: () => 5 }, log);
    // Two versions on disk (model.json only: the kind and version are what `active` reads).
    for (const v of [1, 2]) {
      const d = join(models.root, 'yard', `v${v}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(
        join(d, 'model.json'),
        JSON.stringify({ kind: 'cae', version: 1, created: 'x', params: { fps: 5 }, threshold: 1 }),
      );
    }
    assert.equal(models.active('yard')?.version, 2);
    const reports: ModelReport[] = [];
    const installer = new ModelInstaller(
      models,
      { fetchModel: async () => Buffer.alloc(0), reportModel: (r) => (reports.push(r), true) },
      () => true,
      log,
    );
    installer.loadFailed('yard', 1, 'stale'); // not the active version: nothing happens
    assert.equal(reports.length, 0);
    installer.loadFailed('yard', 2, 'model.onnx does not load');
    assert.equal(models.active('yard')?.version, 1);
    assert.equal(reports.length, 1);
    const c = reports[0]?.cameras?.[0];
    assert.equal(c?.state, 'rolled_back');
    assert.equal(c?.version, 1);
    assert.match(c?.message ?? '', /v2 failed to load: model\.onnx does not load/);
  });
});
