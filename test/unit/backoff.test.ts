// The one backoff formula every retry uses (src/shared/backoff.ts).
import assert from 'node:assert/strict';

import { backoffDelay } from '../../src/shared/backoff.ts';

const middle = () => 0.5; // no jitter either way

describe('backoff', () => {
  it('grows by the factor from initialMs and stops at maxMs', () => {
    const b = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, b)),
      [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
    );
    assert.equal(backoffDelay(3, { ...b, factor: 3 }), 13_500);
    assert.equal(backoffDelay(9, { ...b, factor: 1 }), 500, 'factor 1: constant');
  });

  it('jitter spreads each delay evenly around its base, after the cap', () => {
    const b = { initialMs: 1000, maxMs: 4000, factor: 2, jitter: 0.25 };
    assert.equal(backoffDelay(1, b, middle), 2000);
    assert.equal(
      backoffDelay(1, b, () => 0),
      1500,
    );
    assert.equal(
      backoffDelay(1, b, () => 0.999_999),
      2500,
    );
    assert.equal(
      backoffDelay(10, b, () => 0.999_999),
      5000,
      'the cap is the base: jitter still applies',
    );
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(2, b);
      assert.ok(d >= 3000 && d <= 5000 && Number.isInteger(d), String(d));
    }
  });

  it('any attempt number gives a finite, non-negative delay', () => {
    const b = { initialMs: 1000, maxMs: 5000, factor: 2, jitter: 0.2 };
    assert.equal(backoffDelay(10_000, b, middle), 5000, 'an overflowing growth is the cap');
    assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, b, middle), 5000);
    assert.equal(backoffDelay(-3, b, middle), 1000, 'a negative attempt is the first');
    assert.equal(backoffDelay(10_000, { ...b, initialMs: 0 }, middle), 0, 'initialMs 0: no delay, not NaN');
  });

  it('reproduces the media process restart delays (500 ms doubling to 30 s, no jitter)', () => {
    // src/edge/media/process.ts computed min(maxMs, initialMs * 2 ** min(restarts - 1, 10)).
    const backoff = { initialMs: 500, maxMs: 30_000 };
    for (let restarts = 1; restarts <= 40; restarts++)
      assert.equal(
        backoffDelay(restarts - 1, { ...backoff, factor: 2, jitter: 0 }),
        Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(restarts - 1, 10)),
      );
  });
});
