// Model rollout: what each edge's cameras should run and what they report running. A deployment asks an edge (on its
// Control stream) to install a catalog model; the edge fetches the file (FetchModel: only a model being deployed to
// that edge can be read), checks it, activates it at the next frame and reports back (ModelReport). A deployment
// asked while the edge is away waits in the database and is sent when its control stream opens again, as is one the
// edge never answered. Rollback asks the edge to return to the version below the one it runs.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CAE_KIND, CAE_ONNX } from '../../edge/anomaly/cae.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { ModelReport__Output } from '../../shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { VmRequest } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import type { Logger } from '../../shared/log.ts';
import type { ModelCatalog } from './catalog.ts';

export interface Deployment {
  edgeId: string;
  cameraId: string;
  /** What was last asked: a model pushed (its id), or null for a rollback. */
  modelId: string | null;
  state: 'pending' | 'rollback-pending' | 'active' | 'failed' | 'rolled_back' | 'running';
  /** What the edge says the camera runs. */
  running: { kind: string; version: number; modelId: string | null } | null;
  versions: number[];
  message: string | null;
  updated: number;
}

interface Row {
  edge_id: string;
  camera_id: string;
  model_id: string | null;
  request_id: string | null;
  state: Deployment['state'];
  running_kind: string | null;
  running_version: number | null;
  running_model_id: string | null;
  versions: string;
  message: string | null;
  updated: number;
}

const toDeployment = (r: Row): Deployment => ({
  edgeId: r.edge_id,
  cameraId: r.camera_id,
  modelId: r.model_id,
  state: r.state,
  running: r.running_kind
    ? { kind: r.running_kind, version: r.running_version ?? 0, modelId: r.running_model_id || null }
    : null,
  versions: JSON.parse(r.versions),
  message: r.message,
  updated: r.updated,
});

export class ModelDeployments {
  constructor(
    private readonly db: Db,
    private readonly catalog: ModelCatalog,
    /** Writes a request on the edge's control stream; false when the edge is not connected. */
    private readonly send: (edgeId: string, req: VmRequest) => boolean,
    private readonly log: Logger,
  ) {}

  list(edgeId?: string): Deployment[] {
    const rows = (
      edgeId
        ? this.db.prepare('SELECT * FROM deployments WHERE edge_id = ? ORDER BY camera_id').all(edgeId)
        : this.db.prepare('SELECT * FROM deployments ORDER BY edge_id, camera_id').all()
    ) as Row[];
    return rows.map(toDeployment);
  }

  deploy(modelId: string, edgeId: string, cameraIds: string[]): Deployment[] {
    const m = this.catalog.get(modelId);
    if (m.kind !== CAE_KIND || !m.dir)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `model ${modelId} is a ${m.kind} model ${m.source === 'trained' ? '' : `(${m.source})`}: only anomaly models trained here can be deployed`,
      );
    const requestId = randomUUID();
    const now = Date.now();
    const upsert = this.db.prepare(
      `INSERT INTO deployments (edge_id, camera_id, model_id, request_id, state, message, updated)
       VALUES (?, ?, ?, ?, 'pending', NULL, ?)
       ON CONFLICT (edge_id, camera_id) DO UPDATE SET model_id = excluded.model_id, request_id = excluded.request_id,
         state = 'pending', message = NULL, updated = excluded.updated`,
    );
    this.db.transaction(() => {
      for (const c of cameraIds) upsert.run(edgeId, c, modelId, requestId, now);
    })();
    this.push(edgeId);
    return this.list(edgeId).filter((d) => cameraIds.includes(d.cameraId));
  }

  rollback(edgeId: string, cameraIds: string[]): Deployment[] {
    const requestId = randomUUID();
    const now = Date.now();
    const upsert = this.db.prepare(
      `INSERT INTO deployments (edge_id, camera_id, model_id, request_id, state, updated)
       VALUES (?, ?, NULL, ?, 'rollback-pending', ?)
       ON CONFLICT (edge_id, camera_id) DO UPDATE SET model_id = NULL, request_id = excluded.request_id,
         state = 'rollback-pending', message = NULL, updated = excluded.updated`,
    );
    this.db.transaction(() => {
      for (const c of cameraIds) upsert.run(edgeId, c, requestId, now);
    })();
    this.push(edgeId);
    return this.list(edgeId).filter((d) => cameraIds.includes(d.cameraId));
  }

  /** Sends what waits for this edge (called when its control stream opens, and after each request). */
  push(edgeId: string): void {
    const rows = this.db
      .prepare("SELECT * FROM deployments WHERE edge_id = ? AND state IN ('pending', 'rollback-pending')")
      .all(edgeId) as Row[];
    const byRequest = new Map<string, Row[]>();
    for (const r of rows) byRequest.set(r.request_id ?? '', [...(byRequest.get(r.request_id ?? '') ?? []), r]);
    for (const [requestId, group] of byRequest) {
      const cameraIds = group.map((r) => r.camera_id);
      const first = group[0] as Row;
      let req: VmRequest;
      if (first.state === 'rollback-pending') req = { requestId, rollback: { cameraIds } };
      else {
        const m = this.catalog.get(first.model_id as string);
        const modelJson = readFileSync(join(m.dir as string, 'model.json'), 'utf8');
        req = {
          requestId,
          model: { modelId: m.modelId, kind: m.kind, size: m.size ?? 0, sha256: m.sha256 ?? '', modelJson, cameraIds },
        };
      }
      if (this.send(edgeId, req))
        this.log.info(
          { edge: edgeId, request: requestId, cameras: cameraIds },
          first.state === 'rollback-pending' ? 'rollback sent' : 'model push sent',
        );
    }
  }

  /** Whether this edge may read this model's file: it is being deployed to it. */
  modelFileFor(edgeId: string, modelId: string): string | null {
    const r = this.db
      .prepare('SELECT 1 FROM deployments WHERE edge_id = ? AND model_id = ? LIMIT 1')
      .get(edgeId, modelId);
    if (!r) return null;
    const m = this.catalog.get(modelId);
    return m.dir ? join(m.dir, CAE_ONNX) : null;
  }

  /** What an edge says its cameras run (hello) or did with a request (report). */
  report(edgeId: string, report: Pick<ModelReport__Output, 'requestId' | 'cameras'>): void {
    const now = Date.now();
    for (const c of report.cameras) {
      const current = this.db
        .prepare('SELECT * FROM deployments WHERE edge_id = ? AND camera_id = ?')
        .get(edgeId, c.cameraId) as Row | undefined;
      // A hello (no request id) does not settle a pending request: it is sent again right after.
      const answers = Boolean(report.requestId) && current?.request_id === report.requestId;
      const state: Deployment['state'] = answers
        ? (c.state as Deployment['state'])
        : current && ['pending', 'rollback-pending'].includes(current.state)
          ? current.state
          : c.state === 'rolled_back' || c.state === 'failed'
            ? (c.state as Deployment['state'])
            : 'running';
      this.db
        .prepare(
          `INSERT INTO deployments (edge_id, camera_id, model_id, request_id, state, running_kind, running_version,
             running_model_id, versions, message, updated)
           VALUES (@edge, @camera, NULL, NULL, @state, @kind, @version, @runningModel, @versions, @message, @now)
           ON CONFLICT (edge_id, camera_id) DO UPDATE SET state = @state, running_kind = @kind,
             running_version = @version, running_model_id = @runningModel, versions = @versions,
             message = coalesce(@message, CASE WHEN @answers THEN NULL ELSE message END), updated = @now`,
        )
        .run({
          edge: edgeId,
          camera: c.cameraId,
          state,
          kind: c.kind || null,
          version: c.version || null,
          runningModel: c.modelId || null,
          versions: JSON.stringify(c.versions ?? []),
          message: c.message || null,
          answers: answers ? 1 : 0,
          now,
        });
      if (c.kind && c.sha256 && !c.modelId) this.catalog.reported(edgeId, c.cameraId, c.kind, c.version, c.sha256);
      if (c.state === 'failed' || c.state === 'rolled_back')
        this.log.warn(
          { edge: edgeId, camera: c.cameraId, state: c.state, message: c.message },
          'model deployment did not take',
        );
    }
  }
}
