// The VM's event cache: idempotent ingest (the event id is the edge's ULID; a replay changes nothing, a later
// version of the same event updates it), queries, expiry, and per-edge health from telemetry.
import type { Db } from '../../shared/db.ts';

export interface IngestEvent {
  id: string;
  cameraId: string;
  label: string;
  startMs: number;
  endMs: number | null;
  updatedMs: number;
  severity?: string | null;
  verdict?: string | null;
  secondOpinion?: { verdict: string; score: number } | null;
}

export interface CachedEvent {
  eventId: string;
  edgeId: string;
  cameraId: string;
  timestamp: number;
  endTimestamp: number | null;
  eventType: string;
  /** The edge's alert rules' rating ('info' until it is rated). */
  severity: string;
  /** Whether the edge's second look or the owner gave a verdict on it. */
  analyzed: boolean;
  metadata: IngestEvent;
}

export interface EdgeHealth {
  edgeId: string;
  status: 'unknown' | 'healthy' | 'unhealthy' | 'offline';
  reasons: string[];
  lastSeen: number | null;
}

interface EventRow {
  event_id: string;
  edge_id: string;
  camera_id: string;
  timestamp: number;
  end_timestamp: number | null;
  event_type: string;
  severity: string;
  analyzed: number;
  metadata: string;
}

const fromEventRow = (r: EventRow): CachedEvent => ({
  eventId: r.event_id,
  edgeId: r.edge_id,
  cameraId: r.camera_id,
  timestamp: r.timestamp,
  endTimestamp: r.end_timestamp,
  eventType: r.event_type,
  severity: r.severity,
  analyzed: r.analyzed === 1,
  metadata: JSON.parse(r.metadata),
});

export interface EdgeInfo extends EdgeHealth {
  name: string;
  publicKey: string | null;
  version: string | null;
  cameras: unknown[];
  tunnelAddress: string | null;
}

export class VmCache {
  constructor(private readonly db: Db) {}

  upsertEdge(
    edgeId: string,
    fields: { name?: string; version?: string; cameras?: unknown[]; publicKey?: string },
  ): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO edges (edge_id, name, wireguard_public_key, version, cameras, last_seen, created_at, updated_at)
         VALUES (@edgeId, coalesce(@name, @edgeId), @publicKey, @version, coalesce(@cameras, '[]'), @now, @now, @now)
         ON CONFLICT(edge_id) DO UPDATE SET
           name = coalesce(@name, name), version = coalesce(@version, version),
           cameras = coalesce(@cameras, cameras), wireguard_public_key = coalesce(@publicKey, wireguard_public_key),
           last_seen = @now, updated_at = @now`,
      )
      .run({
        edgeId,
        name: fields.name ?? null,
        publicKey: fields.publicKey ?? null,
        version: fields.version ?? null,
        cameras: fields.cameras ? JSON.stringify(fields.cameras) : null,
        now,
      });
  }

  /**
   * Stores a batch in one transaction and returns the ids now held (to acknowledge). An id seen before with the same
   * or an older version changes nothing; a newer version (e.g. the event's end) updates the row.
   */
  ingest<E extends IngestEvent>(
    edgeId: string,
    events: E[],
  ): { acked: string[]; inserted: number; updated: number; results: ('inserted' | 'updated' | 'unchanged')[] } {
    let inserted = 0;
    let updated = 0;
    const results: ('inserted' | 'updated' | 'unchanged')[] = [];
    const insert = this.db.prepare(
      `INSERT INTO events (event_id, edge_id, camera_id, timestamp, end_timestamp, event_type, severity, analyzed, metadata, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING`,
    );
    const update = this.db.prepare(
      `UPDATE events SET end_timestamp = ?, event_type = ?, severity = ?, analyzed = ?, metadata = ?, updated_at = ?
       WHERE event_id = ? AND edge_id = ? AND json_extract(metadata, '$.updatedMs') < ?`,
    );
    this.db.transaction(() => {
      for (const e of events) {
        const now = Date.now();
        const meta = JSON.stringify(e);
        const severity = e.severity ?? 'info';
        // Analysed: the edge's second look, or the owner, gave a verdict.
        const analyzed = e.verdict || e.secondOpinion ? 1 : 0;
        if (
          insert.run(e.id, edgeId, e.cameraId, e.startMs, e.endMs, e.label, severity, analyzed, meta, now, now).changes
        ) {
          inserted++;
          results.push('inserted');
        } else if (update.run(e.endMs, e.label, severity, analyzed, meta, now, e.id, edgeId, e.updatedMs).changes) {
          updated++;
          results.push('updated');
        } else results.push('unchanged');
      }
    })();
    return { acked: events.map((e) => e.id), inserted, updated, results };
  }

  /** The edge was heard from. */
  touch(edgeId: string): void {
    this.db.prepare('UPDATE edges SET last_seen = ? WHERE edge_id = ?').run(Date.now(), edgeId);
  }

  event(eventId: string): CachedEvent | undefined {
    const r = this.db.prepare('SELECT * FROM events WHERE event_id = ?').get(eventId) as EventRow | undefined;
    return r && fromEventRow(r);
  }

  events(
    q: {
      edgeId?: string;
      cameraId?: string;
      type?: string;
      severity?: string;
      fromMs?: number;
      toMs?: number;
      limit?: number;
    } = {},
  ): CachedEvent[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.edgeId) where.push('edge_id = ?') && args.push(q.edgeId);
    if (q.severity) where.push('severity = ?') && args.push(q.severity);
    if (q.cameraId) where.push('camera_id = ?') && args.push(q.cameraId);
    if (q.type) where.push('event_type = ?') && args.push(q.type);
    if (q.fromMs !== undefined) where.push('timestamp >= ?') && args.push(q.fromMs);
    if (q.toMs !== undefined) where.push('timestamp < ?') && args.push(q.toMs);
    const rows = this.db
      .prepare(
        `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY timestamp DESC, event_id DESC LIMIT ?`,
      )
      .all(...args, Math.min(q.limit ?? 100, 1000)) as EventRow[];
    return rows.map(fromEventRow);
  }

  expire(olderThanMs: number): number {
    return this.db.prepare('DELETE FROM events WHERE timestamp < ?').run(olderThanMs).changes;
  }

  /** Records telemetry and judges the edge: healthy, or unhealthy with the reasons. */
  telemetry(
    edgeId: string,
    metrics: {
      cameras?: Record<string, { status?: string }>;
      diskPercent?: number;
      outboxLength?: number;
      [key: string]: unknown;
    },
  ): EdgeHealth {
    const now = Date.now();
    const reasons: string[] = [];
    for (const [id, c] of Object.entries(metrics.cameras ?? {}))
      if (c.status && c.status !== 'online') reasons.push(`camera ${id} ${c.status}`);
    if ((metrics.diskPercent ?? 0) > 95) reasons.push(`disk ${metrics.diskPercent}% full`);
    if ((metrics.outboxLength ?? 0) > 1000) reasons.push(`${metrics.outboxLength} items waiting to be delivered`);
    const status = reasons.length ? 'unhealthy' : 'healthy';
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO telemetry (edge_id, timestamp, metrics_json, created_at) VALUES (?, ?, ?, ?)')
        .run(edgeId, now, JSON.stringify(metrics), now);
      this.db
        .prepare('UPDATE edges SET status = ?, status_reasons = ?, last_seen = ?, updated_at = ? WHERE edge_id = ?')
        .run(status, JSON.stringify(reasons), now, now, edgeId);
      // Cameras keep their current status; a camera added on the edge after hello appears from its telemetry.
      const row = this.db.prepare('SELECT cameras FROM edges WHERE edge_id = ?').get(edgeId) as
        | { cameras: string }
        | undefined;
      if (row && metrics.cameras) {
        const known = JSON.parse(row.cameras) as { id: string; status?: string }[];
        const cameras: { id: string; status?: string }[] = known.map((c) => ({
          ...c,
          status: metrics.cameras?.[c.id]?.status ?? c.status,
        }));
        for (const [id, c] of Object.entries(metrics.cameras))
          if (!known.some((k) => k.id === id)) cameras.push({ id, ...(c.status ? { status: c.status } : {}) });
        this.db.prepare('UPDATE edges SET cameras = ? WHERE edge_id = ?').run(JSON.stringify(cameras), edgeId);
      }
    })();
    return { edgeId, status, reasons, lastSeen: now };
  }

  /** Edges not heard from for offlineAfterMs are offline, whatever they said last. */
  health(offlineAfterMs = 90_000): EdgeHealth[] {
    return this.edges(offlineAfterMs).map(({ edgeId, status, reasons, lastSeen }) => ({
      edgeId,
      status,
      reasons,
      lastSeen,
    }));
  }

  /** The paired edges with what they announced and their health. */
  edges(offlineAfterMs = 90_000): EdgeInfo[] {
    const rows = this.db.prepare('SELECT * FROM edges ORDER BY edge_id').all() as {
      edge_id: string;
      name: string;
      wireguard_public_key: string | null;
      version: string | null;
      cameras: string;
      tunnel_address: string | null;
      status: EdgeHealth['status'];
      status_reasons: string;
      last_seen: number | null;
    }[];
    return rows.map((r) => {
      const stale = !r.last_seen || Date.now() - r.last_seen > offlineAfterMs;
      return {
        edgeId: r.edge_id,
        name: r.name,
        publicKey: r.wireguard_public_key,
        version: r.version,
        cameras: JSON.parse(r.cameras),
        tunnelAddress: r.tunnel_address,
        status: stale ? 'offline' : r.status,
        reasons: stale ? ['not heard from'] : JSON.parse(r.status_reasons),
        lastSeen: r.last_seen,
      };
    });
  }

  telemetryHistory(edgeId: string, sinceMs: number): { timestamp: number; metrics: unknown }[] {
    return (
      this.db
        .prepare(
          'SELECT timestamp, metrics_json FROM telemetry WHERE edge_id = ? AND timestamp >= ? ORDER BY timestamp',
        )
        .all(edgeId, sinceMs) as {
        timestamp: number;
        metrics_json: string;
      }[]
    ).map((r) => ({ timestamp: r.timestamp, metrics: JSON.parse(r.metrics_json) }));
  }
}
