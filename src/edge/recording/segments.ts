// The segment index: every finished recording segment in SQLite, paths relative to the recordings root.
import { isAbsolute, join, normalize, relative } from 'node:path';

import type { Db } from '../../shared/db.ts';

export type Retain = 'continuous' | 'event' | 'protected';

export interface Segment {
  id: number;
  cameraId: string;
  /** Relative to the recordings root. */
  path: string;
  startMs: number;
  endMs: number;
  duration: number;
  bytes: number;
  frames: number;
  retain: Retain;
}

interface Row {
  id: number;
  camera_id: string;
  path: string;
  start_ms: number;
  end_ms: number;
  duration: number;
  bytes: number;
  frames: number;
  retain: Retain;
}

const toSegment = (r: Row): Segment => ({
  id: r.id,
  cameraId: r.camera_id,
  path: r.path,
  startMs: r.start_ms,
  endMs: r.end_ms,
  duration: r.duration,
  bytes: r.bytes,
  frames: r.frames,
  retain: r.retain,
});

export class SegmentIndex {
  constructor(
    private readonly db: Db,
    readonly root: string,
  ) {}

  /** Absolute path of a segment; refuses anything that would leave the recordings root. */
  absolute(seg: Pick<Segment, 'path'>): string {
    const p = normalize(join(this.root, seg.path));
    if (!p.startsWith(`${normalize(this.root)}/`))
      throw new Error(`segment path escapes the recordings root: ${seg.path}`);
    return p;
  }

  relative(path: string): string {
    const rel = relative(this.root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside the recordings root`);
    return rel;
  }

  add(s: Omit<Segment, 'id' | 'retain'> & { retain?: Retain }): Segment {
    const row = this.db
      .prepare(
        `INSERT INTO segments (camera_id, path, start_ms, end_ms, duration, bytes, frames, retain, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET end_ms = excluded.end_ms, duration = excluded.duration,
           bytes = excluded.bytes, frames = excluded.frames
         RETURNING *`,
      )
      .get(
        s.cameraId,
        s.path,
        Math.round(s.startMs),
        Math.round(s.endMs),
        s.duration,
        s.bytes,
        s.frames,
        s.retain ?? 'continuous',
        Date.now(),
      ) as Row;
    return toSegment(row);
  }

  get(id: number): Segment | undefined {
    const r = this.db.prepare('SELECT * FROM segments WHERE id = ?').get(id) as Row | undefined;
    return r && toSegment(r);
  }

  /** Segments of a camera overlapping [startMs, endMs], in time order. */
  overlapping(cameraId: string, startMs: number, endMs: number): Segment[] {
    return (
      this.db
        .prepare('SELECT * FROM segments WHERE camera_id = ? AND end_ms > ? AND start_ms < ? ORDER BY start_ms')
        .all(cameraId, startMs, endMs) as Row[]
    ).map(toSegment);
  }

  list(cameraId?: string): Segment[] {
    const rows = cameraId
      ? this.db.prepare('SELECT * FROM segments WHERE camera_id = ? ORDER BY start_ms').all(cameraId)
      : this.db.prepare('SELECT * FROM segments ORDER BY start_ms').all();
    return (rows as Row[]).map(toSegment);
  }

  /** Oldest segments that may be deleted to free space (never protected ones). */
  oldestEvictable(limit: number): Segment[] {
    return (
      this.db
        .prepare("SELECT * FROM segments WHERE retain != 'protected' ORDER BY start_ms LIMIT ?")
        .all(limit) as Row[]
    ).map(toSegment);
  }

  expired(retain: Retain, olderThanMs: number): Segment[] {
    return (
      this.db
        .prepare('SELECT * FROM segments WHERE retain = ? AND end_ms < ? ORDER BY start_ms')
        .all(retain, olderThanMs) as Row[]
    ).map(toSegment);
  }

  /** Marks segments overlapping an interval (an event with its pre/post roll) so they follow event retention. */
  markRetain(cameraId: string, startMs: number, endMs: number, retain: Retain): number {
    return this.db
      .prepare(
        `UPDATE segments SET retain = ? WHERE camera_id = ? AND end_ms > ? AND start_ms < ?
           AND (retain = 'continuous' OR ? = 'protected')`,
      )
      .run(retain, cameraId, startMs, endMs, retain).changes;
  }

  setRetain(id: number, retain: Retain): void {
    this.db.prepare('UPDATE segments SET retain = ? WHERE id = ?').run(retain, id);
  }

  remove(id: number): void {
    this.db.prepare('DELETE FROM segments WHERE id = ?').run(id);
  }

  paths(): Set<string> {
    return new Set(this.db.prepare('SELECT path FROM segments').pluck().all() as string[]);
  }

  totals(): { count: number; bytes: number } {
    return this.db.prepare('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM segments').get() as {
      count: number;
      bytes: number;
    };
  }
}
