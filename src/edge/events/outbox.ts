// The outbox: a persistent queue of what must reach the owner's server, written in the same transaction as the
// change it reports, retried with exponential backoff, bounded in size (lowest priority and oldest dropped first).
import { backoffDelay } from '../../shared/backoff.ts';
import type { Db } from '../../shared/db.ts';

export interface OutboxItem {
  id: number;
  kind: string;
  ref: string;
  priority: number;
  payload: unknown;
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
}

export interface OutboxLimits {
  maxItems: number;
  maxBytes: number;
  /** Doubling from initialMs up to maxMs, ±20 % jitter. */
  backoff: { initialMs: number; maxMs: number };
}

export const defaultOutboxLimits: OutboxLimits = {
  maxItems: 100_000,
  maxBytes: 256 * 1024 * 1024,
  backoff: { initialMs: 1000, maxMs: 5 * 60_000 },
};

export class Outbox {
  /** Called after something is queued (the link delivers it at once). */
  onEnqueue: (() => void) | undefined;

  constructor(
    private readonly db: Db,
    readonly limits: OutboxLimits = defaultOutboxLimits,
  ) {}

  enqueue(kind: string, ref: string, payload: unknown, priority = 5): number {
    const body = JSON.stringify(payload);
    const id = this.db
      .prepare(
        'INSERT INTO outbox (kind, ref, priority, payload, bytes, next_attempt_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(kind, ref, priority, body, Buffer.byteLength(body), Date.now(), Date.now()).lastInsertRowid as number;
    this.trim();
    if (this.onEnqueue) queueMicrotask(this.onEnqueue);
    return id;
  }

  private trim(): void {
    const { n, bytes } = this.db
      .prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM outbox')
      .get() as {
      n: number;
      bytes: number;
    };
    if (n <= this.limits.maxItems && bytes <= this.limits.maxBytes) return;
    const excess = Math.max(n - this.limits.maxItems, 1);
    this.db
      .prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY priority DESC, id ASC LIMIT ?)')
      .run(excess);
  }

  /** Items due now, most urgent first. */
  due(limit: number, now = Date.now()): OutboxItem[] {
    const rows = this.db
      .prepare('SELECT * FROM outbox WHERE next_attempt_ms <= ? ORDER BY priority, id LIMIT ?')
      .all(now, limit) as {
      id: number;
      kind: string;
      ref: string;
      priority: number;
      payload: string;
      attempts: number;
      next_attempt_ms: number;
      last_error: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      ref: r.ref,
      priority: r.priority,
      payload: JSON.parse(r.payload),
      attempts: r.attempts,
      nextAttemptMs: r.next_attempt_ms,
      lastError: r.last_error,
    }));
  }

  ack(id: number): void {
    this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
  }

  /** Failed delivery: try again after an exponentially growing, capped, jittered delay. */
  fail(id: number, error: string, now = Date.now()): number {
    const row = this.db.prepare('SELECT attempts FROM outbox WHERE id = ?').get(id) as { attempts: number } | undefined;
    if (!row) return 0;
    const delay = backoffDelay(row.attempts, { ...this.limits.backoff, factor: 2, jitter: 0.2 });
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?')
      .run(Math.round(now + delay), error.slice(0, 500), id);
    return delay;
  }

  /** The link is back: everything waiting goes now instead of after its backoff. */
  retryNow(): void {
    this.db.prepare('UPDATE outbox SET next_attempt_ms = 0 WHERE next_attempt_ms > ?').run(Date.now());
  }

  length(): number {
    return this.db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
  }
}
