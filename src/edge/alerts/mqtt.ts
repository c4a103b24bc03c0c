// The MQTT channel and Home Assistant bridge. Each camera appears in Home Assistant by MQTT discovery: binary sensors
// for person, vehicle, unusual activity, tamper and its connection, and snapshot images when the owner allows pictures
// on the broker. Events go to <prefix>/<camera>/events, alerts to <prefix>/alerts. What is retained (discovery,
// availability, states, snapshots) is held here and republished on every connect, since the broker or Home Assistant
// may have restarted without persistence; so it is not queued while the broker is away. Messages (events, alerts) are:
// mqtt.js keeps them until it reconnects, up to a bound.
import { createHash, randomBytes } from 'node:crypto';

import { connect, type ErrorWithReasonCode, type MqttClient } from 'mqtt';

import { type AlertChannel, type AlertMessage, ChannelError } from '../../shared/alerts/types.ts';
import type { EventJson } from '../../shared/api-types.ts';
import type { Logger } from '../../shared/log.ts';

export interface MqttOptions {
  /** mqtt://host:1883 or mqtts://host:8883 */
  url: string;
  username?: string | null;
  password?: string | null;
  topicPrefix: string;
  discoveryPrefix: string;
  /** This edge's id: in unique_ids and the availability topic. */
  nodeId: string;
  /** Whether snapshot JPEGs are published (they are pictures on the LAN broker). */
  publishSnapshots: boolean;
  /** How long mqtt.js waits between reconnection attempts (default 5000). */
  reconnectMs?: number;
}

export interface MqttCamera {
  id: string;
  name: string;
}

export type MqttObject = 'person' | 'vehicle' | 'unusual' | 'tamper';
const OBJECTS: readonly MqttObject[] = ['person', 'vehicle', 'unusual', 'tamper'];

type Sensor = MqttObject | 'online';
const SENSORS: Record<Sensor, { name: string; deviceClass: string }> = {
  person: { name: 'Person', deviceClass: 'occupancy' },
  vehicle: { name: 'Vehicle', deviceClass: 'occupancy' },
  unusual: { name: 'Unusual activity', deviceClass: 'problem' },
  tamper: { name: 'Tamper', deviceClass: 'problem' },
  online: { name: 'Online', deviceClass: 'connectivity' },
};

export type MqttEvent = Pick<
  EventJson,
  'id' | 'cameraId' | 'label' | 'labels' | 'zones' | 'startMs' | 'endMs' | 'maxScore'
>;

const START_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 3_000;
/** Events and alerts mqtt.js may hold for a broker that is away; beyond, events are dropped and alerts refused. */
const MAX_QUEUED = 1000;

/**
 * A topic level from a configured id: only [A-Za-z0-9_-], so no `/`, `+` or `#` gets in. An id that had to change
 * gets a hash of the original, so that two ids cannot end up on the same topics.
 */
export function mqttTopicId(id: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48)}_${hash}`;
}

/** What the owner is told about a failed connection; never the password. */
function describeError(err: Error, broker: string): string {
  const code = (err as Partial<ErrorWithReasonCode>).code;
  // 4/5 in MQTT 3.1.1 (Mosquitto says "not authorised" for a wrong password), 134/135 in MQTT 5.
  if (code === 4 || code === 134) return `the MQTT broker at ${broker} refused the username/password`;
  if (code === 5 || code === 135) return `the MQTT broker at ${broker} refused the username/password (not authorized)`;
  if (typeof code === 'number') return `the MQTT broker at ${broker} refused the connection (${err.message})`;
  return `could not reach the MQTT broker at ${broker} (${code ?? err.message})`;
}

function checkPrefix(what: string, prefix: string): void {
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new Error(`the MQTT ${what} may only have letters, digits, _ and - (and / between levels)`);
  }
}

export class MqttBridge implements AlertChannel {
  readonly name = 'mqtt';
  readonly reveals: string;
  private readonly broker: string;
  private readonly node: string;
  private readonly prefix: string;
  private readonly discovery: string;
  private readonly availability: string;
  private client: MqttClient | null = null;
  private closed = false;
  /** Topic id → camera. */
  private cameras = new Map<string, MqttCamera>();
  /** Cameras removed while the broker was away, whose retained topics are cleared on the next connect. */
  private readonly removed = new Set<string>();
  /** Topic id → the last state of each sensor (ON/OFF); republished on connect. */
  private readonly states = new Map<string, Map<Sensor, 'ON' | 'OFF'>>();
  private readonly snapshots = new Map<string, Map<MqttObject, Buffer>>();
  /** Events and alerts handed to mqtt.js and not yet acknowledged by the broker. */
  private queued = 0;
  /** Why the last connection attempt failed, while not connected. */
  private problem: string | null = null;

  constructor(
    private readonly options: MqttOptions,
    private readonly log: Logger,
  ) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error('the MQTT broker URL is not a valid URL');
    }
    if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') {
      throw new Error(`the MQTT broker URL must start with mqtt:// or mqtts:// (not ${url.protocol}//)`);
    }
    checkPrefix('topic prefix', options.topicPrefix);
    checkPrefix('discovery prefix', options.discoveryPrefix);
    // Host and port only: what messages and logs show (the URL may carry credentials).
    this.broker = url.host;
    this.node = mqttTopicId(options.nodeId);
    this.prefix = options.topicPrefix;
    this.discovery = options.discoveryPrefix;
    this.availability = `${this.prefix}/${this.node}/availability`;
    const what = 'camera states (person, vehicle, unusual activity, tamper, online), events and alerts';
    const readers = `to the MQTT broker at ${this.broker} on your network and anyone subscribed to it`;
    this.reveals = options.publishSnapshots
      ? `${what}, and the events' pictures (kept on the broker), ${readers}`
      : `${what}, ${readers}; no picture`;
  }

  /** Connects, and resolves once connected; rejects after ~10 s, or at once when the credentials are refused. */
  start(cameras: MqttCamera[]): Promise<void> {
    if (this.client || this.closed) return Promise.reject(new Error('the MQTT bridge was already started'));
    this.cameras = new Map(cameras.map((c) => [mqttTopicId(c.id), c]));
    for (const id of this.cameras.keys()) this.defaultStates(id);
    const client = connect(this.options.url, {
      // A random suffix: two processes with the same node id would otherwise take turns kicking each other off.
      clientId: `guardian_${this.node}_${randomBytes(4).toString('hex')}`,
      // Only when set: an undefined here would override credentials given in the URL.
      ...(this.options.username ? { username: this.options.username } : {}),
      ...(this.options.password ? { password: this.options.password } : {}),
      clean: true,
      keepalive: 30,
      connectTimeout: START_TIMEOUT_MS,
      reconnectPeriod: this.options.reconnectMs ?? 5000,
      // Mosquitto with Home Assistant's auth refuses logins while Home Assistant restarts: keep trying.
      reconnectOnConnackError: true,
      will: { topic: this.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    let connectedOnce = false;
    client.on('connect', () => {
      this.log.info({ broker: this.broker, reconnect: connectedOnce }, 'connected to the MQTT broker');
      connectedOnce = true;
      this.problem = null;
      this.publishAll();
    });
    client.on('error', (err) => {
      const problem = describeError(err, this.broker);
      // Once per outage and reason, not every reconnection attempt.
      if (problem !== this.problem) this.log.warn({ error: problem }, 'MQTT connection failed; retrying');
      this.problem = problem;
    });
    client.on('offline', () => {
      if (connectedOnce && !this.closed) this.log.warn({ broker: this.broker }, 'lost the MQTT broker; reconnecting');
    });
    // Home Assistant says `online` when it starts: it may not have seen the retained discovery (no broker persistence).
    client.subscribe(`${this.discovery}/status`, { qos: 1 });
    client.on('message', (topic, payload) => {
      if (topic === `${this.discovery}/status` && payload.toString() === 'online') this.publishAll();
    });
    return new Promise((resolve, reject) => {
      const done = (err: Error | null) => {
        clearTimeout(timer);
        client.off('connect', onConnect);
        client.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = () => done(null);
      const onError = (err: Error) => {
        const code = (err as Partial<ErrorWithReasonCode>).code;
        if (code === 4 || code === 5 || code === 134 || code === 135) done(new Error(describeError(err, this.broker)));
      };
      const timer = setTimeout(
        () =>
          done(
            new Error(
              this.problem ?? `the MQTT broker at ${this.broker} did not answer within ${START_TIMEOUT_MS / 1000} s`,
            ),
          ),
        START_TIMEOUT_MS,
      );
      client.on('connect', onConnect);
      client.on('error', onError);
    });
  }

  /** Publishes discovery for new (or renamed) cameras and removes the gone ones from Home Assistant. */
  setCameras(cameras: MqttCamera[]): void {
    const next = new Map(cameras.map((c) => [mqttTopicId(c.id), c]));
    for (const id of this.cameras.keys()) {
      if (next.has(id)) continue;
      this.states.delete(id);
      this.snapshots.delete(id);
      if (this.connected) this.clearCamera(id);
      else this.removed.add(id);
    }
    const previous = this.cameras;
    this.cameras = next;
    for (const [id, camera] of next) {
      this.removed.delete(id);
      if (previous.get(id)?.name === camera.name) continue;
      this.defaultStates(id);
      if (this.connected) this.publishCamera(id, camera);
    }
  }

  objectState(cameraId: string, object: MqttObject, on: boolean): void {
    this.setState(mqttTopicId(cameraId), object, on);
  }

  cameraOnline(cameraId: string, online: boolean): void {
    this.setState(mqttTopicId(cameraId), 'online', online);
  }

  event(change: 'start' | 'update' | 'end', event: MqttEvent): void {
    const id = mqttTopicId(event.cameraId);
    // Only these fields: the caller may pass its whole record (file paths, track ids).
    const payload = {
      change,
      id: event.id,
      cameraId: event.cameraId,
      cameraName: this.cameras.get(id)?.name ?? null,
      label: event.label,
      labels: event.labels,
      zones: event.zones,
      startMs: event.startMs,
      endMs: event.endMs,
      maxScore: event.maxScore,
    };
    if (!this.client || this.closed) return;
    if (this.queued >= MAX_QUEUED) {
      this.log.debug({ event: event.id }, 'MQTT queue full; event not published');
      return;
    }
    this.publishMessage(`${this.prefix}/${id}/events`, JSON.stringify(payload), () => undefined);
  }

  /** The last snapshot of each camera and object is kept and republished on connect (retained, like a state). */
  snapshot(cameraId: string, object: MqttObject, jpeg: Buffer): void {
    if (!this.options.publishSnapshots || this.closed) return;
    const id = mqttTopicId(cameraId);
    const byObject = this.snapshots.get(id) ?? new Map<MqttObject, Buffer>();
    this.snapshots.set(id, byObject);
    byObject.set(object, jpeg);
    if (this.connected) this.publishRetained(this.snapshotTopic(id, object), jpeg);
  }

  /** Resolves once the broker has the alert, or once mqtt.js holds it for a broker that is away. No picture. */
  async send(alert: AlertMessage, _snapshot: () => Promise<Buffer | null>): Promise<void> {
    const client = this.client;
    if (!client || this.closed) throw new ChannelError('mqtt: the bridge is not running', true);
    if (this.queued >= MAX_QUEUED) {
      throw new ChannelError(
        `mqtt: ${this.problem ?? 'the broker is not answering'}; ${MAX_QUEUED} messages wait`,
        true,
      );
    }
    const payload = {
      id: alert.id,
      kind: alert.kind,
      severity: alert.severity,
      title: alert.title,
      message: alert.message,
      createdMs: alert.createdMs,
      edgeId: alert.edgeId,
      cameraId: alert.cameraId,
      cameraName: alert.cameraName,
      labels: alert.labels,
      zones: alert.zones,
      eventIds: alert.eventIds,
      url: alert.url,
    };
    const connected = this.connected;
    await new Promise<void>((resolve, reject) => {
      // A broker that goes away before its acknowledgement gets the alert on reconnection: it is delivered then.
      const timer = setTimeout(resolve, START_TIMEOUT_MS);
      this.publishMessage(`${this.prefix}/alerts`, JSON.stringify(payload), (err) => {
        clearTimeout(timer);
        if (err) reject(new ChannelError(`mqtt: ${err.message}`, true));
        else resolve();
      });
      if (!connected) {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Says offline (the will only covers a lost connection), then disconnects. */
  async close(): Promise<void> {
    const client = this.client;
    if (this.closed) return;
    this.closed = true;
    if (!client) return;
    if (client.connected) {
      const said = new Promise<void>((resolve) => {
        client.publish(this.availability, 'offline', { qos: 1, retain: true }, () => resolve());
      });
      await Promise.race([said, new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
    }
    await Promise.race([client.endAsync(!client.connected), new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
    client.end(true);
  }

  /** Connected to the broker now (the settings show it). */
  get connected(): boolean {
    return !!this.client?.connected && !this.closed;
  }

  private defaultStates(id: string): void {
    const states = this.states.get(id) ?? new Map<Sensor, 'ON' | 'OFF'>();
    this.states.set(id, states);
    // No event runs when the edge starts; a retained ON from before a crash must not stay on.
    for (const object of OBJECTS) if (!states.has(object)) states.set(object, 'OFF');
  }

  private setState(id: string, sensor: Sensor, on: boolean): void {
    if (this.closed) return;
    const states = this.states.get(id) ?? new Map<Sensor, 'ON' | 'OFF'>();
    this.states.set(id, states);
    states.set(sensor, on ? 'ON' : 'OFF');
    if (this.connected) this.publishRetained(this.stateTopic(id, sensor), on ? 'ON' : 'OFF');
  }

  /** Everything retained, in the order Home Assistant wants it: entities, then availability, then their states. */
  private publishAll(): void {
    for (const id of this.removed) this.clearCamera(id);
    this.removed.clear();
    for (const [id, camera] of this.cameras) this.publishCamera(id, camera, false);
    this.publishRetained(this.availability, 'online');
    for (const [id, states] of this.states) {
      for (const [sensor, state] of states) this.publishRetained(this.stateTopic(id, sensor), state);
    }
    for (const [id, byObject] of this.snapshots) {
      for (const [object, jpeg] of byObject) this.publishRetained(this.snapshotTopic(id, object), jpeg);
    }
  }

  private publishCamera(id: string, camera: MqttCamera, withStates = true): void {
    const device = {
      identifiers: [`guardian_${this.node}_${id}`],
      name: camera.name,
      manufacturer: 'Guardian',
      model: 'edge camera',
    };
    const common = {
      availability_topic: this.availability,
      payload_available: 'online',
      payload_not_available: 'offline',
      device,
      origin: { name: 'Guardian' },
    };
    for (const [sensor, { name, deviceClass }] of Object.entries(SENSORS) as [Sensor, (typeof SENSORS)[Sensor]][]) {
      const config = {
        name,
        unique_id: `guardian_${this.node}_${id}_${sensor}`,
        state_topic: this.stateTopic(id, sensor),
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: deviceClass,
        ...(sensor === 'online' ? { entity_category: 'diagnostic' } : {}),
        qos: 1,
        ...common,
      };
      this.publishRetained(this.configTopic('binary_sensor', id, sensor), JSON.stringify(config));
    }
    for (const object of OBJECTS) {
      const topic = this.configTopic('image', id, object);
      if (!this.options.publishSnapshots) {
        // Turned off: the entities and the pictures already on the broker go too.
        this.publishRetained(topic, '');
        this.publishRetained(this.snapshotTopic(id, object), '');
        continue;
      }
      const config = {
        name: `${SENSORS[object].name} snapshot`,
        unique_id: `guardian_${this.node}_${id}_${object}_snapshot`,
        image_topic: this.snapshotTopic(id, object),
        content_type: 'image/jpeg',
        ...common,
      };
      this.publishRetained(topic, JSON.stringify(config));
    }
    if (!withStates) return;
    for (const [sensor, state] of this.states.get(id) ?? []) this.publishRetained(this.stateTopic(id, sensor), state);
  }

  /** Empty retained payloads: Home Assistant removes the entities, the broker forgets the states and pictures. */
  private clearCamera(id: string): void {
    for (const sensor of Object.keys(SENSORS) as Sensor[]) {
      this.publishRetained(this.configTopic('binary_sensor', id, sensor), '');
      this.publishRetained(this.stateTopic(id, sensor), '');
    }
    for (const object of OBJECTS) {
      this.publishRetained(this.configTopic('image', id, object), '');
      this.publishRetained(this.snapshotTopic(id, object), '');
    }
  }

  private configTopic(component: 'binary_sensor' | 'image', id: string, sensor: Sensor): string {
    return `${this.discovery}/${component}/${this.node}_${id}/${sensor}/config`;
  }

  private stateTopic(id: string, sensor: Sensor): string {
    return `${this.prefix}/${id}/${sensor}/state`;
  }

  private snapshotTopic(id: string, object: MqttObject): string {
    return `${this.prefix}/${id}/${object}/snapshot`;
  }

  private publishRetained(topic: string, payload: string | Buffer): void {
    this.client?.publish(topic, payload, { qos: 1, retain: true });
  }

  private publishMessage(topic: string, payload: string, done: (err?: Error) => void): void {
    this.queued++;
    this.client?.publish(topic, payload, { qos: 1, retain: false }, (err) => {
      this.queued--;
      done(err);
    });
  }
}
