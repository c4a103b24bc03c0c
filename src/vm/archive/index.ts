// The archive's index: one row per stored object in the VM's archive_objects table (edge, camera, event, kind, where
// it is, its ciphertext size and SHA-256, protection). Keys and bucket names are made here from validated parts only.
import { createHash } from 'node:crypto';

import type { Db } from '../../shared/db.ts';

export const ARCHIVE_KINDS = ['clip', 'snapshot', 'metadata'] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

/** The archive format's file extension (docs/archive-format.md). */
export const ARCHIVE_EXTENSION = 'gdna';

const FILE_NAMES: Record<ArchiveKind, string> = {
  clip: 'clip.mp4',
  snapshot: 'snapshot.jpg',
  metadata: 'metadata.json',
};

export const isArchiveKind = (v: unknown): v is ArchiveKind => ARCHIVE_KINDS.includes(v as ArchiveKind);

/** Event ids are the edge's ULIDs; camera ids the edge's slugs. */
export const eventIdPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const cameraIdPattern = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** events/<event id>/clip.mp4.gdna (snapshot.jpg.gdna, metadata.json.gdna). */
export function objectKey(eventId: string, kind: ArchiveKind): string {
  if (!eventIdPattern.test(eventId)) throw new Error(`not an event id: ${eventId}`);
  return `events/${eventId}/${FILE_NAMES[kind]}.${ARCHIVE_EXTENSION}`;
}

/**
 * The camera's bucket, camera-<id>. S3 bucket names have at most 63 characters and end with a letter or digit, so a
 * longer id (or one ending with a dash) is cut and given a hash of the whole id to stay unique.
 */
export function bucketFor(cameraId: string): string {
  if (!cameraIdPattern.test(cameraId)) throw new Error(`not a camera id: ${cameraId}`);
  const plain = `camera-${cameraId}`;
  if (plain.length <= 63 && /[a-z0-9]$/.test(plain)) return plain;
  const hash = createHash('sha256').update(cameraId).digest('hex').slice(0, 8);
  return `camera-${cameraId.slice(0, 46).replace(/-+$/, '')}-${hash}`;
}

export interface ArchiveObject {
  edgeId: string;
  cameraId: string;
  eventId: string;
  kind: ArchiveKind;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  state: 'stored' | 'deleting';
  protected: boolean;
  eventTime: number;
  created: number;
  updated: number;
}

interface Row {
  edge_id: string;
  camera_id: string;
  event_id: string;
  kind: ArchiveKind;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  state: 'stored' | 'deleting';
  protected: number;
  event_time: number;
  created: number;
  updated: number;
}

const fromRow = (r: Row): ArchiveObject => ({
  edgeId: r.edge_id,
  cameraId: r.camera_id,
  eventId: r.event_id,
  kind: r.kind,
  bucket: r.bucket,
  key: r.key,
  size: r.size,
  sha256: r.sha256,
  state: r.state,
  protected: r.protected === 1,
  eventTime: r.event_time,
  created: r.created,
  updated: r.updated,
});

export interface CameraUsage {
  edgeId: string;
  cameraId: string;
  objects: number;
  bytes: number;
  protectedBytes: number;
}

export type ArchivedKinds = Record<ArchiveKind, boolean>;

export class ArchiveIndex {
  constructor(private readonly db: Db) {}

  get(eventId: string, kind: ArchiveKind): ArchiveObject | undefined {
    const r = this.db.prepare('SELECT * FROM archive_objects WHERE event_id = ? AND kind = ?').get(eventId, kind) as
      | Row
      | undefined;
    return r && fromRow(r);
  }

  /** Records a stored object (a new one, or the replacement of the same event and kind). */
  put(o: Omit<ArchiveObject, 'state' | 'created' | 'updated'>): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO archive_objects (edge_id, camera_id, event_id, kind, bucket, key, size, sha256, state, protected,
           event_time, created, updated)
         VALUES (@edgeId, @cameraId, @eventId, @kind, @bucket, @key, @size, @sha256, 'stored', @protected, @eventTime,
           @now, @now)
         ON CONFLICT (event_id, kind) DO UPDATE SET
           edge_id = @edgeId, camera_id = @cameraId, bucket = @bucket, key = @key, size = @size, sha256 = @sha256,
           state = 'stored', protected = @protected, event_time = @eventTime, updated = @now`,
      )
      .run({ ...o, protected: o.protected ? 1 : 0, now });
  }

  setProtected(eventId: string, kind: ArchiveKind, value: boolean): void {
    this.db
      .prepare('UPDATE archive_objects SET protected = ?, updated = ? WHERE event_id = ? AND kind = ?')
      .run(value ? 1 : 0, Date.now(), eventId, kind);
  }

  /**
   * Protection follows the latest word: an event protected (or released) on the edge after its objects were uploaded
   * reaches the VM by PushEvents, and its objects take the event's flag when the event row changed after the object's
   * (an upload's header carries the flag too, and wins when it is the newer). Objects whose event has left the VM's
   * cache keep the last flag they had.
   */
  syncProtection(): number {
    return this.db
      .prepare(
        `UPDATE archive_objects AS a SET protected = e.p, updated = @now
         FROM (SELECT event_id, edge_id, updated_at, coalesce(json_extract(metadata, '$.protected'), 0) AS p
               FROM events) AS e
         WHERE e.event_id = a.event_id AND e.edge_id = a.edge_id AND e.updated_at > a.updated AND a.protected != e.p`,
      )
      .run({ now: Date.now() }).changes;
  }

  /** For event lists: which kinds each event has in the archive (stored objects only). */
  archivedKinds(eventIds: readonly string[]): Map<string, ArchivedKinds> {
    const out = new Map<string, ArchivedKinds>();
    for (const id of eventIds) out.set(id, { clip: false, snapshot: false, metadata: false });
    for (let i = 0; i < eventIds.length; i += 500) {
      const ids = eventIds.slice(i, i + 500);
      const rows = this.db
        .prepare(
          `SELECT event_id, kind FROM archive_objects WHERE state = 'stored' AND event_id IN (${ids.map(() => '?').join(',')})`,
        )
        .all(...ids) as { event_id: string; kind: ArchiveKind }[];
      for (const r of rows) {
        const kinds = out.get(r.event_id);
        if (kinds) kinds[r.kind] = true;
      }
    }
    return out;
  }

  /** Bytes held for one camera of one edge (objects being deleted no longer count). */
  usage(edgeId: string, cameraId: string): CameraUsage {
    const r = this.db
      .prepare(
        `SELECT count(*) AS objects, coalesce(sum(size), 0) AS bytes,
           coalesce(sum(CASE WHEN protected = 1 THEN size ELSE 0 END), 0) AS protectedBytes
         FROM archive_objects WHERE edge_id = ? AND camera_id = ? AND state = 'stored'`,
      )
      .get(edgeId, cameraId) as { objects: number; bytes: number; protectedBytes: number };
    return { edgeId, cameraId, ...r };
  }

  /** Every camera that has objects, with its usage. */
  usageByCamera(edgeId?: string): CameraUsage[] {
    return this.db
      .prepare(
        `SELECT edge_id AS edgeId, camera_id AS cameraId, count(*) AS objects, coalesce(sum(size), 0) AS bytes,
           coalesce(sum(CASE WHEN protected = 1 THEN size ELSE 0 END), 0) AS protectedBytes
         FROM archive_objects WHERE state = 'stored' ${edgeId ? 'AND edge_id = @edgeId' : ''}
         GROUP BY edge_id, camera_id ORDER BY edge_id, camera_id`,
      )
      .all(edgeId ? { edgeId } : {}) as CameraUsage[];
  }

  /** The camera's oldest unprotected objects (by the event's time), first to go past the quota. */
  oldestUnprotected(edgeId: string, cameraId: string, limit: number): ArchiveObject[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM archive_objects WHERE edge_id = ? AND camera_id = ? AND protected = 0 AND state = 'stored'
           ORDER BY event_time, event_id, kind LIMIT ?`,
        )
        .all(edgeId, cameraId, limit) as Row[]
    ).map(fromRow);
  }

  /** Unprotected objects of events older than a time, oldest first. */
  expiredUnprotected(beforeMs: number, limit: number): ArchiveObject[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM archive_objects WHERE protected = 0 AND state = 'stored' AND event_time < ?
           ORDER BY event_time, event_id, kind LIMIT ?`,
        )
        .all(beforeMs, limit) as Row[]
    ).map(fromRow);
  }

  /** Objects whose deletion was begun (and maybe interrupted by a crash). */
  deleting(limit: number): ArchiveObject[] {
    return (this.db.prepare("SELECT * FROM archive_objects WHERE state = 'deleting' LIMIT ?").all(limit) as Row[]).map(
      fromRow,
    );
  }

  /** First step of a deletion: the object no longer counts or shows; the row stays until the store has let it go. */
  markDeleting(eventId: string, kind: ArchiveKind, sha256: string): boolean {
    return (
      this.db
        .prepare(
          "UPDATE archive_objects SET state = 'deleting', updated = ? WHERE event_id = ? AND kind = ? AND sha256 = ?",
        )
        .run(Date.now(), eventId, kind, sha256).changes > 0
    );
  }

  /** Last step of a deletion. */
  remove(eventId: string, kind: ArchiveKind, sha256: string): void {
    this.db
      .prepare("DELETE FROM archive_objects WHERE event_id = ? AND kind = ? AND sha256 = ? AND state = 'deleting'")
      .run(eventId, kind, sha256);
  }
}
