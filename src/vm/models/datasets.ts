// Datasets on the owner's server: labelled stills an edge sent for training (on the owner's word: the Datasets
// page's "Send for training"). The upload is written to a temporary file while its size and sha256 are checked,
// then checked as an archive (src/shared/dataset-archive.ts: names, links, sizes, JPEG signatures, manifest; each
// image must decode) and extracted under a dir named by the dataset's id. Each edge has a quota of bytes. A refused
// or cut upload leaves nothing. These are the only clear pictures the server holds, and only those the owner chose
// to send (docs/security.md): they can be deleted with DELETE /api/datasets/:id.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { ulid } from 'ulidx';

import { openSource } from '../../../bindings/index.ts';
import { extractDataset } from '../../shared/dataset-archive.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';

export interface VmDataset {
  datasetId: string;
  edgeId: string;
  name: string;
  bytes: number;
  sha256: string;
  images: number;
  labels: Record<string, number>;
  cameras: string[];
  created: number;
}

/** Why an upload was refused, with the gRPC status it is answered with. */
export class DatasetRefusal extends Error {
  constructor(
    readonly code: 'INVALID_ARGUMENT' | 'RESOURCE_EXHAUSTED' | 'DATA_LOSS',
    message: string,
  ) {
    super(message);
  }
}

interface Row {
  dataset_id: string;
  edge_id: string;
  name: string;
  dir: string;
  bytes: number;
  sha256: string;
  images: number;
  label_counts: string;
  cameras: string;
  created: number;
}

const toDataset = (r: Row): VmDataset => ({
  datasetId: r.dataset_id,
  edgeId: r.edge_id,
  name: r.name,
  bytes: r.bytes,
  sha256: r.sha256,
  images: r.images,
  labels: JSON.parse(r.label_counts),
  cameras: JSON.parse(r.cameras),
  created: r.created,
});

async function decodes(file: string): Promise<boolean> {
  try {
    const src = await openSource(file, { tensor: { size: 32, resize: 'stretch' } });
    try {
      return (await src.read()) !== null;
    } finally {
      await src.close();
    }
  } catch {
    return false;
  }
}

export class VmDatasets {
  readonly root: string;

  constructor(
    private readonly db: Db,
    dataDir: string,
    private readonly quotaBytes: () => number,
  ) {
    this.root = join(dataDir, 'datasets');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  list(edgeId?: string): VmDataset[] {
    const rows = (
      edgeId
        ? this.db.prepare('SELECT * FROM datasets WHERE edge_id = ? ORDER BY created DESC').all(edgeId)
        : this.db.prepare('SELECT * FROM datasets ORDER BY created DESC').all()
    ) as Row[];
    return rows.map(toDataset);
  }

  get(datasetId: string): VmDataset & { dir: string } {
    const r = this.db.prepare('SELECT * FROM datasets WHERE dataset_id = ?').get(datasetId) as Row | undefined;
    if (!r) throw new GuardianError('NOT_FOUND', `no dataset ${datasetId}`);
    return { ...toDataset(r), dir: join(this.root, r.dataset_id) };
  }

  delete(datasetId: string): void {
    const d = this.get(datasetId);
    rmSync(d.dir, { recursive: true, force: true });
    this.db.prepare('DELETE FROM datasets WHERE dataset_id = ?').run(datasetId);
  }

  /** Bytes of the edge's stored datasets. */
  used(edgeId: string): number {
    return (
      this.db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM datasets WHERE edge_id = ?').get(edgeId) as {
        n: number;
      }
    ).n;
  }

  /** Receives one upload (header first, then its chunks); resolves with the stored dataset. */
  async receive(
    edgeId: string,
    header: { uploadId: string; name: string; size: number; sha256: string },
    chunks: AsyncIterable<Buffer>,
  ): Promise<VmDataset> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(header.uploadId)) throw new DatasetRefusal('INVALID_ARGUMENT', 'bad upload id');
    const replay = this.db
      .prepare('SELECT * FROM datasets WHERE edge_id = ? AND upload_id = ?')
      .get(edgeId, header.uploadId) as Row | undefined;
    if (replay) return toDataset(replay);
    const quota = this.quotaBytes();
    const used = this.used(edgeId);
    if (used + header.size > quota)
      throw new DatasetRefusal(
        'RESOURCE_EXHAUSTED',
        `the dataset quota of this edge is full: ${used} of ${quota} bytes used, this upload is ${header.size} (delete datasets on the server)`,
      );
    const tmp = join(this.root, `.incoming-${randomUUID()}.zip`);
    const datasetId = ulid();
    const dir = join(this.root, datasetId);
    try {
      const fd = openSync(tmp, 'wx', 0o600);
      const hash = createHash('sha256');
      let n = 0;
      try {
        for await (const c of chunks) {
          n += c.length;
          if (n > header.size) throw new DatasetRefusal('DATA_LOSS', `more than the ${header.size} bytes announced`);
          hash.update(c);
          writeSync(fd, c);
        }
      } finally {
        closeSync(fd);
      }
      if (n !== header.size || hash.digest('hex') !== header.sha256)
        throw new DatasetRefusal('DATA_LOSS', `the upload's size or sha256 does not match its header (${n} bytes)`);
      let manifest: Awaited<ReturnType<typeof extractDataset>>;
      try {
        manifest = await extractDataset(tmp, dir, undefined, decodes);
      } catch (err) {
        throw new DatasetRefusal('INVALID_ARGUMENT', (err as Error).message);
      }
      const labels: Record<string, number> = {};
      for (const it of manifest.items) labels[it.label] = (labels[it.label] ?? 0) + 1;
      const cameras = [...new Set(manifest.items.map((i) => i.cameraId))].sort();
      const row: Row = {
        dataset_id: datasetId,
        edge_id: edgeId,
        name: header.name.slice(0, 120) || datasetId,
        dir: datasetId,
        bytes: header.size,
        sha256: header.sha256,
        images: manifest.items.length,
        label_counts: JSON.stringify(labels),
        cameras: JSON.stringify(cameras),
        created: Date.now(),
      };
      this.db
        .prepare(
          `INSERT INTO datasets (dataset_id, edge_id, upload_id, name, dir, bytes, sha256, images, label_counts, cameras, created)
           VALUES (@dataset_id, @edge_id, @upload_id, @name, @dir, @bytes, @sha256, @images, @label_counts, @cameras, @created)`,
        )
        .run({ ...row, upload_id: header.uploadId });
      return toDataset(row);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
