import assert from 'node:assert/strict';

import { openDatabase } from '../../src/shared/db.ts';
import { VmCache } from '../../src/vm/cache/cache.ts';
import { vmMigrations } from '../../src/vm/cache/schema.ts';

const ev = (id: string, startMs: number, updatedMs = startMs, endMs: number | null = null) => ({
  id,
  cameraId: 'porch',
  label: 'person',
  startMs,
  endMs,
  updatedMs,
  maxScore: 0.9,
});

describe('VM event cache', () => {
  it('creates the planned tables through versioned migrations', () => {
    const db = openDatabase(':memory:', vmMigrations);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    assert.deepEqual(tables, [
      'archive_objects',
      'datasets',
      'deployments',
      'edges',
      'events',
      'models',
      'pairings',
      'telemetry',
      'training_jobs',
    ]);
    assert.equal(db.pragma('user_version', { simple: true }), 4);
  });

  it('ingests idempotently: the same batch three times stores each event once; a newer version updates it', () => {
    const cache = new VmCache(openDatabase(':memory:', vmMigrations));
    cache.upsertEdge('edge-1', { name: 'Home', version: '0.1.0' });
    const batch = [ev('01A', 1000), ev('01B', 2000), ev('01C', 3000)];
    const first = cache.ingest('edge-1', batch);
    assert.deepEqual([first.inserted, first.updated, first.acked.length], [3, 0, 3]);
    for (let i = 0; i < 3; i++) {
      const again = cache.ingest('edge-1', batch);
      assert.deepEqual(
        [again.inserted, again.updated, again.acked.length],
        [0, 0, 3],
        'replays change nothing but are acknowledged',
      );
    }
    assert.equal(cache.events().length, 3);
    const ended = cache.ingest('edge-1', [ev('01B', 2000, 9000, 8000)]);
    assert.equal(ended.updated, 1);
    assert.equal(cache.events({ type: 'person' }).find((e) => e.eventId === '01B')?.endTimestamp, 8000);
    // The edge's rating and the owner's verdict travel with the event into the planned columns.
    const ended01B = cache.events().find((e) => e.eventId === '01B');
    assert.deepEqual([ended01B?.severity, ended01B?.analyzed], ['info', false], 'not rated yet');
    cache.ingest('edge-1', [{ ...ev('01B', 2000, 9500, 8000), severity: 'critical', verdict: 'confirmed' }]);
    const rated = cache.events().find((e) => e.eventId === '01B');
    assert.deepEqual([rated?.severity, rated?.analyzed], ['critical', true]);
    assert.deepEqual(
      cache.events({ severity: 'critical' }).map((e) => e.eventId),
      ['01B'],
    );
    const stale = cache.ingest('edge-1', [ev('01B', 2000, 5000, null)]);
    assert.equal(stale.updated, 0, 'an older version never overwrites a newer one');
    assert.equal(cache.expire(2500), 2);
    assert.deepEqual(
      cache.events().map((e) => e.eventId),
      ['01C'],
    );
  });

  it('judges edge health from telemetry and marks silent edges offline', () => {
    const cache = new VmCache(openDatabase(':memory:', vmMigrations));
    cache.upsertEdge('edge-1', {});
    assert.equal(
      cache.telemetry('edge-1', { cameras: { porch: { status: 'online' } }, diskPercent: 40 }).status,
      'healthy',
    );
    const bad = cache.telemetry('edge-1', { cameras: { porch: { status: 'offline' } }, diskPercent: 97 });
    assert.deepEqual(bad.reasons, ['camera porch offline', 'disk 97% full']);
    assert.equal(cache.health()[0]?.status, 'unhealthy');
    assert.equal(cache.health(-1)[0]?.status, 'offline');
    assert.equal(cache.telemetryHistory('edge-1', 0).length, 2);
  });

  it('a camera the edge did not announce at hello appears from its telemetry, with its status', () => {
    const cache = new VmCache(openDatabase(':memory:', vmMigrations));
    cache.upsertEdge('edge-1', { cameras: [{ id: 'porch', name: 'Porch', status: 'unknown' }] });
    cache.telemetry('edge-1', { cameras: { porch: { status: 'online' }, 'demo-street': { status: 'online' } } });
    const cameras = cache.edges()[0]?.cameras as { id: string; status: string }[];
    assert.deepEqual(
      cameras.map((c) => [c.id, c.status]),
      [
        ['porch', 'online'],
        ['demo-street', 'online'],
      ],
    );
  });
});
