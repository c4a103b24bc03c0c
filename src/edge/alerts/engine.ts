// Turns what happens into alerts: events rated by the owner's rules (rated again as they go on, so a person who
// lingers or walks into a zone can become critical), cameras offline for too long, recording paused. Alerts of one
// incident (a camera, a label and a severity, events less than `incidentSeconds` apart) are one alert and, once the
// incident is over, one summary of the rest: one push per incident, not one per event or frame. Home Assistant's
// MQTT states follow every event, whatever its severity.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type AlertsConfig, VEHICLE_LABELS } from '../../shared/alerts/config.ts';
import { type AlertKind, type ChannelName, type Severity, severityRank } from '../../shared/alerts/types.ts';
import type { EventRecord } from '../../shared/api-types.ts';
import type { Logger } from '../../shared/log.ts';
import { secondLookApplies } from '../detect/second-look.ts';
import type { AlertChannels } from './channels.ts';
import type { AlertDispatcher } from './dispatcher.ts';
import type { MqttObject } from './mqtt.ts';
import { rateEvent } from './severity.ts';
import { type AlertStore, newAlertId, type StoredAlert } from './store.ts';

export type EventChange = 'start' | 'update' | 'end';

export interface EngineDeps {
  store: AlertStore;
  channels: AlertChannels;
  dispatcher: AlertDispatcher;
  config: () => AlertsConfig;
  cameraName: (cameraId: string) => string;
  /** The event as stored now (a held alert is rated again from it). */
  event?: (eventId: string) => EventRecord | undefined;
  /** Writes the rating to the event (it goes to the owner's server and the UI with it). */
  setSeverity?: (eventId: string, severity: Severity) => void;
  dataDir: string;
  log: Logger;
  now?: () => number;
}

interface Incident {
  alertId: string;
  firstMs: number;
  lastMs: number;
  /** Events after the first, for the summary. */
  more: string[];
  labels: Set<string>;
  zones: Set<string>;
}

/** An incident is closed after this many incidentSeconds even if it goes on, so a long one still gets summaries. */
const MAX_INCIDENT_WINDOWS = 12;

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });

export function mqttObjectOf(label: string): MqttObject | null {
  if (label === 'person' || label === 'unusual' || label === 'tamper') return label;
  return VEHICLE_LABELS.includes(label) ? 'vehicle' : null;
}

export class AlertEngine {
  /** Events seen starting in this run, with the highest severity already alerted for each. */
  private readonly live = new Map<string, Severity | null>();
  private readonly incidents = new Map<string, Incident>();
  /** Camera → when it went offline, and whether that was alerted. */
  private readonly offline = new Map<string, { sinceMs: number; alerted: boolean; lastError: string | null }>();
  /** Camera → MQTT object → its running events (the binary sensor is on while any runs). */
  private readonly activeObjects = new Map<string, Map<MqttObject, Set<string>>>();
  private readonly snapshotsPublished = new Set<string>();
  /** Object events waiting for the second look (it comes with the snapshot), with the timer that stops waiting. */
  private readonly held = new Map<string, NodeJS.Timeout>();
  private readonly waited = new Set<string>();
  private readonly lastSystem = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly d: EngineDeps) {
    this.now = d.now ?? Date.now;
  }

  private stopped = false;

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.guarded('closing incidents', () => this.tick()), 5_000);
    this.timer.unref();
  }

  /** After this nothing is rated (late changes, such as a clip cut after the stop, alert nothing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.held.values()) clearTimeout(t);
    this.held.clear();
  }

  eventChanged(change: EventChange, ev: EventRecord): void {
    if (this.stopped) return;
    this.forwardToMqtt(change, ev);
    if (change === 'start') this.live.set(ev.id, null);
    // Only events this run saw start: protecting an old event, or ending one a crash left open, alerts nothing.
    if (!this.live.has(ev.id)) return;
    this.rate(ev);
    // An event that ends while its alert waits for the second look is rated once the wait is over.
    if (ev.endMs !== null && !this.held.has(ev.id)) this.live.delete(ev.id);
  }

  private rate(ev: EventRecord): void {
    const config = this.d.config();
    if (this.waitForSecondLook(ev, config)) return;
    const lastSeen = ev.endMs ?? ev.boxPath.at(-1)?.[0] ?? ev.startMs;
    const rated = rateEvent(config, {
      cameraId: ev.cameraId,
      label: ev.label,
      zones: ev.zones,
      dwellSeconds: Math.max(0, lastSeen - ev.startMs) / 1000,
      atMs: this.now(),
    }).severity;
    // Below what the owner's false positives here taught (AlertService.verdict), or not seen by the closer look: not
    // an alert, until it scores higher or a better view is confirmed.
    const severity: Severity =
      ev.maxScore < this.d.store.minScore(ev.cameraId, ev.label, ev.zones) ||
      (config.secondLook.enabled && ev.secondOpinion?.verdict === 'false_positive')
        ? 'false_positive'
        : rated;
    const before = this.live.get(ev.id) ?? null;
    if (before !== null && severityRank[severity] <= severityRank[before]) return;
    this.live.set(ev.id, severity);
    // The rating is kept with the event when the database takes it (a full disk refuses writes: the alert still goes).
    if (ev.severity !== severity) this.guarded('storing the rating', () => this.d.setSeverity?.(ev.id, severity));
    if (severity === 'false_positive') return;
    const channels = this.d.channels.wanting(severity);
    // A normal event no channel asked for is an event, not an alert.
    if (!channels.length && severityRank[severity] < severityRank.warning) return;

    const key = `${ev.cameraId}|${ev.label}|${severity}`;
    const now = this.now();
    const open = this.incidents.get(key);
    if (open) {
      open.lastMs = now;
      if (!open.more.includes(ev.id)) open.more.push(ev.id);
      for (const z of ev.zones) open.zones.add(z);
      return;
    }
    const kind: AlertKind = ev.label === 'tamper' ? 'tamper' : ev.label === 'unusual' ? 'unusual' : 'object';
    const camera = this.d.cameraName(ev.cameraId);
    const where = ev.zones.length ? ` in ${ev.zones.join(', ')}` : '';
    const title =
      kind === 'tamper'
        ? `Camera tampered with: ${camera}`
        : kind === 'unusual'
          ? `Unusual activity at ${camera}`
          : `${capital(ev.label)} at ${camera}`;
    const what = kind === 'object' ? ev.label : ev.labels.filter((l) => l !== ev.label).join(', ') || ev.label;
    const dwell = Math.round((lastSeen - ev.startMs) / 1000);
    const alert = this.raise(
      {
        incident: key,
        kind,
        severity,
        cameraId: ev.cameraId,
        title,
        message: `${what}${where} at ${clock(ev.startMs)}${dwell >= 10 ? `, there for ${dwell} s` : ''}`,
        labels: ev.labels,
        zones: ev.zones,
        eventIds: [ev.id],
      },
      channels,
    );
    this.incidents.set(key, {
      alertId: alert.id,
      firstMs: now,
      lastMs: now,
      more: [],
      labels: new Set(ev.labels),
      zones: new Set(ev.zones),
    });
  }

  /**
   * Whether to hold this event's rating until the second look's verdict arrives (with the snapshot, ~15 ms after
   * the event starts), at most secondLook.waitSeconds: a person or vehicle is not alerted before it is looked at.
   */
  private waitForSecondLook(ev: EventRecord, config: AlertsConfig): boolean {
    const waiting = this.held.get(ev.id);
    if (ev.secondOpinion || !config.secondLook.enabled || !secondLookApplies(ev.label) || this.waited.has(ev.id)) {
      if (waiting) clearTimeout(waiting);
      this.held.delete(ev.id);
      return false;
    }
    if (!waiting) {
      const timer = setTimeout(() => {
        this.held.delete(ev.id);
        if (this.stopped) return;
        this.waited.add(ev.id);
        this.guarded('rating an event', () => {
          const now = this.d.event?.(ev.id) ?? ev;
          this.rate(now); // rated without it (the frame left the ring, or the look failed)
          if (now.endMs !== null) this.live.delete(ev.id);
        });
        this.waited.delete(ev.id);
      }, config.secondLook.waitSeconds * 1000);
      timer.unref();
      this.held.set(ev.id, timer);
    }
    return true;
  }

  private raise(a: Omit<StoredAlert, 'id' | 'createdMs' | 'deliveries'>, channels: ChannelName[]): StoredAlert {
    const now = this.now();
    const stored = this.d.store.add({ ...a, id: newAlertId(now), createdMs: now }, channels);
    this.d.log.info(
      { alert: stored.id, kind: a.kind, severity: a.severity, camera: a.cameraId, channels },
      `alert: ${a.title}`,
    );
    if (channels.length) this.d.dispatcher.kick();
    return stored;
  }

  /** Raises a system alert (not from an event) to the channels that want its severity. */
  system(kind: AlertKind, severity: Severity, cameraId: string | null, title: string, message: string): StoredAlert {
    return this.raise(
      {
        incident: `${cameraId ?? '-'}|${kind}`,
        kind,
        severity,
        cameraId,
        title,
        message,
        labels: [],
        zones: [],
        eventIds: [],
      },
      this.d.channels.wanting(severity),
    );
  }

  /** Runs work of a timer: a failure (a full or failing disk under the database) is logged, never thrown. */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.d.log.error({ err }, `alerting failed ${what}`);
    }
  }

  /** A system alert at most once per `everyMs` for one key (a warning that holds for days says so once a day). */
  systemAtMost(key: string, everyMs: number, ...alert: Parameters<AlertEngine['system']>): StoredAlert | null {
    const last = this.lastSystem.get(key);
    if (last !== undefined && this.now() - last < everyMs) return null;
    this.lastSystem.set(key, this.now());
    return this.system(...alert);
  }

  /** The recordings disk: full (nothing left that may be deleted) is critical; room again is recorded. */
  diskState(full: boolean, freeBytes: number): void {
    if (this.stopped) return;
    const gb = (freeBytes / 1e9).toFixed(1);
    if (full)
      this.system(
        'storage',
        'critical',
        null,
        'Recordings disk is full',
        `${gb} GB free and nothing left that may be deleted: new video is not being recorded`,
      );
    else this.system('storage', 'normal', null, 'Recordings disk has room again', `${gb} GB free`);
  }

  /** Recordings deleted before their retention to keep the disk from filling: the disk is too small for it. */
  evictedEarly(freedBytes: number): void {
    if (this.stopped) return;
    this.systemAtMost(
      'evicted',
      86_400_000,
      'storage',
      'warning',
      null,
      'Disk too small for the retention you set',
      `the oldest recordings were deleted early to keep space free (${(freedBytes / 1e9).toFixed(2)} GB); shorten retention or add storage`,
    );
  }

  /** What the owner's server said about this edge (its archive quota): each warning once a day. */
  serverWarnings(warnings: string[]): void {
    if (this.stopped) return;
    for (const w of warnings)
      this.systemAtMost(`server|${w}`, 86_400_000, 'storage', 'warning', null, 'Storage warning from your server', w);
  }

  cameraHealth(cameraId: string, status: string, lastError: string | null): void {
    if (this.stopped) return;
    this.d.channels.mqtt?.cameraOnline(cameraId, status === 'online');
    const down = status === 'offline' || status === 'error' || status === 'connecting';
    const was = this.offline.get(cameraId);
    if (down) {
      if (!was) this.offline.set(cameraId, { sinceMs: this.now(), alerted: false, lastError });
      else was.lastError = lastError ?? was.lastError;
      return;
    }
    this.offline.delete(cameraId);
    if (was?.alerted && status === 'online') {
      const minutes = Math.round((this.now() - was.sinceMs) / 60_000);
      this.system(
        'camera_offline',
        'normal',
        cameraId,
        `${this.d.cameraName(cameraId)} is back online`,
        `after ${minutes} min`,
      );
    }
  }

  recordingPaused(cameraId: string, reason: string): void {
    if (this.stopped) return;
    this.system('recording_paused', 'critical', cameraId, `Recording paused: ${this.d.cameraName(cameraId)}`, reason);
  }

  recordingResumed(cameraId: string): void {
    if (this.stopped) return;
    this.system('recording_paused', 'normal', cameraId, `Recording resumed: ${this.d.cameraName(cameraId)}`, '');
  }

  /** Closes incidents that are over (with their summaries) and alerts cameras offline for too long. */
  tick(): void {
    if (this.stopped) return;
    const config = this.d.config();
    const now = this.now();
    const gap = config.incidentSeconds * 1000;
    for (const [key, inc] of this.incidents) {
      if (now - inc.lastMs < gap && now - inc.firstMs < gap * MAX_INCIDENT_WINDOWS) continue;
      this.incidents.delete(key);
      if (!inc.more.length) continue;
      const first = this.d.store.get(inc.alertId);
      if (!first) continue;
      const n = inc.more.length;
      this.raise(
        {
          incident: key,
          kind: 'summary',
          severity: first.severity,
          cameraId: first.cameraId,
          title: `${n} more: ${first.title}`,
          message: `${n} more event${n === 1 ? '' : 's'} like it between ${clock(inc.firstMs)} and ${clock(inc.lastMs)}`,
          labels: [...inc.labels],
          zones: [...inc.zones],
          eventIds: inc.more,
        },
        this.d.channels.wanting(first.severity),
      );
    }
    for (const [cameraId, o] of this.offline) {
      if (o.alerted || now - o.sinceMs < config.offlineMinutes * 60_000) continue;
      o.alerted = true;
      this.system(
        'camera_offline',
        'warning',
        cameraId,
        `${this.d.cameraName(cameraId)} is offline`,
        `since ${clock(o.sinceMs)}${o.lastError ? `: ${o.lastError}` : ''}`,
      );
    }
  }

  /** The alert's first event's snapshot, waiting a little for one being written (alerts go out at the event's start). */
  async snapshotOf(a: StoredAlert, getEvent: (id: string) => EventRecord | undefined): Promise<Buffer | null> {
    const id = a.eventIds[0];
    if (!id) return null;
    for (let i = 0; i < 30; i++) {
      const ev = getEvent(id);
      if (!ev) return null;
      if (ev.snapshot) return readFile(join(this.d.dataDir, ev.snapshot)).catch(() => null);
      if (ev.endMs !== null && i > 0) return null;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  /** Tells a (new) MQTT bridge what is going on now: each camera's objects on or off. */
  syncMqtt(): void {
    const mqtt = this.d.channels.mqtt;
    if (!mqtt) return;
    for (const [cameraId, byObject] of this.activeObjects)
      for (const [object, running] of byObject) mqtt.objectState(cameraId, object, running.size > 0);
  }

  private forwardToMqtt(change: EventChange, ev: EventRecord): void {
    const mqtt = this.d.channels.mqtt;
    const object = mqttObjectOf(ev.label);
    if (object) {
      const byObject = this.activeObjects.get(ev.cameraId) ?? new Map<MqttObject, Set<string>>();
      this.activeObjects.set(ev.cameraId, byObject);
      const running = byObject.get(object) ?? new Set<string>();
      byObject.set(object, running);
      const wasOn = running.size > 0;
      if (change === 'end') running.delete(ev.id);
      else running.add(ev.id);
      if (wasOn !== running.size > 0) mqtt?.objectState(ev.cameraId, object, running.size > 0);
      if (ev.snapshot && mqtt && !this.snapshotsPublished.has(ev.id)) {
        this.snapshotsPublished.add(ev.id);
        const file = join(this.d.dataDir, ev.snapshot);
        void readFile(file).then(
          (jpeg) => mqtt.snapshot(ev.cameraId, object, jpeg),
          () => undefined,
        );
      }
      if (change === 'end') this.snapshotsPublished.delete(ev.id);
    }
    mqtt?.event(change, ev);
  }
}
