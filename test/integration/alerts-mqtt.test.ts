// The MQTT / Home Assistant bridge against a real broker (aedes on loopback, with a login) and an independent client
// subscribed to everything: discovery Home Assistant can read, retained; states, events, alerts and snapshots on their
// topics; a gone camera removed; a hostile camera id kept inside its topic level; refused credentials; the will on an
// abrupt disconnect; a broker restarted without persistence getting everything again; close().
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

import { Aedes, type Client } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

import { MqttBridge, type MqttOptions, mqttTopicId } from '../../src/edge/alerts/mqtt.ts';
import { type AlertMessage, ChannelError } from '../../src/shared/alerts/types.ts';
import { createLogger } from '../../src/shared/log.ts';

const log = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const USER = 'guardian';
const PASSWORD = 'broker-pass-4821';

type Maybe<T> = T | undefined | null | false;

async function until<T>(fn: () => Maybe<T> | Promise<Maybe<T>>, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Broker {
  broker: Aedes;
  server: Server;
  sockets: Set<Socket>;
  /** Connected clients by id, as the broker sees them. */
  clients: Map<string, Client>;
  port: number;
}

async function startBroker(port = 0): Promise<Broker> {
  const broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) =>
      done(null, username === USER && password?.toString() === PASSWORD),
  });
  const clients = new Map<string, Client>();
  broker.on('clientReady', (c) => clients.set(c.id, c));
  broker.on('clientDisconnect', (c) => clients.delete(c.id));
  const sockets = new Set<Socket>();
  const server = createServer(broker.handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { broker, server, sockets, clients, port: (server.address() as AddressInfo).port };
}

/** As a crash: connections cut, nothing persisted. */
async function killBroker(b: Broker): Promise<void> {
  for (const s of b.sockets) s.destroy();
  await new Promise<void>((r) => b.server.close(() => r()));
  await new Promise<void>((r) => b.broker.close(() => r()));
}

interface Seen {
  topic: string;
  payload: Buffer;
}

async function subscriber(port: number, filter = '#'): Promise<{ client: MqttClient; seen: Seen[] }> {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: USER,
    password: PASSWORD,
    reconnectPeriod: 100,
  });
  const seen: Seen[] = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, seen };
}

/** What the broker keeps (retained), as a client connecting now gets it. */
async function retained(port: number, filter: string): Promise<Map<string, Buffer>> {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: USER, password: PASSWORD });
  const kept = new Map<string, Buffer>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) kept.set(topic, payload);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  await sleep(300);
  await client.endAsync(true);
  return kept;
}

const json = (b: Buffer | undefined) => JSON.parse(b?.toString() ?? 'null');

const alert: AlertMessage = {
  id: 'alert-1',
  kind: 'object',
  severity: 'warning',
  title: 'Person at Front door',
  message: 'person in driveway at 14:03:12',
  createdMs: 1_700_000_000_000,
  edgeId: 'edge1',
  cameraId: 'front',
  cameraName: 'Front door',
  labels: ['person'],
  zones: ['driveway'],
  eventIds: ['ev-1'],
  url: null,
};

describe('MQTT / Home Assistant bridge (aedes broker)', function () {
  this.timeout(20_000);
  let broker: Broker;
  let live: { client: MqttClient; seen: Seen[] };
  let bridge: MqttBridge;
  const others: MqttBridge[] = [];
  const hostile = 'a/b#c';
  const hostileTopic = mqttTopicId(hostile);
  const cameras = [
    { id: 'front', name: 'Front door' },
    { id: hostile, name: 'Hostile' },
  ];
  const options = (port: number, more: Partial<MqttOptions> = {}): MqttOptions => ({
    url: `mqtt://127.0.0.1:${port}`,
    username: USER,
    password: PASSWORD,
    topicPrefix: 'guardian',
    discoveryPrefix: 'homeassistant',
    nodeId: 'edge1',
    publishSnapshots: true,
    reconnectMs: 200,
    ...more,
  });
  /** The first message on a topic after index `from` (and matching `payload` when given). */
  const next = (topic: string, from = 0, payload?: string) =>
    until(
      () =>
        live.seen
          .slice(from)
          .find((m) => m.topic === topic && (payload === undefined || m.payload.toString() === payload)),
      `${topic}${payload === undefined ? '' : ` = ${payload}`}`,
    );

  before(async () => {
    broker = await startBroker();
    live = await subscriber(broker.port);
    bridge = new MqttBridge(options(broker.port), log);
    await bridge.start(cameras);
  });

  after(async () => {
    for (const b of [bridge, ...others]) await b?.close().catch(() => undefined);
    await live?.client.endAsync(true).catch(() => undefined);
    if (broker) await killBroker(broker);
  });

  it('refuses a URL that is not mqtt:// or mqtts://', () => {
    assert.throws(() => new MqttBridge(options(1, { url: 'http://127.0.0.1:1883' }), log), /mqtt:\/\/ or mqtts:\/\//);
    assert.throws(() => new MqttBridge(options(1, { url: 'not a url' }), log), /not a valid URL/);
    assert.match(bridge.reveals, /pictures.*broker.*anyone subscribed/);
  });

  it('publishes retained discovery Home Assistant can read, then availability and states', async () => {
    await next('guardian/front/person/state', 0, 'OFF');
    const kept = await retained(broker.port, '#');
    const device = {
      identifiers: ['guardian_edge1_front'],
      name: 'Front door',
      manufacturer: 'Guardian',
      model: 'edge camera',
    };
    const classes = {
      person: 'occupancy',
      vehicle: 'occupancy',
      unusual: 'problem',
      tamper: 'problem',
      online: 'connectivity',
    };
    for (const [sensor, deviceClass] of Object.entries(classes)) {
      const config = json(kept.get(`homeassistant/binary_sensor/edge1_front/${sensor}/config`));
      assert.ok(config, `a retained config for ${sensor}`);
      assert.equal(typeof config.name, 'string');
      assert.equal(config.unique_id, `guardian_edge1_front_${sensor}`);
      assert.equal(config.state_topic, `guardian/front/${sensor}/state`);
      assert.equal(config.device_class, deviceClass);
      assert.equal(config.payload_on, 'ON');
      assert.equal(config.payload_off, 'OFF');
      assert.equal(config.availability_topic, 'guardian/edge1/availability');
      assert.deepEqual(config.device, device);
    }
    const image = json(kept.get('homeassistant/image/edge1_front/person/config'));
    assert.equal(image.image_topic, 'guardian/front/person/snapshot');
    assert.equal(image.content_type, 'image/jpeg');
    assert.equal(image.availability_topic, 'guardian/edge1/availability');
    assert.deepEqual(image.device, device);
    assert.equal(kept.get('guardian/edge1/availability')?.toString(), 'online');
    for (const object of ['person', 'vehicle', 'unusual', 'tamper']) {
      assert.equal(kept.get(`guardian/front/${object}/state`)?.toString(), 'OFF', `${object} starts OFF`);
    }
    // Unique ids are unique across the whole discovery.
    const ids = [...kept].filter(([t]) => t.startsWith('homeassistant/')).map(([, p]) => json(p).unique_id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('publishes states, events, alerts and snapshots on their topics', async () => {
    const from = live.seen.length;
    bridge.objectState('front', 'person', true);
    bridge.cameraOnline('front', true);
    assert.ok(await next('guardian/front/person/state', from, 'ON'));
    assert.ok(await next('guardian/front/online/state', from, 'ON'));
    bridge.objectState('front', 'vehicle', true);
    bridge.objectState('front', 'vehicle', false);
    await next('guardian/front/vehicle/state', from, 'OFF');

    // The engine passes its whole record: only the listed fields go out.
    const record = {
      id: 'ev-1',
      cameraId: 'front',
      label: 'person',
      labels: ['person'],
      zones: ['driveway'],
      startMs: 1000,
      endMs: null,
      maxScore: 0.91,
      snapshot: 'snapshots/ev-1.jpg',
    };
    bridge.event('start', record);
    const event = json((await next('guardian/front/events', from)).payload);
    assert.deepEqual(event, {
      change: 'start',
      id: 'ev-1',
      cameraId: 'front',
      cameraName: 'Front door',
      label: 'person',
      labels: ['person'],
      zones: ['driveway'],
      startMs: 1000,
      endMs: null,
      maxScore: 0.91,
    });

    await bridge.send(alert, async () => assert.fail('no snapshot is read for MQTT'));
    assert.deepEqual(json((await next('guardian/alerts', from)).payload), alert);

    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    bridge.snapshot('front', 'person', jpeg);
    assert.deepEqual((await next('guardian/front/person/snapshot', from)).payload, jpeg);
    const kept = await retained(broker.port, 'guardian/front/#');
    assert.deepEqual(kept.get('guardian/front/person/snapshot'), jpeg);
    assert.equal(kept.get('guardian/front/person/state')?.toString(), 'ON');
    assert.equal(kept.has('guardian/front/events'), false, 'events are not retained');
  });

  it('keeps a hostile camera id inside one topic level', async () => {
    assert.match(hostileTopic, /^[A-Za-z0-9_-]+$/);
    const from = live.seen.length;
    bridge.objectState(hostile, 'person', true);
    await next(`guardian/${hostileTopic}/person/state`, from, 'ON');
    const config = json((await next(`homeassistant/binary_sensor/edge1_${hostileTopic}/person/config`)).payload);
    assert.equal(config.device.name, 'Hostile');
    for (const { topic } of live.seen) {
      assert.doesNotMatch(topic, /[+#]/, topic);
      if (topic.includes('a_b_c')) {
        const levels = topic.startsWith('homeassistant/') ? 5 : 4;
        assert.equal(topic.split('/').length, levels, topic);
      }
    }
    assert.equal(live.seen.filter((m) => m.topic.startsWith('guardian/a/')).length, 0);
  });

  it('removes a camera gone from setCameras with empty retained configs', async () => {
    const from = live.seen.length;
    bridge.setCameras([{ id: 'front', name: 'Front door' }]);
    for (const sensor of ['person', 'vehicle', 'unusual', 'tamper', 'online']) {
      const gone = await next(`homeassistant/binary_sensor/edge1_${hostileTopic}/${sensor}/config`, from);
      assert.equal(gone.payload.length, 0);
    }
    assert.equal((await next(`homeassistant/image/edge1_${hostileTopic}/person/config`, from)).payload.length, 0);
    const kept = await retained(broker.port, '#');
    assert.deepEqual(
      [...kept.keys()].filter((t) => t.includes(hostileTopic)),
      [],
      'nothing of the gone camera stays on the broker',
    );
    assert.ok(kept.has('homeassistant/binary_sensor/edge1_front/person/config'));
  });

  it('publishes no picture without publishSnapshots, and clears those already there', async () => {
    const other = new MqttBridge(
      options(broker.port, { nodeId: 'edge2', topicPrefix: 'nopics', publishSnapshots: false }),
      log,
    );
    others.push(other);
    assert.match(other.reveals, /no picture/);
    await other.start([{ id: 'back', name: 'Back yard' }]);
    const from = live.seen.length;
    other.snapshot('back', 'person', Buffer.from('jpeg'));
    other.objectState('back', 'person', true);
    await next('nopics/back/person/state', from, 'ON');
    const pictures = live.seen.filter((m) => m.topic.endsWith('/snapshot') && m.topic.startsWith('nopics/'));
    assert.ok(pictures.length > 0, 'the snapshot topics are cleared');
    assert.ok(
      pictures.every((m) => m.payload.length === 0),
      'no picture',
    );
    const images = live.seen.filter((m) => m.topic.startsWith('homeassistant/image/edge2_'));
    assert.ok(images.every((m) => m.payload.length === 0));
  });

  it('says why the broker refused the login, without the password', async () => {
    const wrong = 'wrong-pass-7731';
    const refused = new MqttBridge(options(broker.port, { nodeId: 'edge3', password: wrong }), log);
    others.push(refused);
    const started = Date.now();
    await assert.rejects(refused.start(cameras), (err: Error) => {
      assert.match(err.message, /refused the username\/password/);
      assert.equal(err.message.includes(wrong), false);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'a refusal is reported at once, not after the timeout');
  });

  it('republishes when Home Assistant says it started', async () => {
    const from = live.seen.length;
    live.client.publish('homeassistant/status', 'online');
    assert.ok(await next('homeassistant/binary_sensor/edge1_front/person/config', from));
    assert.ok(await next('guardian/front/person/state', from, 'ON'));
  });

  it('leaves its will (offline) on an abrupt disconnect, then comes back online', async () => {
    const from = live.seen.length;
    const side = await until(
      () => [...broker.clients.values()].find((c) => c.id.startsWith('guardian_edge1_')),
      'the bridge on the broker',
    );
    side.conn.destroy();
    await next('guardian/edge1/availability', from, 'offline');
    await next('guardian/edge1/availability', from, 'online');
  });

  it('republishes discovery, availability and the last states to a broker restarted without persistence', async () => {
    const port = broker.port;
    await killBroker(broker);
    broker = await startBroker(port);
    await until(
      () => [...broker.clients.values()].find((c) => c.id.startsWith('guardian_edge1_')),
      'the bridge reconnected',
    );
    const states = await until(async () => {
      const kept = await retained(port, '#');
      return kept.has('guardian/front/person/state') && kept;
    }, 'the states again');
    assert.equal(states.get('guardian/front/person/state')?.toString(), 'ON');
    assert.equal(states.get('guardian/front/online/state')?.toString(), 'ON');
    assert.equal(states.get('guardian/edge1/availability')?.toString(), 'online');
    assert.equal(
      json(states.get('homeassistant/binary_sensor/edge1_front/person/config')).unique_id,
      'guardian_edge1_front_person',
    );
    assert.deepEqual(
      states.get('guardian/front/person/snapshot'),
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]),
    );
    assert.equal(
      [...states.keys()].filter((t) => t.includes(hostileTopic)).length,
      0,
      'the removed camera stays removed',
    );
  });

  it('says offline on close() and then refuses alerts (retryable)', async () => {
    await until(() => live.client.connected, 'the subscriber back');
    await sleep(200); // its resubscription
    const from = live.seen.length;
    await bridge.close();
    await next('guardian/edge1/availability', from, 'offline');
    const kept = await retained(broker.port, 'guardian/edge1/availability');
    assert.equal(kept.get('guardian/edge1/availability')?.toString(), 'offline');
    await assert.rejects(
      bridge.send(alert, async () => null),
      (err: unknown) => {
        assert.ok(err instanceof ChannelError);
        assert.equal(err.retryable, true);
        return true;
      },
    );
  });
});
