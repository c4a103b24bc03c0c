// The outbox delivers every kind it holds, each by its handler: a kind at the front never blocks the others.
import assert from 'node:assert/strict';

import { Outbox } from '../../src/edge/events/outbox.ts';
import { LinkFailure, OutboxDelivery } from '../../src/edge/link/delivery.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';

describe('outbox delivery by kind', () => {
  it('mixed kinds, with 150 archive items queued before the events: each reaches its handler', async () => {
    const db = openEdgeDatabase(':memory:');
    const outbox = new Outbox(db);
    for (let i = 0; i < 150; i++) outbox.enqueue('archive.upload', `a${i}`, { i }, 1);
    for (let i = 0; i < 120; i++) outbox.enqueue(i % 2 ? 'event.end' : 'event.start', `e${i}`, { i }, 5);
    outbox.enqueue('dataset.upload', 'd1', {}, 5);
    const got: Record<string, string[]> = { archive: [], event: [] };
    const delivery = new OutboxDelivery(outbox);
    for (const family of ['archive', 'event'] as const)
      delivery.register(family, async (items) => {
        got[family]?.push(...items.map((i) => i.ref));
        return new Set(items.map((i) => i.id));
      });
    const sent = await delivery.drain();
    assert.equal(sent, 270);
    assert.equal(got.archive?.length, 150);
    assert.equal(got.event?.length, 120);
    assert.equal(got.event?.[0], 'e0', 'in order within a kind');
    // A kind nobody delivers waits with its backoff and does not hold the others back.
    assert.deepEqual(
      outbox.due(10, Date.now() + 3_600_000).map((i) => i.kind),
      ['dataset.upload'],
    );
    assert.equal(outbox.due(10).length, 0);
  });

  it('unacknowledged items back off; a failed link is reported and loses nothing', async () => {
    const db = openEdgeDatabase(':memory:');
    const outbox = new Outbox(db);
    for (let i = 0; i < 4; i++) outbox.enqueue('event.start', `e${i}`, {}, 5);
    const delivery = new OutboxDelivery(outbox);
    delivery.register('event', async (items) => new Set(items.slice(0, 2).map((i) => i.id)));
    assert.equal(await delivery.drain(), 2);
    assert.equal(outbox.length(), 2);
    outbox.retryNow();
    delivery.register('event', async () => {
      throw new Error('UNAVAILABLE: connection reset');
    });
    await assert.rejects(delivery.drain(), (e) => e instanceof LinkFailure && /connection reset/.test(e.message));
    assert.equal(outbox.length(), 2, 'still queued');
  });
});
