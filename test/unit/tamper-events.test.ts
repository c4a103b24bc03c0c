// Tamper events in the main process: the media process's start/end reports become `tamper` events with the kind
// as their labels, written with their outbox entries (start, snapshot update, end), ended when the media process
// restarts, keeping the recordings around both ends of the event.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Outbox } from '../../src/edge/events/outbox.ts';
import { EventStore } from '../../src/edge/events/store.ts';
import { attachTamperEvents, TamperEvents } from '../../src/edge/events/tamper-events.ts';
import type { MediaProcess } from '../../src/edge/media/process.ts';
import type { TamperKind, TamperMessage } from '../../src/edge/media/protocol.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

const log = createLogger({ level: 'silent' });
const T0 = Date.UTC(2026, 5, 1, 12);

const msg = (kind: TamperKind, state: 'start' | 'end', s: number, frameIndex: number | null = 40): TamperMessage => ({
  type: 'tamper',
  cameraId: 'door',
  kind,
  state,
  wallClockMs: T0 + s * 1000,
  frameIndex,
});

function setup() {
  const db = openEdgeDatabase(':memory:');
  const outbox = new Outbox(db);
  return { db, outbox, store: new EventStore(db, outbox) };
}

describe('tamper events (main process)', () => {
  it('start and end make one `tamper` event with the kind as its labels, delivered through the outbox', async () => {
    const { store, outbox } = setup();
    const ended: string[] = [];
    const snapshots: [string, number][] = [];
    const tamper = new TamperEvents(
      store,
      {
        snapshot: async (ev, frameIndex) => {
          snapshots.push([ev.id, frameIndex]);
          return { snapshot: `snapshots/door/${ev.id}.jpg`, thumbnail: `snapshots/door/${ev.id}-thumb.jpg` };
        },
        ended: (ev) => ended.push(ev.id),
      },
      log,
    );
    const started = tamper.handle(msg('covered', 'start', 10));
    assert.ok(started);
    assert.equal(started.label, 'tamper');
    assert.deepEqual(started.labels, ['covered']);
    assert.equal(started.startMs, T0 + 10_000, 'from when the picture changed, not when it was confirmed');
    assert.equal(started.endMs, null);
    assert.deepEqual(tamper.current('door'), ['covered']);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(snapshots, [[started.id, 40]], 'the frame that confirmed it');
    assert.equal(store.get(started.id)?.snapshot, `snapshots/door/${started.id}.jpg`);
    assert.equal(store.get(started.id)?.snapshotBox, null, 'no box drawn: the whole picture is the subject');

    assert.equal(tamper.handle(msg('covered', 'start', 11)), undefined, 'a repeated start changes nothing');
    const done = tamper.handle(msg('covered', 'end', 25));
    assert.equal(done?.id, started.id);
    assert.equal(done?.endMs, T0 + 25_000);
    assert.deepEqual(ended, [started.id]);
    assert.deepEqual(tamper.current('door'), []);
    assert.equal(tamper.handle(msg('covered', 'end', 26)), undefined, 'an end without a start changes nothing');
    assert.equal(store.count(), 1);
    const items = outbox.due(10);
    // Due by priority: start and end before the snapshot update.
    assert.deepEqual(
      items.map((i) => i.kind),
      ['event.start', 'event.end', 'event.update'],
    );
    const end = items.find((i) => i.kind === 'event.end')?.payload as {
      label: string;
      labels: string[];
      endMs: number;
    };
    assert.deepEqual([end.label, end.labels, end.endMs], ['tamper', ['covered'], T0 + 25_000]);
  });

  it('kinds are separate events; a report without a frame takes no snapshot; finishAll ends what is open', () => {
    const { store } = setup();
    let snapshots = 0;
    const tamper = new TamperEvents(
      store,
      {
        snapshot: async () => {
          snapshots++;
          return null;
        },
      },
      log,
    );
    const dark = tamper.handle(msg('dark', 'start', 0, null));
    const frozen = tamper.handle({ ...msg('frozen', 'start', 3), cameraId: 'yard' });
    assert.ok(dark && frozen && dark.id !== frozen.id);
    assert.equal(snapshots, 1);
    assert.deepEqual(tamper.current('door'), ['dark']);
    assert.deepEqual(tamper.current('yard'), ['frozen']);
    tamper.finishAll('yard', T0 + 9000);
    assert.equal(store.get(frozen.id)?.endMs, T0 + 9000);
    assert.equal(store.get(dark.id)?.endMs, null);
    tamper.finishAll(undefined, T0 - 5000);
    assert.equal(store.get(dark.id)?.endMs, T0, 'never ends before it started');
  });

  it('wired to the media process: events from its reports, ended when it exits; recordings kept around both ends', async () => {
    const { store, outbox } = setup();
    const dir = tempDir();
    const media = Object.assign(new EventEmitter(), {
      request: async () => new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
    }) as unknown as MediaProcess;
    const claims: [number, number][] = [];
    const clipped: string[] = [];
    try {
      attachTamperEvents({
        media,
        events: store,
        recording: { claimForEvent: (_cam, a, b) => claims.push([a - T0, b - T0]) },
        clips: { afterEnd: (ev) => clipped.push(ev.id) },
        dataDir: dir.path,
        log,
      });
      media.emit('tamper', msg('moved', 'start', 0));
      media.emit('tamper', msg('moved', 'end', 600)); // ten minutes re-aimed
      const moved = store.list({ label: 'tamper' }).events[0];
      assert.ok(moved);
      assert.deepEqual(claims, [
        [0, 60_000],
        [540_000, 600_000],
      ]);
      assert.deepEqual(clipped, [moved.id]);
      await new Promise((r) => setTimeout(r, 50));
      const withSnapshot = store.get(moved.id);
      assert.ok(withSnapshot?.snapshot && existsSync(join(dir.path, withSnapshot.snapshot)), 'snapshot written');

      claims.length = 0;
      media.emit('tamper', msg('covered', 'start', 700));
      media.emit('exit', { code: null, signal: 'SIGKILL' });
      const covered = store.list({ label: 'tamper' }).events.find((e) => e.labels[0] === 'covered');
      assert.ok(covered?.endMs, 'a restarted media process leaves no tamper event open');
      // Ended now (long after T0): the minute after its start and the minute before the restart.
      assert.equal(claims.length, 2);
      assert.equal(claims[0]?.[0], 700_000);
      assert.ok(Math.abs((claims[1]?.[1] ?? 0) + T0 - Date.now()) < 5000);
      assert.ok(outbox.due(20).some((i) => i.kind === 'event.end' && i.ref === covered.id));
    } finally {
      dir.remove();
    }
  });
});
