// Sending the labelled dataset to the owner's server for training, on the owner's word (the Datasets page's "Send
// for training", POST /api/datasets/upload). The export ZIP is written once under the data dir and queued in the
// outbox, so it survives the link being down or the edge restarting; it goes up on an UploadDataset call of its own
// and is deleted here once the server stored it or refused it for good (the reason is kept for the owner).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import * as grpc from '@grpc/grpc-js';
import { ulid } from 'ulidx';

import type { DatasetReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/DatasetReceipt.ts';
import type { Logger } from '../../shared/log.ts';
import type { Outbox, OutboxItem } from '../events/outbox.ts';
import type { DatasetUploadHeader } from '../link/models-link.ts';
import type { DatasetStore } from './store.ts';

export interface DatasetUpload {
  uploadId: string;
  name: string;
  bytes: number;
  images: number;
  state: 'queued' | 'stored' | 'refused';
  datasetId: string | null;
  message: string | null;
  queuedAt: string;
}

interface Payload {
  uploadId: string;
  file: string;
  name: string;
  size: number;
  sha256: string;
  images: number;
}

/** gRPC statuses after which sending the same bytes again cannot help. */
const FINAL = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNIMPLEMENTED,
]);

export class DatasetUploads {
  private readonly dir: string;
  private readonly uploads = new Map<string, DatasetUpload>();

  constructor(
    private readonly dataDir: string,
    private readonly store: DatasetStore,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {
    this.dir = join(dataDir, 'outgoing', 'datasets');
  }

  list(): DatasetUpload[] {
    return [...this.uploads.values()].reverse();
  }

  /** Writes the export and queues it; the link sends it when it can. */
  async queue(abs: (file: string) => string, name: string): Promise<DatasetUpload> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const uploadId = ulid();
    const rel = join('outgoing', 'datasets', `${uploadId}.zip`);
    const file = join(this.dataDir, rel);
    const images = this.store.list().length;
    await pipeline(this.store.exportZip(abs), createWriteStream(file, { mode: 0o600 }));
    const hash = createHash('sha256');
    for await (const c of createReadStream(file)) hash.update(c as Buffer);
    const payload: Payload = {
      uploadId,
      file: rel,
      name,
      size: statSync(file).size,
      sha256: hash.digest('hex'),
      images,
    };
    this.outbox.enqueue('dataset.upload', uploadId, payload, 9);
    const u: DatasetUpload = {
      uploadId,
      name,
      bytes: payload.size,
      images,
      state: 'queued',
      datasetId: null,
      message: null,
      queuedAt: new Date().toISOString(),
    };
    this.uploads.set(uploadId, u);
    return u;
  }

  /** The outbox delivery of `dataset.*` items. */
  delivery(upload: (header: DatasetUploadHeader, file: string) => Promise<DatasetReceipt__Output>) {
    return async (items: OutboxItem[]): Promise<Set<number>> => {
      const done = new Set<number>();
      for (const item of items) {
        const p = item.payload as Payload;
        const file = join(this.dataDir, p.file);
        const known = this.uploads.get(p.uploadId);
        if (!existsSync(file)) {
          this.log.warn({ upload: p.uploadId }, 'a dataset to upload is gone; dropping it');
          done.add(item.id);
          continue;
        }
        try {
          const r = await upload({ uploadId: p.uploadId, name: p.name, size: p.size, sha256: p.sha256 }, file);
          this.set(p, known, { state: 'stored', datasetId: r.datasetId, message: null });
          this.log.info({ upload: p.uploadId, dataset: r.datasetId, images: r.images }, 'dataset stored on the server');
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code === undefined || !FINAL.has(code)) throw err; // the link's problem: retried
          const message = (err as { details?: string }).details || (err as Error).message;
          this.set(p, known, { state: 'refused', datasetId: null, message });
          this.log.warn({ upload: p.uploadId, reason: message }, 'the server refused the dataset');
        }
        rmSync(file, { force: true });
        done.add(item.id);
      }
      return done;
    };
  }

  private set(
    p: Payload,
    known: DatasetUpload | undefined,
    change: Pick<DatasetUpload, 'state' | 'datasetId' | 'message'>,
  ) {
    this.uploads.set(p.uploadId, {
      ...(known ?? {
        uploadId: p.uploadId,
        name: p.name,
        bytes: p.size,
        images: p.images,
        queuedAt: new Date().toISOString(),
      }),
      ...change,
    } as DatasetUpload);
  }
}
