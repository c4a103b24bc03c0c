// Quota and retention of the archive, per camera: past the quota the oldest unprotected objects (by event time) go
// first; after retentionDays unprotected objects expire; protected objects are never deleted by either. When the
// protected objects alone exceed the quota they are all kept, new unprotected uploads of that camera are refused
// (RESOURCE_EXHAUSTED) and the camera's archive status says so; protected uploads are still taken. At 80 % of the
// quota the status carries a warning (GET /api/edges, per camera; not yet sent down to the edge).
//
// A deletion is two-step and crash-safe: the row is marked 'deleting' (it stops counting and showing), the store lets
// the object go, the row goes; rows left 'deleting' by a crash are finished at the next start. Work is done in bounded
// batches, and an object with an upload in flight is skipped (the locks below).
import type { Logger } from '../../shared/log.ts';
import type { ArchiveIndex, ArchiveObject, CameraUsage } from './index.ts';
import type { ObjectStore } from './store.ts';

/** One operation at a time per object key: an upload, or a deletion. */
export class KeyLocks {
  private readonly held = new Map<string, { kind: 'upload' | 'delete'; done: Promise<void>; abort?: () => void }>();

  private async hold<T>(key: string, kind: 'upload' | 'delete', fn: () => Promise<T>, abort?: () => void) {
    let release = () => {};
    const entry = { kind, done: new Promise<void>((r) => (release = r)), ...(abort ? { abort } : {}) };
    this.held.set(key, entry);
    try {
      return await fn();
    } finally {
      if (this.held.get(key) === entry) this.held.delete(key);
      release();
    }
  }

  /** Runs a deletion unless the key is busy (then returns false and does nothing). */
  async tryDelete(key: string, fn: () => Promise<void>): Promise<boolean> {
    if (this.held.has(key)) return false;
    await this.hold(key, 'delete', fn);
    return true;
  }

  /**
   * Runs an upload of the key. An upload already in flight for it is superseded (aborted: the edge has started over)
   * and waited for, as is a deletion in progress.
   */
  async upload<T>(key: string, abort: () => void, fn: () => Promise<T>): Promise<T> {
    for (let prev = this.held.get(key); prev; prev = this.held.get(key)) {
      if (prev.kind === 'upload') prev.abort?.();
      await prev.done;
    }
    return this.hold(key, 'upload', fn, abort);
  }

  busy(key: string): boolean {
    return this.held.has(key);
  }
}

export interface RetentionOptions {
  quotaBytesPerCamera: number;
  retentionDays: number;
  /** Objects deleted per batch. */
  batch?: number;
  /** Batches per pass; what is left waits for the next pass. */
  maxBatches?: number;
  log: Logger;
}

export interface CameraArchiveStatus extends CameraUsage {
  quotaBytes: number;
  /** bytes / quotaBytes, in percent (one decimal). */
  percent: number;
  /** ok; warning from 80 %; full when protected objects alone fill the quota (unprotected uploads refused). */
  level: 'ok' | 'warning' | 'full';
  warning: string | null;
}

export const WARNING_FRACTION = 0.8;

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export class ArchiveRetention {
  private readonly batch: number;
  private readonly maxBatches: number;

  constructor(
    private readonly index: ArchiveIndex,
    private readonly store: ObjectStore,
    private readonly locks: KeyLocks,
    private readonly options: RetentionOptions,
  ) {
    this.batch = options.batch ?? 100;
    this.maxBatches = options.maxBatches ?? 20;
  }

  get quotaBytes(): number {
    return this.options.quotaBytesPerCamera;
  }

  /** A camera's usage judged against the quota. */
  judge(u: CameraUsage): CameraArchiveStatus {
    const quota = this.options.quotaBytesPerCamera;
    const percent = Math.round((u.bytes / quota) * 1000) / 10;
    let level: CameraArchiveStatus['level'] = 'ok';
    let warning: string | null = null;
    if (u.protectedBytes >= quota) {
      level = 'full';
      warning = `protected archive objects alone fill the quota (${mib(u.protectedBytes)} of ${mib(quota)}): they are kept, and new unprotected uploads are refused until protection is released or the quota raised`;
    } else if (u.bytes >= quota * WARNING_FRACTION) {
      level = 'warning';
      warning = `archive at ${percent} % of the camera's quota (${mib(u.bytes)} of ${mib(quota)}); past it the oldest unprotected objects are deleted`;
    }
    return { ...u, quotaBytes: quota, percent, level, warning };
  }

  /** Every camera of an edge (or of all edges) with objects, judged. */
  status(edgeId?: string): CameraArchiveStatus[] {
    return this.index.usageByCamera(edgeId).map((u) => this.judge(u));
  }

  /** Deletes one object (two steps); false if it is busy or changed meanwhile. */
  private async remove(o: ArchiveObject, why: string): Promise<boolean> {
    return this.locks.tryDelete(`${o.bucket}/${o.key}`, async () => {
      if (o.state !== 'deleting' && !this.index.markDeleting(o.eventId, o.kind, o.sha256)) return;
      await this.store.delete(o.bucket, o.key);
      this.index.remove(o.eventId, o.kind, o.sha256);
      this.options.log.info(
        { edge: o.edgeId, camera: o.cameraId, event: o.eventId, kind: o.kind, bytes: o.size, why },
        'archive object deleted',
      );
    });
  }

  /** Deletions a crash interrupted. */
  async finishDeletions(): Promise<number> {
    let n = 0;
    for (let b = 0; b < this.maxBatches; b++) {
      const rows = this.index.deleting(this.batch);
      let progressed = 0;
      for (const o of rows) if (await this.remove(o, 'interrupted deletion')) progressed++;
      n += progressed;
      if (rows.length < this.batch || progressed === 0) break;
    }
    return n;
  }

  /** Unprotected objects of events older than retentionDays. */
  async expire(now = Date.now()): Promise<number> {
    const before = now - this.options.retentionDays * 86_400_000;
    let n = 0;
    for (let b = 0; b < this.maxBatches; b++) {
      const rows = this.index.expiredUnprotected(before, this.batch);
      let progressed = 0;
      for (const o of rows) if (await this.remove(o, 'retention')) progressed++;
      n += progressed;
      if (rows.length < this.batch || progressed === 0) break;
    }
    return n;
  }

  /** Brings a camera back under its quota: oldest unprotected first. Returns how many objects went. */
  async enforceQuota(edgeId: string, cameraId: string): Promise<number> {
    const quota = this.options.quotaBytesPerCamera;
    let n = 0;
    for (let b = 0; b < this.maxBatches; b++) {
      let over = this.index.usage(edgeId, cameraId).bytes - quota;
      if (over <= 0) break;
      const rows = this.index.oldestUnprotected(edgeId, cameraId, this.batch);
      let progressed = 0;
      for (const o of rows) {
        if (over <= 0) break;
        if (await this.remove(o, 'quota')) {
          over -= o.size;
          progressed++;
        }
      }
      n += progressed;
      if (progressed === 0) {
        if (this.index.usage(edgeId, cameraId).protectedBytes >= quota)
          this.options.log.warn(
            { edge: edgeId, camera: cameraId, quota },
            'protected archive objects alone exceed the quota: kept; new unprotected uploads are refused',
          );
        break;
      }
    }
    return n;
  }

  /** A full pass: protection from the events, interrupted deletions, retention, then every camera's quota. */
  async run(now = Date.now()): Promise<{ expired: number; evicted: number }> {
    this.index.syncProtection();
    await this.finishDeletions();
    const expired = await this.expire(now);
    let evicted = 0;
    for (const u of this.index.usageByCamera())
      if (u.bytes > this.options.quotaBytesPerCamera) evicted += await this.enforceQuota(u.edgeId, u.cameraId);
    return { expired, evicted };
  }
}
