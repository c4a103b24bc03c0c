// Alerts end to end on `guardian demo --webhook URL`: the sample's people become signed critical alerts at a real
// webhook receiver on loopback; Home Assistant's MQTT discovery and states reach a real broker (aedes) once MQTT is
// turned on from the API; ntfy gets the event's snapshot attached when the owner allows it; the test button; and
// channel secrets are write-only (never in the configuration, the channel list, or the log).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';

import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

import { verifyWebhookSignature } from '../../src/shared/alerts/webhook.ts';
import { tempDir } from '../helpers.ts';
import { type DemoProcess, startDemoProcess } from '../support/demo-process.ts';
import { recordingServer } from '../support/http-recorder.ts';
import { freePort } from '../support/rtsp.ts';

const PASSWORD = 'correct-horse-battery';
const MQTT_PASSWORD = 'broker-secret-9f3k2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('alerts on the demo: webhook, Home Assistant over MQTT, ntfy with a snapshot, test alerts (issue #17)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-alerts-');
  const dataDir = join(dir.path, 'demo');
  let demo: DemoProcess;
  let base = '';
  let hook: Awaited<ReturnType<typeof recordingServer>>;
  let ntfy: Awaited<ReturnType<typeof recordingServer>>;
  let broker: Aedes;
  let brokerServer: TcpServer;
  let brokerPort = 0;
  let mqtt: MqttClient | undefined;
  const seen = new Map<string, Buffer>();
  let session = { cookie: '', csrf: '' };

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api${path}`, {
      method,
      headers: {
        cookie: session.cookie,
        'x-csrf-token': session.csrf,
        origin: base,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };

  before(async () => {
    hook = await recordingServer();
    ntfy = await recordingServer();
    broker = await Aedes.createBroker({
      authenticate: (_c, user, pass, done) => done(null, user === 'guardian' && pass?.toString() === MQTT_PASSWORD),
    });
    brokerServer = createTcpServer(broker.handle);
    brokerServer.listen(0, '127.0.0.1');
    await once(brokerServer, 'listening');
    brokerPort = (brokerServer.address() as AddressInfo).port;

    demo = await startDemoProcess({
      dataDir,
      port: await freePort(),
      password: PASSWORD,
      env: { GUARDIAN_LOG_LEVEL: 'info' },
      args: ['--webhook', `${hook.base}/hook?token=query-secret`],
    });
    base = demo.base;
    session = await demo.login();
  });

  after(async () => {
    await mqtt?.endAsync().catch(() => undefined);
    await demo?.stop();
    hook?.server.close();
    ntfy?.server.close();
    brokerServer?.close();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    dir.remove();
  });

  it('a person in the sample is a critical alert at the webhook, signed with the key the demo names, listed as sent', async () => {
    const keyFile = /signed with the key in (\S+)/.exec(demo.output())?.[1];
    assert.ok(keyFile, demo.output());
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.doesNotMatch(demo.output(), /query-secret/, 'the URL is shown without its query');
    const alert = await until(
      'a person alert at the webhook',
      () => hook.requests.find((r) => r.url.startsWith('/hook') && JSON.parse(r.body.toString()).kind === 'object'),
      90_000,
    );
    assert.equal(alert.url, '/hook?token=query-secret');
    const secret = readFileSync(keyFile, 'utf8').trim();
    assert.ok(verifyWebhookSignature(secret, alert.headers, alert.body), 'signed with that key');
    assert.equal(verifyWebhookSignature('another key', alert.headers, alert.body), false);
    const body = JSON.parse(alert.body.toString());
    assert.equal(body.severity, 'critical', 'the demo is armed');
    assert.equal(body.title, 'Person at Demo street');
    assert.deepEqual(body.labels, ['person']);
    assert.equal(body.eventIds.length, 1);
    // It waited for the second look, which the media process made on the event's own frame, and it confirmed.
    const ev = (await api('GET', `/events/${body.eventIds[0]}`)).body as {
      startMs: number;
      secondOpinion: { verdict: string; score: number } | null;
      severity: string;
    };
    assert.equal(ev.secondOpinion?.verdict, 'confirmed', JSON.stringify(ev));
    assert.equal(ev.severity, 'critical');
    console.log(`      first frame of the event → alert at the webhook: ${alert.at - ev.startMs} ms`);
    // One alert for the incident, not one per person or frame (cars and trucks are incidents of their own).
    await sleep(3000);
    const objects = hook.requests.filter((r) => JSON.parse(r.body.toString()).title === 'Person at Demo street');
    assert.equal(objects.length, 1, objects.map((r) => r.body.toString()).join('\n'));
    const listed = await api('GET', '/alerts');
    const mine = (
      listed.body.alerts as { id: string; deliveries: { channel: string; state: string; attempts: number }[] }[]
    ).find((a) => a.id === body.id);
    assert.deepEqual(
      mine?.deliveries.map((d) => [d.channel, d.state, d.attempts]),
      [['webhook', 'sent', 1]],
    );
  });

  it('Home Assistant: MQTT turned on from the API publishes discovery and the person sensor; the password stays write-only', async () => {
    const setSecret = await api('PUT', '/alerts/channels/mqtt/secret', { value: MQTT_PASSWORD });
    assert.equal(setSecret.status, 200);
    assert.equal((await api('PUT', '/alerts/channels/webhook/secret', { value: 'x' })).status, 400);
    mqtt = await connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { username: 'guardian', password: MQTT_PASSWORD });
    mqtt.on('message', (topic, payload) => seen.set(topic, payload));
    await mqtt.subscribeAsync('#');
    const patched = await api('PATCH', '/config', {
      alerts: { channels: { mqtt: { enabled: true, url: `mqtt://127.0.0.1:${brokerPort}`, username: 'guardian' } } },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const config = await until(
      'the discovery config of the person sensor',
      () => [...seen].find(([t]) => /^homeassistant\/binary_sensor\/.*demo-street.*\/person\/config$/.test(t)),
      20_000,
    );
    const discovery = JSON.parse(config[1].toString()) as { state_topic: string; device: { name: string } };
    assert.equal(discovery.device.name, 'Demo street');
    await until(
      'the person sensor ON',
      () => (seen.get(discovery.state_topic)?.toString() === 'ON' ? true : undefined),
      60_000,
    );
    const channels = await api('GET', '/alerts/channels');
    const m = (
      channels.body.channels as { name: string; ready: boolean; secretSet: boolean; problem: string | null }[]
    ).find((c) => c.name === 'mqtt');
    assert.deepEqual([m?.ready, m?.secretSet, m?.problem], [true, true, null]);
    const everything = JSON.stringify([(await api('GET', '/config')).body, channels.body]);
    assert.equal(everything.includes(MQTT_PASSWORD), false, 'never shown back');
    assert.equal(demo.output().includes(MQTT_PASSWORD), false, 'never logged');
  });

  it('ntfy with attachSnapshot gets the event JPEG; a test alert goes through the test button', async () => {
    const patched = await api('PATCH', '/config', {
      alerts: {
        incidentSeconds: 10,
        channels: { ntfy: { enabled: true, url: `${ntfy.base}/home`, attachSnapshot: true, minSeverity: 'critical' } },
      },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const push = await until('a push with a snapshot', () => ntfy.requests.find((r) => r.method === 'PUT'), 90_000);
    assert.equal(push.url, '/home');
    assert.equal(push.headers.filename, 'snapshot.jpg');
    assert.deepEqual([...push.body.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    assert.equal(push.headers.priority, '5');

    const before = hook.requests.length;
    const test = await api('POST', '/alerts/channels/webhook/test');
    assert.equal(test.status, 200);
    assert.equal(test.body.delivered, true, JSON.stringify(test.body));
    const got = hook.requests.slice(before).find((r) => JSON.parse(r.body.toString()).kind === 'test');
    assert.ok(got, 'the test alert arrived');
    const off = await api('POST', '/alerts/channels/email/test');
    assert.deepEqual([off.body.delivered, off.body.error], [false, 'the channel is turned off']);
    assert.equal((await api('POST', '/alerts/channels/bogus/test')).status, 400);
  });
});
