// The model catalog: every model the owner has, whatever made it. CAE models trained here (their files under
// <dataDir>/models/<id>), the anomaly models the edges report running (knn-patch, fitted on the edge: listed, their
// files stay on the edge), and the detection models this server ships (YOLOX, NanoDet, with their sha256).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ulid } from 'ulidx';

import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';
import { sharedPath } from '../../shared/paths.ts';

export interface CatalogModel {
  modelId: string;
  name: string;
  kind: string;
  version: number;
  sha256: string | null;
  size: number | null;
  metrics: Record<string, unknown>;
  source: 'trained' | 'edge' | 'shipped';
  edgeId: string | null;
  cameraId: string | null;
  datasetId: string | null;
  status: string;
  created: number;
}

interface Row {
  model_id: string;
  name: string;
  kind: string;
  version: number;
  sha256: string | null;
  size: number | null;
  dir: string | null;
  metrics: string;
  source: CatalogModel['source'];
  edge_id: string | null;
  camera_id: string | null;
  dataset_id: string | null;
  status: string;
  created: number;
}

const toModel = (r: Row): CatalogModel => ({
  modelId: r.model_id,
  name: r.name,
  kind: r.kind,
  version: r.version,
  sha256: r.sha256,
  size: r.size,
  metrics: JSON.parse(r.metrics),
  source: r.source,
  edgeId: r.edge_id,
  cameraId: r.camera_id,
  datasetId: r.dataset_id,
  status: r.status,
  created: r.created,
});

export class ModelCatalog {
  readonly root: string;

  constructor(
    private readonly db: Db,
    dataDir: string,
  ) {
    this.root = join(dataDir, 'models');
  }

  list(filter: { kind?: string } = {}): CatalogModel[] {
    const rows = (
      filter.kind
        ? this.db.prepare('SELECT * FROM models WHERE kind = ? ORDER BY created DESC').all(filter.kind)
        : this.db.prepare('SELECT * FROM models ORDER BY created DESC').all()
    ) as Row[];
    return rows.map(toModel);
  }

  get(modelId: string): CatalogModel & { dir: string | null } {
    const r = this.db.prepare('SELECT * FROM models WHERE model_id = ?').get(modelId) as Row | undefined;
    if (!r) throw new GuardianError('NOT_FOUND', `no model ${modelId} in the catalog`);
    return { ...toModel(r), dir: r.dir ? join(this.root, r.dir) : null };
  }

  private nextVersion(name: string): number {
    const r = this.db.prepare('SELECT max(version) AS v FROM models WHERE name = ?').get(name) as { v: number | null };
    return (r.v ?? 0) + 1;
  }

  /** A model trained here, whose dir is <root>/<modelId>. */
  addTrained(m: {
    modelId: string;
    kind: string;
    cameraId: string | null;
    datasetId: string;
    sha256: string;
    size: number;
    metrics: Record<string, unknown>;
  }): CatalogModel {
    const name = `${m.kind}-${m.cameraId ?? 'all'}`;
    const row: Row = {
      model_id: m.modelId,
      name,
      kind: m.kind,
      version: this.nextVersion(name),
      sha256: m.sha256,
      size: m.size,
      dir: m.modelId,
      metrics: JSON.stringify(m.metrics),
      source: 'trained',
      edge_id: null,
      camera_id: m.cameraId,
      dataset_id: m.datasetId,
      status: 'ready',
      created: Date.now(),
    };
    this.insert(row);
    return toModel(row);
  }

  /** A model an edge says a camera runs; listed once per (kind, sha256). */
  reported(edgeId: string, cameraId: string, kind: string, version: number, sha256: string): void {
    if (!sha256) return;
    const exists = this.db.prepare('SELECT 1 FROM models WHERE kind = ? AND sha256 = ?').get(kind, sha256);
    if (exists) return;
    this.insert({
      model_id: ulid(),
      name: `${kind}-${edgeId}-${cameraId}`,
      kind,
      version,
      sha256,
      size: null,
      dir: null,
      metrics: '{}',
      source: 'edge',
      edge_id: edgeId,
      camera_id: cameraId,
      dataset_id: null,
      status: 'reported',
      created: Date.now(),
    });
  }

  /** The detection models this server ships (../shared/models/*.onnx), listed with their sha256 once. */
  registerShipped(dir = sharedPath('models')): void {
    if (!existsSync(dir)) return;
    for (const file of readdirSync(dir)
      .filter((n) => n.endsWith('.onnx'))
      .sort()) {
      const bytes = readFileSync(join(dir, file));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (this.db.prepare("SELECT 1 FROM models WHERE kind = 'detection' AND sha256 = ?").get(sha256)) continue;
      const name = file.replace(/\.onnx$/, '');
      this.insert({
        model_id: ulid(),
        name,
        kind: 'detection',
        version: this.nextVersion(name),
        sha256,
        size: bytes.length,
        dir: null,
        metrics: '{}',
        source: 'shipped',
        edge_id: null,
        camera_id: null,
        dataset_id: null,
        status: 'shipped',
        created: Date.now(),
      });
    }
  }

  private insert(r: Row): void {
    this.db
      .prepare(
        `INSERT INTO models (model_id, name, kind, version, sha256, size, dir, metrics, source, edge_id, camera_id, dataset_id, status, created)
         VALUES (@model_id, @name, @kind, @version, @sha256, @size, @dir, @metrics, @source, @edge_id, @camera_id, @dataset_id, @status, @created)
         ON CONFLICT (kind, sha256) DO NOTHING`,
      )
      .run(r);
  }
}
