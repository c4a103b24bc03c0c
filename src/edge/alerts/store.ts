// Alerts as the edge keeps them: each with one delivery per channel it goes to (pending, sent or failed, with its
// attempts and last error), so that an alert survives a restart or a channel being down, and the owner can see what
// reached them (GET /api/alerts). Also the browsers subscribed to Web Push.
import { monotonicFactory } from 'ulidx';
import type { AlertKind, AlertMessage, ChannelName, Severity } from '../../shared/alerts/types.ts';
import type { PushSubscriptionRecord } from '../../shared/alerts/webpush.ts';
import type { AlertDeliveryView, AlertSuppressionView, AlertView } from '../../shared/api-types.ts';
import type { Db } from '../../shared/db.ts';

/** Alert ids: ULIDs, increasing even within one millisecond, so the list's order is the order they were raised. */
export const newAlertId = monotonicFactory();

export type DeliveryState = AlertDeliveryView['state'];
export type AlertDelivery = AlertDeliveryView;
/** As stored and listed; kinds and severities are the shared ones (api-types spells them for the UI). */
export type StoredAlert = Omit<AlertView, 'kind'> & { kind: AlertKind };

export type Suppression = AlertSuppressionView;

interface AlertRow {
  id: string;
  incident: string;
  kind: AlertKind;
  severity: Severity;
  camera_id: string | null;
  title: string;
  message: string;
  labels: string;
  zones: string;
  event_ids: string;
  created_ms: number;
}

interface DeliveryRow {
  alert_id: string;
  channel: ChannelName;
  state: DeliveryState;
  attempts: number;
  next_ms: number;
  last_error: string | null;
  sent_ms: number | null;
}

const deliveryOf = (r: DeliveryRow): AlertDelivery => ({
  channel: r.channel,
  state: r.state,
  attempts: r.attempts,
  nextMs: r.next_ms,
  lastError: r.last_error,
  sentMs: r.sent_ms,
});

export class AlertStore {
  constructor(private readonly db: Db) {}

  /** Stores the alert with a pending delivery for each channel (none: recorded, sent nowhere). */
  add(a: Omit<StoredAlert, 'deliveries'>, channels: ChannelName[]): StoredAlert {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO alerts (id, incident, kind, severity, camera_id, title, message, labels, zones, event_ids, created_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          a.id,
          a.incident,
          a.kind,
          a.severity,
          a.cameraId,
          a.title,
          a.message,
          JSON.stringify(a.labels),
          JSON.stringify(a.zones),
          JSON.stringify(a.eventIds),
          a.createdMs,
        );
      const add = this.db.prepare(
        "INSERT INTO alert_deliveries (alert_id, channel, state, next_ms) VALUES (?, ?, 'pending', ?)",
      );
      for (const c of channels) add.run(a.id, c, a.createdMs);
    })();
    return this.get(a.id) as StoredAlert;
  }

  get(id: string): StoredAlert | undefined {
    const row = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
    return row && this.withDeliveries([row])[0];
  }

  /** Newest first; `beforeId` pages back. */
  list(q: { limit?: number; beforeId?: string; cameraId?: string } = {}): StoredAlert[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.beforeId) where.push('id < ?') && args.push(q.beforeId);
    if (q.cameraId) where.push('camera_id = ?') && args.push(q.cameraId);
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
    const rows = this.db
      .prepare(`SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, limit) as AlertRow[];
    return this.withDeliveries(rows);
  }

  private withDeliveries(rows: AlertRow[]): StoredAlert[] {
    if (!rows.length) return [];
    const deliveries = this.db
      .prepare(`SELECT * FROM alert_deliveries WHERE alert_id IN (${rows.map(() => '?').join(',')})`)
      .all(...rows.map((r) => r.id)) as DeliveryRow[];
    return rows.map((r) => ({
      id: r.id,
      incident: r.incident,
      kind: r.kind,
      severity: r.severity,
      cameraId: r.camera_id,
      title: r.title,
      message: r.message,
      labels: JSON.parse(r.labels) as string[],
      zones: JSON.parse(r.zones) as string[],
      eventIds: JSON.parse(r.event_ids) as string[],
      createdMs: r.created_ms,
      deliveries: deliveries.filter((d) => d.alert_id === r.id).map(deliveryOf),
    }));
  }

  /** Pending deliveries due by `nowMs`, oldest first. */
  due(nowMs: number, limit = 50): { alertId: string; channel: ChannelName; attempts: number; createdMs: number }[] {
    return (
      this.db
        .prepare(
          `SELECT d.alert_id, d.channel, d.attempts, a.created_ms FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
           WHERE d.state = 'pending' AND d.next_ms <= ? ORDER BY d.next_ms, d.alert_id LIMIT ?`,
        )
        .all(nowMs, limit) as { alert_id: string; channel: ChannelName; attempts: number; created_ms: number }[]
    ).map((r) => ({ alertId: r.alert_id, channel: r.channel, attempts: r.attempts, createdMs: r.created_ms }));
  }

  /** When the next pending delivery is due (to sleep until then), or null. */
  nextDueMs(): number | null {
    return (
      (this.db.prepare("SELECT min(next_ms) FROM alert_deliveries WHERE state = 'pending'").pluck().get() as
        | number
        | null) ?? null
    );
  }

  sent(alertId: string, channel: ChannelName, atMs: number): void {
    this.db
      .prepare(
        "UPDATE alert_deliveries SET state = 'sent', attempts = attempts + 1, sent_ms = ?, last_error = NULL WHERE alert_id = ? AND channel = ?",
      )
      .run(atMs, alertId, channel);
  }

  /** A failed attempt: tried again at `retryAtMs`, or given up (failed) when that is null. */
  attemptFailed(alertId: string, channel: ChannelName, error: string, retryAtMs: number | null): void {
    this.db
      .prepare(
        'UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, next_ms = ?, last_error = ? WHERE alert_id = ? AND channel = ?',
      )
      .run(retryAtMs === null ? 'failed' : 'pending', retryAtMs ?? 0, error.slice(0, 500), alertId, channel);
  }

  /** A delivery made outside the queue (a test alert): recorded as sent or failed, never retried. */
  recordDelivery(alertId: string, channel: ChannelName, atMs: number, error: string | null): void {
    this.db
      .prepare(
        `INSERT INTO alert_deliveries (alert_id, channel, state, attempts, next_ms, last_error, sent_ms)
         VALUES (?, ?, ?, 1, 0, ?, ?)`,
      )
      .run(alertId, channel, error ? 'failed' : 'sent', error?.slice(0, 500) ?? null, error ? null : atMs);
  }

  /** Over the channel's rate: waits until `atMs` without counting as an attempt. */
  postpone(alertId: string, channel: ChannelName, atMs: number): void {
    this.db
      .prepare('UPDATE alert_deliveries SET next_ms = ? WHERE alert_id = ? AND channel = ?')
      .run(atMs, alertId, channel);
  }

  /** Alerts older than `beforeMs` go, with their deliveries. */
  prune(beforeMs: number): number {
    return this.db.prepare('DELETE FROM alerts WHERE created_ms < ?').run(beforeMs).changes;
  }

  message(
    a: StoredAlert,
    extra: { edgeId: string | null; cameraName: string | null; url: string | null },
  ): AlertMessage {
    return {
      id: a.id,
      kind: a.kind,
      severity: a.severity,
      title: a.title,
      message: a.message,
      createdMs: a.createdMs,
      edgeId: extra.edgeId,
      cameraId: a.cameraId,
      cameraName: extra.cameraName,
      labels: a.labels,
      zones: a.zones,
      eventIds: a.eventIds,
      url: extra.url,
    };
  }

  /** What false positives taught: events of this kind there alert only from min_score up (see AlertService.verdict). */
  suppressions(): Suppression[] {
    return (
      this.db.prepare('SELECT * FROM alert_suppressions ORDER BY created_ms DESC').all() as {
        id: string;
        camera_id: string;
        label: string;
        zone: string;
        min_score: number;
        false_positives: number;
        created_ms: number;
      }[]
    ).map((r) => ({
      id: r.id,
      cameraId: r.camera_id,
      label: r.label,
      zone: r.zone,
      minScore: r.min_score,
      falsePositives: r.false_positives,
      createdMs: r.created_ms,
    }));
  }

  /** The score an event needs to alert there (0: no suppression). A zone-less one applies anywhere on the camera. */
  minScore(cameraId: string, label: string, zones: string[]): number {
    const rows = this.db
      .prepare('SELECT zone, min_score FROM alert_suppressions WHERE camera_id = ? AND label = ?')
      .all(cameraId, label) as { zone: string; min_score: number }[];
    return Math.max(0, ...rows.filter((r) => r.zone === '' || zones.includes(r.zone)).map((r) => r.min_score));
  }

  suppress(s: Omit<Suppression, 'id' | 'createdMs'>): void {
    this.db
      .prepare(
        `INSERT INTO alert_suppressions (id, camera_id, label, zone, min_score, false_positives, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (camera_id, label, zone) DO UPDATE SET min_score = excluded.min_score, false_positives = excluded.false_positives`,
      )
      .run(newAlertId(), s.cameraId, s.label, s.zone, s.minScore, s.falsePositives, Date.now());
  }

  unsuppress(id: string): boolean {
    return this.db.prepare('DELETE FROM alert_suppressions WHERE id = ?').run(id).changes > 0;
  }

  subscribe(s: PushSubscriptionRecord, label: string): void {
    this.db
      .prepare(
        `INSERT INTO push_subscriptions (endpoint, p256dh, auth, label, created_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, label = excluded.label`,
      )
      .run(s.endpoint, s.keys.p256dh, s.keys.auth, label.slice(0, 100), Date.now());
  }

  unsubscribe(endpoint: string): boolean {
    return this.db.prepare('DELETE FROM push_subscriptions WHERE endpoint = ?').run(endpoint).changes > 0;
  }

  subscriptions(): (PushSubscriptionRecord & { label: string; createdMs: number })[] {
    return (
      this.db.prepare('SELECT * FROM push_subscriptions ORDER BY created_ms').all() as {
        endpoint: string;
        p256dh: string;
        auth: string;
        label: string;
        created_ms: number;
      }[]
    ).map((r) => ({
      endpoint: r.endpoint,
      keys: { p256dh: r.p256dh, auth: r.auth },
      label: r.label,
      createdMs: r.created_ms,
    }));
  }
}
