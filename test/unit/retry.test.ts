/** The retry delays channels, schedulers and the bus share (src/retry.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultJobBackoff } from '../../schedulers/port.js';
import { defaultBackoff } from '../../src/bus/port.js';
import { backoffDelay, PROVIDER_BACKOFF, parseRetryAfter, providerBackoff, RETRY_AFTER_MAX_MS } from '../../src/retry.js';

describe('backoff', () => {
  it('grows linearly or by doubling from the first delay, capped, counting attempts from 1', () => {
    const linear = { firstMs: 10, maxMs: 35, growth: 'linear' } as const;
    const doubling = { firstMs: 10, maxMs: 70, growth: 'doubling' } as const;
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => backoffDelay(linear, n)),
      [10, 10, 20, 30, 35],
    );
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => backoffDelay(doubling, n)),
      [10, 10, 20, 40, 70],
    );
  });

  it('waits 30 s × attempt for a provider, at most 10 min', () => {
    assert.deepEqual(PROVIDER_BACKOFF, { firstMs: 30_000, maxMs: 600_000, growth: 'linear' });
    assert.deepEqual([1, 2, 5, 20, 21, 1000].map(providerBackoff), [30_000, 60_000, 150_000, 600_000, 600_000, 600_000]);
  });

  it('retries a failed job after 1 s doubling, at most 5 min; redelivers bus work after 250 ms doubling, at most 30 s', () => {
    assert.deepEqual([1, 2, 3, 9, 10, 50].map(defaultJobBackoff), [1_000, 2_000, 4_000, 256_000, 300_000, 300_000]);
    assert.deepEqual([1, 2, 3, 7, 8, 50].map(defaultBackoff), [250, 500, 1_000, 16_000, 30_000, 30_000]);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delta-seconds, as text or a number, and the first value of a list', () => {
    assert.equal(parseRetryAfter('12', now), 12_000);
    assert.equal(parseRetryAfter(' 7 ', now), 7_000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1_500);
    assert.equal(parseRetryAfter(120, now), 120_000);
    assert.equal(parseRetryAfter(['3', '9'], now), 3_000);
  });

  it('reads an HTTP date as the time left until it, 0 when it has passed', () => {
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0);
  });

  it('ignores what it cannot read', () => {
    for (const value of [undefined, null, '', '  ', 'soon', -1, Number.NaN, {}, []]) assert.equal(parseRetryAfter(value, now), undefined, String(value));
  });

  it('honours at most one hour', () => {
    assert.equal(RETRY_AFTER_MAX_MS, 3_600_000);
    assert.equal(parseRetryAfter('86400', now), RETRY_AFTER_MAX_MS);
    assert.equal(parseRetryAfter('Thu, 02 Jan 2025 00:00:00 GMT', now), RETRY_AFTER_MAX_MS);
  });
});
