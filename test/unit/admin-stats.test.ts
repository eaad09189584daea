/** The console's live figures (src/api/admin-stats.ts): totals from the metrics registry, rates per minute between reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdminStats } from '../../src/api/admin-stats.js';
import { URGENCIES } from '../../src/exchange/types.js';
import { createMetrics } from '../../src/observability/metrics.js';

const T0 = 1_000_000;

describe('admin stats', () => {
  it('lists every urgency from the start, and has no rate before a reading 5 s old', async () => {
    const metrics = createMetrics();
    const stats = createAdminStats(metrics, URGENCIES);
    const first = await stats(T0);
    assert.deepEqual(
      first.accepted.map((row) => [row.urgency, row.total, row.perMinute]),
      URGENCIES.map((urgency) => [urgency, 0, null]),
    );
    assert.equal(first.windowSeconds, null);
    metrics.acceptedMessages.inc({ urgency: 'high', target: 'user' });
    assert.equal((await stats(T0 + 4_000)).windowSeconds, null);
  });

  it('measures per minute against the reading about a minute old', async () => {
    const metrics = createMetrics();
    metrics.observe({ queueDepths: () => ({ 'herald.deliver.email': 3 }), liveSockets: () => 7, scheduledJobs: async () => 2 });
    const stats = createAdminStats(metrics, URGENCIES);
    await stats(T0);
    for (let i = 0; i < 5; i++) metrics.acceptedMessages.inc({ urgency: 'normal', target: 'users' });
    metrics.deliveries.inc({ channel: 'email', result: 'sent' }, 3);
    const half = await stats(T0 + 30_000);
    assert.equal(half.windowSeconds, 30);
    assert.equal(half.accepted.find((row) => row.urgency === 'normal')?.perMinute, 10);
    assert.deepEqual(half.deliveries, [{ channel: 'email', result: 'sent', total: 3, perMinute: 6 }]);
    assert.equal(half.sockets, 7);
    assert.equal(half.scheduledJobs, 2);
    assert.deepEqual(half.queues, [{ subject: 'herald.deliver.email', depth: 3 }]);

    // At 95 s the reading at 30 s is the newest at least a minute old: the baseline (T0 is dropped).
    metrics.acceptedMessages.inc({ urgency: 'normal', target: 'users' }, 2);
    const later = await stats(T0 + 95_000);
    assert.equal(later.windowSeconds, 65);
    assert.equal(later.accepted.find((row) => row.urgency === 'normal')?.total, 7);
    assert.equal(later.accepted.find((row) => row.urgency === 'normal')?.perMinute, Math.round(((2 * 60_000) / 65_000) * 10) / 10);
  });
});
