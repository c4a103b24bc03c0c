import assert from 'node:assert/strict';

import { defaultTrackerOptions, Tracker } from '../../src/edge/detect/tracker.ts';
import { EventGenerator, type FrameDetections } from '../../src/edge/events/generator.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { applyEnvOverrides, configJsonSchema, validateConfig } from '../../src/shared/config.ts';
import { ValidationError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

const log = createLogger({ level: 'silent' });

describe('configuration', () => {
  it('fills defaults, rejects unknown keys and lists every problem at once', () => {
    const c = validateConfig({ dataDir: '/srv/guardian' });
    assert.equal(c.http.port, 8080);
    assert.equal(c.detection.backend, 'onnxruntime');
    try {
      validateConfig({
        dataDir: 'relative',
        http: { port: 70000, extra: 1 },
        detection: { backend: 'tpu' },
        nonsense: true,
      });
      assert.fail('should not validate');
    } catch (e) {
      assert.ok(e instanceof ValidationError);
      const fields = e.issues.map((i) => i.field).sort();
      assert.deepEqual(fields, ['(root)', 'dataDir', 'detection.backend', 'http', 'http.port']);
    }
  });

  it('applies GUARDIAN_CONFIG__ environment overrides and exports a JSON Schema', () => {
    const raw = applyEnvOverrides(
      { dataDir: '/d', http: { port: 1 } },
      {
        GUARDIAN_CONFIG__HTTP__PORT: '9090',
        GUARDIAN_CONFIG__DETECTION__BACKEND: 'openvino',
        GUARDIAN_CONFIG__EVENTS__END_AFTER_SECONDS: '12',
      },
    );
    const c = validateConfig(raw);
    assert.equal(c.http.port, 9090);
    assert.equal(c.detection.backend, 'openvino');
    assert.equal(c.events.endAfterSeconds, 12);
    const schema = configJsonSchema() as { properties: Record<string, unknown>; additionalProperties?: boolean };
    assert.ok(schema.properties.detection && schema.properties.recording);
    assert.equal(schema.additionalProperties, false);
  });
});

/** An open person event on `cameraId` starting at `startMs`, for the store's tests. */
const personEvent = (cameraId: string, trackId: number, startMs: number) => ({
  cameraId,
  trackId,
  label: 'person',
  labels: ['person'],
  zones: [],
  startMs,
  endMs: null,
  maxScore: 0.9,
  meanScore: 0.9,
  detections: 1,
  boxPath: [],
  snapshot: null,
  thumbnail: null,
  clip: null,
});

function frame(t: number, detections: FrameDetections['detections']): FrameDetections {
  return {
    cameraId: 'door',
    frameIndex: t,
    pts: t / 5,
    wallClockMs: 1_000_000 + t * 200,
    width: 800,
    height: 600,
    detections,
  };
}

describe('events and outbox', () => {
  it('starts an event on a confirmed track, ends it after the object is gone, with outbox entries in order', () => {
    const db = openEdgeDatabase(':memory:');
    const outbox = new Outbox(db);
    const store = new EventStore(db, outbox);
    const ended: string[] = [];
    const gen = new EventGenerator(
      store,
      { classes: new Set(['person']), endAfterSeconds: 2, requiredZones: () => [] },
      { snapshot: async () => null, ended: (e) => ended.push(e.id) },
      log,
    );
    const person = (confirmed: boolean, x: number) => ({
      trackId: 7,
      label: 'person',
      score: 0.8,
      box: [x, 100, x + 40, 200] as [number, number, number, number],
      confirmed,
      stationary: false,
      zones: [],
    });
    gen.handle(frame(0, [person(false, 10)]));
    assert.equal(store.count(), 0, 'not before the track is confirmed');
    gen.handle(frame(1, [{ ...person(true, 12), label: 'cat', trackId: 8 }]));
    assert.equal(store.count(), 0, 'classes that are not enabled make no event');
    for (let t = 2; t < 20; t++) gen.handle(frame(t, [person(true, 10 + t * 5)]));
    assert.equal(store.count(), 1);
    for (let t = 20; t < 35; t++) gen.handle(frame(t, []));
    const ev = store.list().events[0];
    assert.ok(ev?.endMs, 'ended');
    assert.deepEqual(ended, [ev.id]);
    assert.equal(ev.detections, 18);
    assert.ok(ev.boxPath.length === 18 && ev.maxScore === 0.8);
    assert.match(ev.id, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'a ULID');
    const kinds = outbox.due(10).map((i) => i.kind);
    assert.deepEqual(kinds, ['event.start', 'event.end']);
  });

  it('a rebuilt pipeline never continues an old event: track ids are unique across trackers', () => {
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    const gen = new EventGenerator(
      store,
      { classes: new Set(['person', 'truck']), endAfterSeconds: 30, requiredZones: () => [] },
      { snapshot: async () => null, ended: () => undefined },
      log,
    );
    const feed = (tracker: Tracker, label: string, from: number, to: number) => {
      for (let t = from; t < to; t++) {
        const x = 100 + t * 6;
        const out = tracker.update([{ classId: 0, label, score: 0.8, box: [x, 100, x + 40, 200] }], t / 5);
        gen.handle(
          frame(
            t,
            out.map((d) => ({ ...d, zones: [] })),
          ),
        );
      }
    };
    feed(new Tracker(defaultTrackerOptions), 'truck', 0, 10);
    // Settings saved: the media process builds a new pipeline (and tracker) for the camera.
    feed(new Tracker(defaultTrackerOptions), 'person', 10, 20);
    const events = store.list().events;
    assert.deepEqual(events.map((e) => e.labels).sort(), [['person'], ['truck']]);
  });

  it('a stationary object ends its event and starts a new one only when it moves again', () => {
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    const gen = new EventGenerator(
      store,
      { classes: new Set(['car']), endAfterSeconds: 2, requiredZones: () => [] },
      { snapshot: async () => null, ended: () => undefined },
      log,
    );
    const car = (stationary: boolean) => ({
      trackId: 3,
      label: 'car',
      score: 0.9,
      box: [0, 0, 50, 30] as [number, number, number, number],
      confirmed: true,
      stationary,
      zones: [],
    });
    for (let t = 0; t < 10; t++) gen.handle(frame(t, [car(false)])); // arrives (2 s)
    for (let t = 10; t < 600; t++) gen.handle(frame(t, [car(true)])); // parked for two minutes
    let events = store.list().events;
    assert.equal(events.length, 1);
    assert.ok(events[0]?.endMs, 'the parked car does not hold its event open');
    assert.ok((events[0]?.endMs ?? 0) - (events[0]?.startMs ?? 0) <= 2000);
    for (let t = 600; t < 610; t++) gen.handle(frame(t, [car(false)])); // drives away
    events = store.list().events;
    assert.equal(events.length, 2, 'leaving is a new event');
  });

  it('requires a zone when the camera asks for one', () => {
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    const gen = new EventGenerator(
      store,
      { classes: new Set(['person']), endAfterSeconds: 2, requiredZones: () => ['porch'] },
      { snapshot: async () => null, ended: () => undefined },
      log,
    );
    const p = (zones: string[]) => ({
      trackId: 1,
      label: 'person',
      score: 0.9,
      box: [0, 0, 10, 10] as [number, number, number, number],
      confirmed: true,
      stationary: false,
      zones,
    });
    gen.handle(frame(0, [p(['street'])]));
    assert.equal(store.count(), 0);
    gen.handle(frame(1, [p(['porch'])]));
    assert.equal(store.count(), 1);
  });

  it('pages events with a cursor', () => {
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    for (let i = 0; i < 25; i++) store.create(personEvent(i % 2 ? 'a' : 'b', i, 1000 + i));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = store.list({ limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    assert.equal(store.list({ camera: 'a', limit: 100 }).events.length, 12);
  });

  it('counts events since a time without a page limit (the status page said 500 on a busy day)', () => {
    const db = openEdgeDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    const day = 1_800_000_000_000;
    db.transaction(() => {
      for (let i = 0; i < 700; i++) store.create(personEvent('a', i, day - 100 * 60_000 + i * 60_000)); // 100 of them before `day`
    })();
    assert.equal(store.count(), 700);
    assert.equal(store.count(day), 600);
    assert.equal(store.list({ fromMs: day, limit: 1000 }).events.length, 500, 'a list stops at its page size');
  });

  it('the outbox survives a restart, backs off with growing delays, and retries at once when the link returns', async () => {
    const dir = tempDir();
    try {
      const path = `${dir.path}/edge.db`;
      const limits = { maxItems: 1000, maxBytes: 1 << 20, backoff: { initialMs: 200, maxMs: 5000 } };
      let db = openEdgeDatabase(path);
      let outbox = new Outbox(db, limits);
      outbox.enqueue('event.start', 'e1', { n: 1 }, 1);
      outbox.enqueue('event.start', 'e2', { n: 2 }, 1);
      const [e1] = outbox.due(10);
      const firstDelay = outbox.fail(e1?.id ?? -1, 'unreachable');
      assert.ok(firstDelay >= 160 && firstDelay <= 240, `first delay ${firstDelay}`);
      assert.ok(!outbox.due(10).some((i) => i.ref === 'e1'), 'the failed item is not due during its backoff');
      assert.ok(
        outbox.due(10).some((i) => i.ref === 'e2'),
        'the others are',
      );
      const secondDelay = outbox.fail(e1?.id ?? -1, 'unreachable');
      assert.ok(secondDelay > firstDelay * 1.3, 'the delay grew');
      assert.equal(outbox.due(10, Date.now() + 10_000)[0]?.attempts, 2);
      db.close();

      // Restart: the queue is still there, with its backoff.
      db = openEdgeDatabase(path);
      outbox = new Outbox(db, limits);
      assert.equal(outbox.length(), 2);
      assert.deepEqual(
        outbox.due(10).map((i) => i.ref),
        ['e2'],
      );
      outbox.retryNow();
      assert.deepEqual(
        outbox.due(10).map((i) => i.ref),
        ['e1', 'e2'],
      );
      let queued = 0;
      outbox.onEnqueue = () => queued++;
      outbox.enqueue('event.end', 'e1', { n: 3 }, 2);
      await new Promise((r) => queueMicrotask(() => r(undefined)));
      assert.equal(queued, 1, 'the link is told at once');
      db.close();
    } finally {
      dir.remove();
    }
  });
});
