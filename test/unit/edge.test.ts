import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { EventGenerator, type FrameDetections } from '../../src/edge/events/generator.ts';
import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { OutboxDelivery } from '../../src/edge/link/delivery.ts';
import { applyEnvOverrides, configJsonSchema, validateConfig } from '../../src/shared/config.ts';
import { openDatabase } from '../../src/shared/db.ts';
import { ValidationError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';
import { freePort } from '../support/rtsp.ts';

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
    const db = openDatabase(':memory:');
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

  it('requires a zone when the camera asks for one', () => {
    const db = openDatabase(':memory:');
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
    const db = openDatabase(':memory:');
    const store = new EventStore(db, new Outbox(db));
    for (let i = 0; i < 25; i++)
      store.create({
        cameraId: i % 2 ? 'a' : 'b',
        trackId: i,
        label: 'person',
        labels: ['person'],
        zones: [],
        startMs: 1000 + i,
        endMs: null,
        maxScore: 0.9,
        meanScore: 0.9,
        detections: 1,
        boxPath: [],
        snapshot: null,
        thumbnail: null,
        clip: null,
      });
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

  it('the outbox survives a restart and retries with growing backoff until the server answers', async () => {
    const dir = tempDir();
    try {
      const path = `${dir.path}/edge.db`;
      let db = openDatabase(path);
      let outbox = new Outbox(db, { maxItems: 1000, maxBytes: 1 << 20, backoff: { initialMs: 200, maxMs: 5000 } });
      outbox.enqueue('event.start', 'e1', { n: 1 }, 1);
      outbox.enqueue('event.start', 'e2', { n: 2 }, 1);
      const port = await freePort(); // nothing listens: the owner's server is unreachable
      const unreachable = new OutboxDelivery(outbox, { url: `http://127.0.0.1:${port}` }, log);
      assert.equal(await unreachable.pump(), 0);
      const first = outbox.due(10, Date.now() + 10_000);
      assert.equal(first[0]?.attempts, 1);
      assert.equal(first[1]?.attempts, 0, 'after a failure the rest waits instead of hammering the server');
      assert.ok(!outbox.due(10).some((i) => i.ref === 'e1'), 'the failed item is not due during its backoff');
      await new Promise((r) => setTimeout(r, 300));
      await unreachable.pump();
      const second = outbox.due(10, Date.now() + 10_000)[0];
      assert.equal(second?.attempts, 2);
      assert.ok((second?.nextAttemptMs ?? 0) - Date.now() > 200, 'the delay grew');
      db.close();

      // Restart: the queue is still there.
      db = openDatabase(path);
      outbox = new Outbox(db, { maxItems: 1000, maxBytes: 1 << 20, backoff: { initialMs: 200, maxMs: 5000 } });
      assert.equal(outbox.length(), 2);
      const received: string[] = [];
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => {
          body += d;
        });
        req.on('end', () => {
          received.push(JSON.parse(body).ref);
          res.end('{}');
        });
      });
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      try {
        await new Promise((r) => setTimeout(r, 1200));
        const delivery = new OutboxDelivery(outbox, { url: `http://127.0.0.1:${port}` }, log);
        assert.equal(await delivery.pump(), 2);
        assert.deepEqual(received, ['e1', 'e2']);
        assert.equal(outbox.length(), 0);
      } finally {
        server.close();
        db.close();
      }
    } finally {
      dir.remove();
    }
  });
});
