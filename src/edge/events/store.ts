// Events in SQLite: written with their outbox entry in one transaction, queried with cursor pagination.
import { ulid } from 'ulidx';
import type { EventJson, EventRecord } from '../../shared/api-types.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError, ValidationError } from '../../shared/errors.ts';
import type { Outbox } from './outbox.ts';

export type { EventRecord };

const columns = [
  'id',
  'camera_id',
  'track_id',
  'label',
  'labels',
  'zones',
  'start_ms',
  'end_ms',
  'max_score',
  'mean_score',
  'detections',
  'box_path',
  'snapshot',
  'snapshot_box',
  'thumbnail',
  'clip',
  'protected',
  'updated_ms',
  'severity',
  'verdict',
  'second_opinion',
] as const;
const insertSql = `INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
const updateSql = `UPDATE events SET ${columns
  .filter((c) => c !== 'id')
  .map((c) => `${c} = @${c}`)
  .join(', ')} WHERE id = @id`;

/** The row's columns for a record: one mapping for insert and update. */
const toColumns = (e: EventRecord): Record<(typeof columns)[number], string | number | null> => ({
  id: e.id,
  camera_id: e.cameraId,
  track_id: e.trackId,
  label: e.label,
  labels: JSON.stringify(e.labels),
  zones: JSON.stringify(e.zones),
  start_ms: e.startMs,
  end_ms: e.endMs,
  max_score: e.maxScore,
  mean_score: e.meanScore,
  detections: e.detections,
  box_path: JSON.stringify(e.boxPath),
  snapshot: e.snapshot,
  snapshot_box: e.snapshotBox ? JSON.stringify(e.snapshotBox) : null,
  thumbnail: e.thumbnail,
  clip: e.clip,
  protected: e.protected ? 1 : 0,
  updated_ms: e.updatedMs,
  severity: e.severity,
  verdict: e.verdict,
  second_opinion: e.secondOpinion ? JSON.stringify(e.secondOpinion) : null,
});

interface Row {
  id: string;
  camera_id: string;
  track_id: number;
  label: string;
  labels: string;
  zones: string;
  start_ms: number;
  end_ms: number | null;
  max_score: number;
  mean_score: number;
  detections: number;
  box_path: string;
  snapshot: string | null;
  snapshot_box: string | null;
  thumbnail: string | null;
  clip: string | null;
  protected: number;
  updated_ms: number;
  severity: string | null;
  verdict: EventRecord['verdict'];
  second_opinion: string | null;
}

const fromRow = (r: Row): EventRecord => ({
  id: r.id,
  cameraId: r.camera_id,
  trackId: r.track_id,
  label: r.label,
  labels: JSON.parse(r.labels),
  zones: JSON.parse(r.zones),
  startMs: r.start_ms,
  endMs: r.end_ms,
  maxScore: r.max_score,
  meanScore: r.mean_score,
  detections: r.detections,
  boxPath: JSON.parse(r.box_path),
  snapshot: r.snapshot,
  snapshotBox: r.snapshot_box ? JSON.parse(r.snapshot_box) : null,
  thumbnail: r.thumbnail,
  clip: r.clip,
  protected: r.protected === 1,
  updatedMs: r.updated_ms,
  severity: r.severity,
  verdict: r.verdict,
  secondOpinion: r.second_opinion ? JSON.parse(r.second_opinion) : null,
});

export interface EventQuery {
  camera?: string;
  label?: string;
  fromMs?: number;
  toMs?: number;
  limit?: number;
  cursor?: string;
}

/** What goes to the owner's server: the event without local file names. */
export function eventPayload(e: EventRecord): EventJson {
  const { snapshot, thumbnail, clip, snapshotBox, ...rest } = e;
  return { ...rest, hasSnapshot: Boolean(snapshot), hasClip: Boolean(clip) };
}

export type EventChange = 'start' | 'update' | 'end';

export class EventStore {
  private readonly listeners: ((change: EventChange, e: EventRecord) => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly outbox: Outbox,
  ) {}

  /** Called after each event is created or changed (alerts, Home Assistant). A listener that throws is its bug. */
  onChange(listener: (change: EventChange, e: EventRecord) => void): void {
    this.listeners.push(listener);
  }

  private changed(change: EventChange, e: EventRecord): void {
    for (const l of this.listeners) l(change, e);
  }

  create(
    e: Omit<EventRecord, 'id' | 'updatedMs' | 'protected' | 'snapshotBox' | 'severity' | 'verdict' | 'secondOpinion'>,
  ): EventRecord {
    const id = ulid(e.startMs);
    const record: EventRecord = {
      ...e,
      id,
      snapshotBox: null,
      protected: false,
      updatedMs: Date.now(),
      severity: null,
      verdict: null,
      secondOpinion: null,
    };
    this.db.transaction(() => {
      this.db.prepare(insertSql).run(toColumns(record));
      this.outbox.enqueue('event.start', id, eventPayload(record), 1);
    })();
    this.changed('start', record);
    return record;
  }

  /** Updates an event; `kind` names the outbox message that carries the change (none for local-only changes). */
  update(id: string, patch: Partial<Omit<EventRecord, 'id'>>, kind?: 'event.update' | 'event.end'): EventRecord {
    const next = this.db
      .transaction(() => {
        const current = this.get(id);
        if (!current) throw new GuardianError('NOT_FOUND', `no event ${id}`);
        const next: EventRecord = { ...current, ...patch, id, updatedMs: Date.now() };
        this.db.prepare(updateSql).run(toColumns(next));
        if (kind) this.outbox.enqueue(kind, id, eventPayload(next), kind === 'event.end' ? 2 : 5);
        return next;
      })
      .immediate(); // read-then-write: take the write lock first, or a concurrent writer makes the upgrade fail
    this.changed(kind === 'event.end' ? 'end' : 'update', next);
    return next;
  }

  /**
   * Events a crash left open (the main process killed while they ran): ended where they were last written, and
   * sent on as ends, so that none stays open for ever on the box or on the owner's server. Called at start.
   */
  endAbandoned(): EventRecord[] {
    const open = this.db.prepare('SELECT id FROM events WHERE end_ms IS NULL').pluck().all() as string[];
    return open.flatMap((id) => {
      const ev = this.get(id);
      if (!ev) return [];
      // The last box seen (the path is written every 2 s while the event runs), else its start.
      const lastSeen = ev.boxPath.at(-1)?.[0] ?? ev.startMs;
      return [this.update(id, { endMs: Math.max(ev.startMs, lastSeen) }, 'event.end')];
    });
  }

  get(id: string): EventRecord | undefined {
    const r = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** Newest first. The cursor is opaque: the last row's (start, id); a cursor not from here is a ValidationError. */
  list(q: EventQuery = {}): { events: EventRecord[]; nextCursor: string | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.camera) where.push('camera_id = ?') && args.push(q.camera);
    if (q.label) where.push('label = ?') && args.push(q.label);
    if (q.fromMs !== undefined) where.push('start_ms >= ?') && args.push(q.fromMs);
    if (q.toMs !== undefined) where.push('start_ms < ?') && args.push(q.toMs);
    if (q.cursor) {
      const [start, id] = decodeCursor(q.cursor);
      where.push('(start_ms < ? OR (start_ms = ? AND id < ?))');
      args.push(start, start, id);
    }
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
    const rows = this.db
      .prepare(
        `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_ms DESC, id DESC LIMIT ?`,
      )
      .all(...args, limit + 1) as Row[];
    const events = rows.slice(0, limit).map(fromRow);
    const last = events.at(-1);
    return {
      events,
      nextCursor:
        rows.length > limit && last ? Buffer.from(JSON.stringify([last.startMs, last.id])).toString('base64url') : null,
    };
  }

  expired(beforeMs: number): EventRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM events WHERE protected = 0 AND end_ms IS NOT NULL AND end_ms < ?')
        .all(beforeMs) as Row[]
    ).map(fromRow);
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM events WHERE id = ?').run(id);
  }

  /** Events of this camera and label the owner marked false positives since `sinceMs`. */
  falsePositives(cameraId: string, label: string, sinceMs: number): EventRecord[] {
    return (
      this.db
        .prepare(
          "SELECT * FROM events WHERE camera_id = ? AND label = ? AND verdict = 'false_positive' AND start_ms >= ?",
        )
        .all(cameraId, label, sinceMs) as Row[]
    ).map(fromRow);
  }

  /** Events in all, or those that started at or after `fromMs` (by the start index, without loading a row). */
  count(fromMs?: number): number {
    if (fromMs === undefined) return this.db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    return this.db.prepare('SELECT count(*) FROM events WHERE start_ms >= ?').pluck().get(fromMs) as number;
  }
}

/** A cursor back into (start, id), or a ValidationError: it comes from the client, whatever we once sent. */
function decodeCursor(cursor: string): [number, string] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    v = null;
  }
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    Number.isSafeInteger(v[0]) &&
    typeof v[1] === 'string' &&
    /^[\w-]{1,80}$/.test(v[1])
  )
    return [v[0], v[1]];
  throw new ValidationError([{ field: 'query.cursor', message: 'not a cursor from this API' }]);
}
