// The edge's alerting, composed: the store, channel secrets, the channels the configuration turns on, the dispatcher
// that delivers and the engine that decides. The runtime feeds it events, camera health and recorder state; the API
// lists alerts, shows the channels, sets their secrets and sends test alerts.
import type { AlertsConfig } from '../../shared/alerts/config.ts';
import type { ChannelName } from '../../shared/alerts/types.ts';
import type { Db } from '../../shared/db.ts';
import type { Logger } from '../../shared/log.ts';
import type { EventRecord, EventStore } from '../events/store.ts';
import { AlertChannels } from './channels.ts';
import { AlertDispatcher } from './dispatcher.ts';
import { AlertEngine } from './engine.ts';
import type { MqttCamera } from './mqtt.ts';
import { AlertSecrets } from './secrets.ts';
import { AlertStore, newAlertId, type StoredAlert, type Suppression } from './store.ts';

/** False positives of one kind in one place before the alerts learn from them. */
export const FALSE_POSITIVES_TO_LEARN = 3;

export interface AlertServiceDeps {
  db: Db;
  dataDir: string;
  config: () => AlertsConfig;
  retentionDays: () => number;
  events: EventStore;
  cameras: () => MqttCamera[];
  edgeId: () => string | null;
  log: Logger;
}

export interface TestResult {
  alertId: string;
  delivered: boolean;
  error: string | null;
  ms: number;
}

export class AlertService {
  readonly store: AlertStore;
  readonly secrets: AlertSecrets;
  readonly channels: AlertChannels;
  readonly dispatcher: AlertDispatcher;
  readonly engine: AlertEngine;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: AlertServiceDeps) {
    const log = d.log.child({ component: 'alerts' });
    this.store = new AlertStore(d.db);
    this.secrets = new AlertSecrets(d.dataDir);
    this.channels = new AlertChannels({
      secrets: this.secrets,
      store: this.store,
      // Home Assistant ids: stable per box; the pairing's edge id once there is one would change them, so not that.
      nodeId: () => 'guardian',
      cameras: d.cameras,
      log,
    });
    const cameraName = (id: string | null) => (id ? (d.cameras().find((c) => c.id === id)?.name ?? id) : null);
    this.dispatcher = new AlertDispatcher({
      store: this.store,
      channel: (name) => this.channels.get(name),
      message: (a) => this.message(a, cameraName(a.cameraId)),
      snapshot: (a) => this.engine.snapshotOf(a, (id) => d.events.get(id)),
      limits: {
        perMinute: (name) => d.config().channels[name].perMinute,
        retryHours: () => d.config().retryHours,
      },
      log,
    });
    this.engine = new AlertEngine({
      store: this.store,
      channels: this.channels,
      dispatcher: this.dispatcher,
      config: d.config,
      cameraName: (id) => cameraName(id) ?? id,
      event: (id) => d.events.get(id),
      setSeverity: (eventId, severity) => d.events.update(eventId, { severity }, 'event.update'),
      dataDir: d.dataDir,
      log,
    });
  }

  private message(a: StoredAlert, cameraName: string | null) {
    const base = this.d.config().linkUrl.replace(/\/$/, '');
    const url = base ? (a.eventIds[0] ? `${base}/#/events/${a.eventIds[0]}` : `${base}/#/alerts`) : null;
    return this.store.message(a, { edgeId: this.d.edgeId(), cameraName, url });
  }

  async start(): Promise<void> {
    await this.channels.configure(this.d.config());
    this.dispatcher.start();
    this.engine.start();
    const prune = () => this.store.prune(Date.now() - this.d.retentionDays() * 86_400_000);
    prune();
    this.pruneTimer = setInterval(prune, 3_600_000);
    this.pruneTimer.unref();
  }

  /** After a configuration change: channels rebuilt where their settings changed, what waited tried again. */
  async reconfigure(): Promise<void> {
    const mqttBefore = this.channels.mqtt;
    await this.channels.configure(this.d.config());
    this.channels.mqtt?.setCameras(this.d.cameras());
    if (this.channels.mqtt !== mqttBefore) this.engine.syncMqtt();
    this.dispatcher.kick();
  }

  /**
   * The owner's verdict on an event. False positives teach: after FALSE_POSITIVES_TO_LEARN of one label on one camera
   * in one zone (or anywhere, for events outside zones) within 30 days, events of that kind there alert only when
   * they score above the highest of those false positives (plus a margin). Listed, and undone, in the Alerts page.
   */
  verdict(eventId: string, verdict: EventRecord['verdict']): { event: EventRecord; learned: Suppression | null } {
    const event = this.d.events.update(eventId, { verdict }, 'event.update');
    if (verdict !== 'false_positive') return { event, learned: null };
    const zone = event.zones[0] ?? '';
    const marks = this.d.events
      .falsePositives(event.cameraId, event.label, Date.now() - 30 * 86_400_000)
      .filter((e) => (zone ? e.zones.includes(zone) : e.zones.length === 0));
    if (marks.length < FALSE_POSITIVES_TO_LEARN) return { event, learned: null };
    const minScore = Math.min(0.99, Math.max(...marks.map((e) => e.maxScore)) + 0.02);
    this.store.suppress({
      cameraId: event.cameraId,
      label: event.label,
      zone,
      minScore: Math.round(minScore * 1000) / 1000,
      falsePositives: marks.length,
    });
    const learned =
      this.store
        .suppressions()
        .find((s) => s.cameraId === event.cameraId && s.label === event.label && s.zone === zone) ?? null;
    this.d.log.info(
      { camera: event.cameraId, label: event.label, zone, minScore: learned?.minScore },
      'false positives raised the score this kind of event needs to alert here',
    );
    return { event, learned };
  }

  /** Sends a test alert through one channel now, and says whether it arrived (recorded, never retried). */
  async test(name: ChannelName): Promise<TestResult> {
    const channel = this.channels.get(name);
    const now = Date.now();
    const alert = this.store.add(
      {
        id: newAlertId(now),
        incident: `test|${name}`,
        kind: 'test',
        severity: 'normal',
        cameraId: null,
        title: 'Guardian test alert',
        message: `a test of the ${name} channel, sent from the settings`,
        labels: [],
        zones: [],
        eventIds: [],
        createdMs: now,
      },
      [],
    );
    let error: string | null = null;
    if (!channel) {
      const status = this.channels.status().find((s) => s.name === name);
      error = status?.enabled ? `not ready: ${status.problem ?? 'not configured'}` : 'the channel is turned off';
    } else
      await channel
        .send(this.message(alert, null), async () => null)
        .catch((err: Error) => {
          error = err.message;
        });
    const ms = Date.now() - now;
    this.store.recordDelivery(alert.id, name, Date.now(), error);
    return { alertId: alert.id, delivered: error === null, error, ms };
  }

  async stop(): Promise<void> {
    this.engine.stop();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.dispatcher.stop();
    await this.channels.close();
  }
}
