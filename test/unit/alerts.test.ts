// The alert core without a network: severity rules (armed schedule over midnight, night, zones, dwell), incidents
// (one alert, then one summary), camera offline, and the dispatcher's retries, give-ups, rate limit and durability.
// The channel here is a recording fake; the real channels are tested against real servers in test/integration.
import assert from 'node:assert/strict';
import type { AlertChannels } from '../../src/edge/alerts/channels.ts';
import { AlertDispatcher } from '../../src/edge/alerts/dispatcher.ts';
import { AlertEngine } from '../../src/edge/alerts/engine.ts';
import { AlertService } from '../../src/edge/alerts/service.ts';
import { isArmed, rateEvent } from '../../src/edge/alerts/severity.ts';
import { AlertStore } from '../../src/edge/alerts/store.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { type AlertsConfig, alertsConfigSchema } from '../../src/shared/alerts/config.ts';
import { type AlertChannel, type AlertMessage, ChannelError, type ChannelName } from '../../src/shared/alerts/types.ts';
import type { EventRecord } from '../../src/shared/api-types.ts';
import { createLogger } from '../../src/shared/log.ts';

const log = createLogger({ level: 'silent' });
const config = (over: Record<string, unknown> = {}): AlertsConfig => alertsConfigSchema.parse(over);
/** A local time on a given weekday of a known week (2026-11-30 is a Monday). */
const at = (day: number, hh: number, mm = 0) => new Date(2026, 10, 30 + day, hh, mm).getTime();

class FakeChannel implements AlertChannel {
  readonly reveals = 'everything, to the test';
  sent: AlertMessage[] = [];
  fail: ChannelError | null = null;
  constructor(readonly name: ChannelName) {}
  async send(a: AlertMessage): Promise<void> {
    if (this.fail) throw this.fail;
    this.sent.push(a);
  }
}

function rig(over: Record<string, unknown> = {}) {
  let now = at(0, 12);
  const db = openEdgeDatabase(':memory:');
  const store = new AlertStore(db);
  const channel = new FakeChannel('webhook');
  // The second look is its own test: elsewhere events alert without waiting for it.
  const cfg = config({ secondLook: { enabled: false }, ...over });
  const events = new Map<string, EventRecord>();
  const channels = {
    mqtt: null,
    get: (n: ChannelName) => (n === 'webhook' ? channel : undefined),
    wanting: (s: string) => (s === 'critical' || s === 'warning' ? ['webhook' as const] : []),
  } as unknown as AlertChannels;
  const dispatcher = new AlertDispatcher({
    store,
    channel: (n) => channels.get(n),
    message: (a) => store.message(a, { edgeId: null, cameraName: null, url: null }),
    snapshot: async () => null,
    limits: { perMinute: () => 2, retryHours: () => 1 },
    log,
    now: () => now,
  });
  const engine = new AlertEngine({
    store,
    channels,
    dispatcher,
    config: () => cfg,
    cameraName: (id) => `Camera ${id}`,
    event: (id) => events.get(id),
    dataDir: '/nonexistent',
    log,
    now: () => now,
  });
  const pass = async () => {
    dispatcher.kick();
    await dispatcher.idle();
  };
  return {
    db,
    store,
    channel,
    dispatcher,
    engine,
    pass,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    /** What the engine reads back when a held alert's wait is over. */
    events,
  };
}

let nextTrack = 1;
function event(over: Partial<EventRecord> = {}): EventRecord {
  const id = `01EV${String(nextTrack).padStart(22, '0')}`;
  return {
    id,
    cameraId: 'door',
    trackId: nextTrack++,
    label: 'person',
    labels: ['person'],
    zones: [],
    startMs: at(0, 12),
    endMs: null,
    maxScore: 0.9,
    meanScore: 0.9,
    detections: 3,
    boxPath: [],
    protected: false,
    updatedMs: at(0, 12),
    snapshot: null,
    snapshotBox: null,
    thumbnail: null,
    clip: null,
    severity: null,
    verdict: null,
    secondOpinion: null,
    ...over,
  };
}

describe('alert severity rules', () => {
  it('the default rules: tamper critical, a person critical only while armed, warning at night, normal otherwise', () => {
    const armed = config({ armed: 'armed' });
    const home = config({ armed: 'disarmed' });
    const rate = (c: AlertsConfig, label: string, ms = at(0, 12)) =>
      rateEvent(c, { cameraId: 'door', label, zones: [], dwellSeconds: 0, atMs: ms }).severity;
    assert.equal(rate(home, 'tamper'), 'critical');
    assert.equal(rate(armed, 'person'), 'critical');
    assert.equal(rate(home, 'person'), 'normal');
    assert.equal(rate(home, 'person', at(0, 22)), 'warning', 'a person at night');
    assert.equal(rate(home, 'unusual'), 'warning');
    assert.equal(rate(armed, 'car'), 'warning');
    assert.equal(rate(home, 'car'), 'normal');
  });

  it('an armed schedule over midnight counts by the day it starts on', () => {
    const c = config({ armed: 'schedule', schedule: [{ days: ['fri'], from: '22:00', to: '06:00' }] });
    assert.equal(isArmed(c, at(4, 23)), true, 'Friday 23:00');
    assert.equal(isArmed(c, at(5, 5, 59)), true, 'Saturday 05:59, the night that began Friday');
    assert.equal(isArmed(c, at(5, 6)), false, 'Saturday 06:00');
    assert.equal(isArmed(c, at(3, 23)), false, 'Thursday 23:00');
    assert.equal(isArmed(c, at(4, 5)), false, "Friday 05:00 belongs to Thursday's night");
  });

  it('zones, cameras and dwell time narrow a rule; the first match wins', () => {
    const c = config({
      armed: 'disarmed',
      rules: [
        { labels: ['person'], zones: ['porch'], minDwellSeconds: 30, severity: 'critical' },
        { labels: ['person'], cameras: ['yard'], severity: 'warning' },
        { labels: ['cat'], severity: 'false_positive' },
      ],
    });
    const rate = (cameraId: string, label: string, zones: string[], dwellSeconds: number) =>
      rateEvent(c, { cameraId, label, zones, dwellSeconds, atMs: at(0, 12) }).severity;
    assert.equal(rate('door', 'person', ['porch'], 10), 'normal', 'not long enough yet');
    assert.equal(rate('door', 'person', ['porch'], 31), 'critical', 'loitering on the porch');
    assert.equal(rate('door', 'person', ['street'], 60), 'normal');
    assert.equal(rate('yard', 'person', [], 0), 'warning');
    assert.equal(rate('yard', 'cat', [], 0), 'false_positive');
  });

  it('refuses a malformed schedule time, naming the field', () => {
    const r = alertsConfigSchema.safeParse({ schedule: [{ from: '25:00', to: '06:00' }] });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['schedule', 0, 'from']);
  });
});

describe('alert engine and dispatcher', () => {
  it('one alert per incident, then one summary of the rest once it is over', async () => {
    const r = rig({ armed: 'armed', incidentSeconds: 60 });
    const a = event();
    r.engine.eventChanged('start', a);
    await r.pass();
    assert.equal(r.channel.sent.length, 1);
    assert.equal(r.channel.sent[0]?.title, 'Person at Camera door');
    assert.equal(r.channel.sent[0]?.severity, 'critical');
    // Three more people within the incident: counted, not sent.
    for (let i = 0; i < 3; i++) {
      r.advance(20_000);
      r.engine.eventChanged('start', event());
    }
    r.engine.tick();
    await r.pass();
    assert.equal(r.channel.sent.length, 1, 'no push per event');
    r.advance(61_000);
    r.engine.tick();
    await r.pass();
    assert.equal(r.channel.sent.length, 2);
    assert.equal(r.channel.sent[1]?.kind, 'summary');
    assert.equal(r.channel.sent[1]?.eventIds.length, 3);
    assert.match(r.channel.sent[1]?.message ?? '', /^3 more events/);
    // Another camera is another incident.
    r.engine.eventChanged('start', event({ cameraId: 'yard' }));
    await r.pass();
    assert.equal(r.channel.sent.length, 3);
  });

  it('an event rated higher as it goes on alerts again; updates of events not seen starting alert nothing', async () => {
    const r = rig({
      armed: 'disarmed',
      rules: [
        { labels: ['person'], zones: ['porch'], minDwellSeconds: 30, severity: 'critical' },
        { labels: ['person'], zones: ['porch'], severity: 'warning' },
      ],
    });
    const e = event({ zones: [] });
    r.engine.eventChanged('start', e);
    await r.pass();
    assert.equal(r.channel.sent.length, 0, 'normal: nobody asked for it');
    r.engine.eventChanged('update', { ...e, zones: ['porch'], boxPath: [[e.startMs + 5_000, 0, 0, 1, 1]] });
    r.engine.eventChanged('update', { ...e, zones: ['porch'], boxPath: [[e.startMs + 10_000, 0, 0, 1, 1]] });
    await r.pass();
    assert.deepEqual(
      r.channel.sent.map((a) => a.severity),
      ['warning'],
      'walked onto the porch: once',
    );
    r.engine.eventChanged('update', { ...e, zones: ['porch'], boxPath: [[e.startMs + 40_000, 0, 0, 1, 1]] });
    await r.pass();
    assert.deepEqual(
      r.channel.sent.map((a) => a.severity),
      ['warning', 'critical'],
    );
    assert.match(r.channel.sent[1]?.message ?? '', /there for 40 s/);
    // An old event protected by the owner (an update), or one a crash left open (an end): nothing.
    const old = event({ zones: ['porch'], boxPath: [[at(0, 12) + 60_000, 0, 0, 1, 1]] });
    r.engine.eventChanged('update', old);
    r.engine.eventChanged('end', old);
    await r.pass();
    assert.equal(r.channel.sent.length, 2);
  });

  it('a camera offline for offlineMinutes is a warning, once; back online is recorded', async () => {
    const r = rig({ offlineMinutes: 5 });
    r.engine.cameraHealth('door', 'offline', 'connection refused');
    r.advance(4 * 60_000);
    r.engine.tick();
    await r.pass();
    assert.equal(r.channel.sent.length, 0, 'a short outage is no alert');
    r.advance(61_000);
    r.engine.tick();
    r.engine.tick();
    await r.pass();
    assert.equal(r.channel.sent.length, 1);
    assert.equal(r.channel.sent[0]?.kind, 'camera_offline');
    assert.match(r.channel.sent[0]?.message ?? '', /connection refused/);
    r.engine.cameraHealth('door', 'online', null);
    await r.pass();
    const stored = r.store.list();
    assert.equal(stored[0]?.title, 'Camera door is back online');
    assert.equal(stored[0]?.severity, 'normal');
    assert.equal(r.channel.sent.length, 1, 'back online is below the channel minimum');
  });

  it('storage: a full disk is critical; early deletions and server quota warnings say so once a day', async () => {
    const r = rig();
    r.engine.diskState(true, 3e8);
    r.engine.evictedEarly(2e9);
    r.engine.evictedEarly(1e9);
    r.engine.serverWarnings(['camera porch: archive at 85 % of its quota']);
    r.engine.serverWarnings(['camera porch: archive at 85 % of its quota']);
    await r.pass();
    r.advance(60_000); // the rig's channel takes 2 a minute
    await r.pass();
    assert.deepEqual(
      r.channel.sent.map((a) => [a.kind, a.severity, a.title]),
      [
        ['storage', 'critical', 'Recordings disk is full'],
        ['storage', 'warning', 'Disk too small for the retention you set'],
        ['storage', 'warning', 'Storage warning from your server'],
      ],
    );
    r.advance(86_400_000);
    r.engine.evictedEarly(1e9);
    await r.pass();
    assert.equal(r.channel.sent.length, 4, 'again the next day');
  });

  it('retries a failing channel with growing delays, gives up on a permanent error, survives a restart', async () => {
    const r = rig({ armed: 'armed' });
    r.channel.fail = new ChannelError('503 from the receiver', true);
    r.engine.eventChanged('start', event());
    await r.pass();
    let [alert] = r.store.list();
    assert.equal(alert?.deliveries[0]?.state, 'pending');
    assert.equal(alert?.deliveries[0]?.attempts, 1);
    assert.equal(alert?.deliveries[0]?.lastError, '503 from the receiver');
    const firstRetry = (alert?.deliveries[0]?.nextMs ?? 0) - r.now();
    assert.ok(firstRetry >= 4_000 && firstRetry <= 6_000, `first retry after ~5 s, not ${firstRetry}`);
    await r.pass();
    assert.equal(r.store.list()[0]?.deliveries[0]?.attempts, 1, 'not due yet: not tried');
    r.advance(firstRetry);
    await r.pass();
    [alert] = r.store.list();
    const secondRetry = (alert?.deliveries[0]?.nextMs ?? 0) - r.now();
    assert.ok(secondRetry >= 8_000 && secondRetry <= 12_000, `then ~10 s, not ${secondRetry}`);

    // The edge restarts: a new dispatcher on the same database delivers what waited.
    r.channel.fail = null;
    r.advance(secondRetry);
    const again = new AlertDispatcher({
      store: new AlertStore(r.db),
      channel: () => r.channel,
      message: (a) => r.store.message(a, { edgeId: null, cameraName: null, url: null }),
      snapshot: async () => null,
      limits: { perMinute: () => 10, retryHours: () => 1 },
      log,
      now: r.now,
    });
    again.kick();
    await again.idle();
    assert.equal(r.channel.sent.length, 1);
    assert.equal(r.store.list()[0]?.deliveries[0]?.state, 'sent');

    r.channel.fail = new ChannelError('401 from the receiver', false);
    r.advance(60_000); // past the rate limit, which counts the failed attempts too
    r.engine.eventChanged('start', event({ cameraId: 'yard' }));
    await r.pass();
    assert.equal(r.store.list()[0]?.deliveries[0]?.state, 'failed', 'a 4xx is not retried');
  });

  it('gives up after retryHours', async () => {
    const r = rig({ armed: 'armed' });
    r.channel.fail = new ChannelError('connection refused', true);
    r.engine.eventChanged('start', event());
    for (let i = 0; i < 30 && r.store.list()[0]?.deliveries[0]?.state === 'pending'; i++) {
      await r.pass();
      r.advance(10 * 60_000);
    }
    const d = r.store.list()[0]?.deliveries[0];
    assert.equal(d?.state, 'failed');
    assert.ok((d?.attempts ?? 0) > 3 && (d?.attempts ?? 99) < 20, `attempts ${d?.attempts}`);
  });

  it('at most perMinute a minute per channel; the rest wait their turn', async () => {
    const r = rig({ armed: 'armed' });
    for (const cam of ['a', 'b', 'c', 'd']) r.engine.eventChanged('start', event({ cameraId: cam }));
    await r.pass();
    assert.equal(r.channel.sent.length, 2, 'perMinute is 2 here');
    const waiting = r.store.list().filter((a) => a.deliveries[0]?.state === 'pending');
    assert.equal(waiting.length, 2);
    assert.ok(waiting.every((a) => (a.deliveries[0]?.nextMs ?? 0) >= r.now() + 59_000));
    r.advance(60_000);
    await r.pass();
    assert.equal(r.channel.sent.length, 4);
  });
});

describe('the second look', () => {
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a person alerts once the closer look confirms it, not before; one it does not see never alerts', async () => {
    const r = rig({ armed: 'armed', secondLook: { enabled: true, waitSeconds: 5 } });
    const seen = event();
    r.engine.eventChanged('start', seen);
    await r.pass();
    assert.equal(r.channel.sent.length, 0, 'held for the second look');
    r.engine.eventChanged('update', { ...seen, secondOpinion: { verdict: 'confirmed', score: 0.86 } });
    await r.pass();
    assert.equal(r.channel.sent.length, 1);
    const ghost = event({ cameraId: 'yard' });
    r.engine.eventChanged('start', ghost);
    r.engine.eventChanged('update', { ...ghost, secondOpinion: { verdict: 'false_positive', score: 0 } });
    await r.pass();
    assert.equal(r.channel.sent.length, 1, 'the closer look saw no person there');
    // A better view later that is confirmed does alert.
    r.engine.eventChanged('update', { ...ghost, secondOpinion: { verdict: 'confirmed', score: 0.5 } });
    await r.pass();
    assert.equal(r.channel.sent.length, 2);
  });

  it('without a verdict within waitSeconds the event is rated as it is, even if it has ended meanwhile', async () => {
    const r = rig({ armed: 'armed', secondLook: { enabled: true, waitSeconds: 0.2 } });
    const e = event();
    r.events.set(e.id, { ...e, endMs: e.startMs + 1000 });
    r.engine.eventChanged('start', e);
    r.engine.eventChanged('end', { ...e, endMs: e.startMs + 1000 });
    await r.pass();
    assert.equal(r.channel.sent.length, 0);
    await settle(400);
    await r.pass();
    assert.equal(r.channel.sent.length, 1, 'alerted after the wait');
    // Tamper and unusual activity have no second look: at once.
    r.engine.eventChanged('start', event({ label: 'tamper', labels: ['tamper', 'covered'], cameraId: 'yard' }));
    await r.pass();
    assert.equal(r.channel.sent.length, 2);
    r.engine.stop();
  });
});

describe("the owner's verdicts", () => {
  function service() {
    const db = openEdgeDatabase(':memory:');
    const events = new EventStore(db, new Outbox(db));
    const cfg = config({ armed: 'armed', secondLook: { enabled: false } });
    const alerts = new AlertService({
      db,
      dataDir: '/nonexistent',
      config: () => cfg,
      retentionDays: () => 30,
      events,
      cameras: () => [{ id: 'door', name: 'Door' }],
      edgeId: () => null,
      log,
    });
    events.onChange((change, ev) => alerts.engine.eventChanged(change, ev));
    const person = (maxScore: number, zones: string[] = []) =>
      events.create({
        cameraId: 'door',
        trackId: nextTrack++,
        label: 'person',
        labels: ['person'],
        zones,
        startMs: Date.now(),
        endMs: null,
        maxScore,
        meanScore: maxScore,
        detections: 3,
        boxPath: [],
        snapshot: null,
        thumbnail: null,
        clip: null,
      });
    return { events, alerts, person };
  }

  it('the rating is written to the event (and so goes to the owner server with it)', () => {
    const { events, person } = service();
    assert.equal(events.get(person(0.9).id)?.severity, 'critical');
  });

  it('three false positives of one kind in one place raise the score it needs to alert there; undo restores it', () => {
    const { events, alerts, person } = service();
    const criticalAlerts = () => alerts.store.list().filter((a) => a.severity === 'critical').length;
    const marked = [0.6, 0.7, 0.65].map((s) => person(s));
    assert.equal(criticalAlerts(), 1, 'one incident so far');
    assert.equal(alerts.verdict(marked[0]?.id as string, 'false_positive').learned, null);
    assert.equal(alerts.verdict(marked[1]?.id as string, 'false_positive').learned, null);
    const { learned } = alerts.verdict(marked[2]?.id as string, 'false_positive');
    assert.deepEqual(
      [learned?.label, learned?.zone, learned?.minScore, learned?.falsePositives],
      ['person', '', 0.72, 3],
    );
    // In another zone it has not learned anything.
    assert.equal(alerts.store.minScore('door', 'person', ['porch']), 0.72, 'a zone-less one applies anywhere');
    alerts.engine.tick(); // nothing to summarise yet; a new incident key needs the old one closed
    const low = person(0.7);
    assert.equal(events.get(low.id)?.severity, 'false_positive', 'below what it learned: no alert');
    const high = person(0.8);
    assert.equal(events.get(high.id)?.severity, 'critical');
    assert.ok(learned);
    assert.equal(alerts.store.unsuppress(learned.id), true);
    assert.equal(events.get(person(0.7).id)?.severity, 'critical', 'undone');
    // A confirmed event teaches nothing, and a verdict can be cleared.
    assert.equal(alerts.verdict(high.id, 'confirmed').event.verdict, 'confirmed');
    assert.equal(alerts.verdict(high.id, null).event.verdict, null);
  });
});
