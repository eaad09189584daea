/**
 * Runs the Scheduler contract against the BullMQ adapter on a real Redis (HERALD_REDIS_URL,
 * default redis://127.0.0.1:6379), then checks what only the distributed adapter promises:
 * two processes sharing a queue, retries through BullMQ's backoff, Herald ids BullMQ would reject.
 * Each test gets its own key prefix and deletes every key under it afterwards (the Redis is
 * shared with other suites: never FLUSHALL). An unreachable Redis fails every test, saying so.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type BullmqScheduler,
  type BullmqSchedulerOptions,
  createBullmqScheduler,
  DEFAULT_QUEUE_NAME,
  type SchedulerLogger,
} from '../../schedulers/bullmq/scheduler.js';
import type { Job } from '../../schedulers/port.js';
import { deferred, within } from '../contract/contract-helpers.js';
import { schedulerContract } from '../contract/scheduler.contract.js';
import { servicesEnv, waitForPort } from '../helpers/services.js';

const { redisUrl, endpoints } = servicesEnv();

let reachable: Promise<void> | undefined;
/** Rejects (failing the test) when nothing answers at HERALD_REDIS_URL. */
function redisReachable(): Promise<void> {
  reachable ??= waitForPort(endpoints.redis.host, endpoints.redis.port, 3_000).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Redis for the BullMQ scheduler tests is unreachable at ${redisUrl} (HERALD_REDIS_URL): ${reason}`);
  });
  return reachable;
}

/** Deletes every key under `prefix:` (BullMQ's queues and the adapter's index alike). */
async function deleteKeys(prefix: string): Promise<void> {
  const admin = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

/** Schedulers over one fresh prefix (one "deployment"); `cleanup` closes them and deletes the keys. */
async function deployment(overrides: Partial<BullmqSchedulerOptions> = {}) {
  await redisReachable();
  const prefix = `herald-test-${randomUUID()}`;
  const options: BullmqSchedulerOptions = { url: redisUrl, prefix, concurrency: 4, backoff: () => 20, ...overrides };
  const opened: BullmqScheduler[] = [];
  const open = (more: Partial<BullmqSchedulerOptions> = {}): BullmqScheduler => {
    const scheduler = createBullmqScheduler({ ...options, ...more });
    opened.push(scheduler);
    return scheduler;
  };
  return {
    prefix,
    open,
    cleanup: async () => {
      await Promise.all(opened.map((scheduler) => scheduler.close()));
      await deleteKeys(prefix);
    },
  };
}

schedulerContract('bullmq (redis)', async () => {
  const redis = await deployment();
  let scheduler = redis.open();
  return {
    scheduler,
    reopen: async () => {
      await scheduler.close();
      scheduler = redis.open();
      return scheduler;
    },
    cleanup: redis.cleanup,
  };
});

describe('BullMQ scheduler beyond the contract', () => {
  let redis: Awaited<ReturnType<typeof deployment>>;
  beforeEach(async () => {
    redis = await deployment();
  });
  afterEach(async () => {
    await redis.cleanup();
  });

  it('two schedulers on one queue run each due job exactly once, with the latest replacement', async () => {
    const a = redis.open();
    const b = redis.open();
    const total = 200;
    const runs = new Map<string, unknown[]>();
    const ranOn = { a: 0, b: 0 };
    const allDone = deferred();
    const bRan = deferred();
    const record = (job: Job) => {
      const seen = runs.get(job.id) ?? [];
      seen.push(job.payload);
      runs.set(job.id, seen);
      if (runs.size === total) allDone.resolve();
    };
    // A holds its slots until B has run a job, so both processes must take part.
    a.handle('bulk', async (job) => {
      ranOn.a++;
      await bRan.promise;
      record(job);
    });
    b.handle('bulk', async (job) => {
      ranOn.b++;
      bRan.resolve();
      record(job);
    });

    const now = Date.now();
    for (let i = 0; i < total; i++) {
      await a.schedule({ id: `bulk:${i}`, kind: 'bulk', runAt: now + (i % 2 === 0 ? -1_000 : 100), payload: { v: 1 } });
    }
    // The other process replaces every fourth job before anything runs.
    for (let i = 0; i < total; i += 4) {
      await b.schedule({ id: `bulk:${i}`, kind: 'bulk', runAt: now - 500, payload: { v: 2 } });
    }
    assert.equal(await a.pending(), total);
    await Promise.all([a.start(), b.start()]);
    await within(allDone.promise, `${total} jobs`, 20_000);
    await Promise.all([a.stop(), b.stop()]);

    for (let i = 0; i < total; i++) {
      assert.deepEqual(runs.get(`bulk:${i}`), [{ v: i % 4 === 0 ? 2 : 1 }], `bulk:${i}`);
    }
    assert.ok(ranOn.a > 0 && ranOn.b > 0, `runs per process: ${JSON.stringify(ranOn)}`);
    assert.equal(ranOn.a + ranOn.b, total);
    assert.equal(await b.pending(), 0);
  });

  it('a handler that throws is retried with the configured backoff until it succeeds', async () => {
    const backoffCalls: number[] = [];
    const warnings: object[] = [];
    const logger: SchedulerLogger = { warn: (details) => warnings.push(details), error: (details) => warnings.push(details) };
    const scheduler = redis.open({
      logger,
      backoff: (attempts) => {
        backoffCalls.push(attempts);
        return 20;
      },
    });
    const payloads: unknown[] = [];
    const succeeded = deferred();
    scheduler.handle('flaky', async (job) => {
      payloads.push(job.payload);
      if (payloads.length < 3) throw new Error(`failure ${payloads.length}`);
      succeeded.resolve();
    });
    await scheduler.schedule({ id: 'flaky:1', kind: 'flaky', runAt: Date.now() - 1, payload: { x: 1 } });
    await scheduler.start();
    await within(succeeded.promise, 'the third attempt');
    await scheduler.stop();
    assert.deepEqual(payloads, [{ x: 1 }, { x: 1 }, { x: 1 }]);
    assert.deepEqual(backoffCalls, [1, 2]);
    assert.deepEqual(
      warnings.map((details) => ('jobId' in details ? details.jobId : undefined)),
      ['flaky:1', 'flaky:1'],
    );
    assert.equal(await scheduler.pending(), 0);
    assert.equal(await scheduler.cancel('flaky:1'), false, 'a job that ran is forgotten');
  });

  it('a replacement waits until the run it replaced has ended', async () => {
    const scheduler = redis.open({ concurrency: 2 });
    const events: string[] = [];
    const entered = deferred();
    const release = deferred();
    const replacementRan = deferred();
    scheduler.handle('r', async (job) => {
      events.push(`start ${job.id}=${String(job.payload)}`);
      if (job.payload === 1) {
        entered.resolve();
        await release.promise;
      } else if (job.id === 'probe') {
        // Were the replacement not held, it would have taken the free slot before the probe.
        release.resolve();
      } else {
        replacementRan.resolve();
      }
    });
    await scheduler.schedule({ id: 'r', kind: 'r', runAt: Date.now() - 100, payload: 1 });
    await scheduler.start();
    await within(entered.promise, 'the first run');
    const now = Date.now();
    await scheduler.schedule({ id: 'r', kind: 'r', runAt: now - 50, payload: 2 });
    await scheduler.schedule({ id: 'probe', kind: 'r', runAt: now, payload: 'probe' });
    await within(replacementRan.promise, 'the replacement');
    release.resolve(); // already done by the probe unless the replacement jumped ahead of it
    await scheduler.stop();
    assert.deepEqual(events, ['start r=1', 'start probe=probe', 'start r=2']);
    assert.equal(await scheduler.pending(), 0);
  });

  it('a job cancelled while its handler runs is not retried when that run throws', async () => {
    const scheduler = redis.open({ concurrency: 1 });
    const runs: string[] = [];
    const sentinel = deferred();
    let cancelled: boolean | undefined;
    scheduler.handle('c', async (job) => {
      runs.push(job.id);
      if (job.id === 'sentinel') {
        sentinel.resolve();
        return;
      }
      cancelled = await scheduler.cancel(job.id);
      // A retry (backoff 20 ms) would be due before the sentinel and run first (concurrency 1).
      await scheduler.schedule({ id: 'sentinel', kind: 'c', runAt: Date.now() + 200, payload: null });
      throw new Error('fails after being cancelled');
    });
    await scheduler.schedule({ id: 'doomed', kind: 'c', runAt: Date.now() - 1, payload: null });
    await scheduler.start();
    await within(sentinel.promise, 'the sentinel');
    await scheduler.stop();
    assert.equal(cancelled, true);
    assert.deepEqual(runs, ['doomed', 'sentinel']);
    assert.equal(await scheduler.pending(), 0);
  });

  it('skips a BullMQ job that is not the current version of its id (an interrupted replace)', async () => {
    const scheduler = redis.open({ concurrency: 1 });
    const seen: unknown[] = [];
    const done = deferred();
    scheduler.handle('k', async (job) => {
      seen.push(job.payload);
      if (job.payload === 'current') done.resolve();
    });
    await scheduler.schedule({ id: 'x', kind: 'k', runAt: Date.now() - 10, payload: 'current' });
    // What a crash between "add the replacement" and "remove the old job" leaves behind: a job
    // for the same id in the kind's queue (layout in the adapter's header), ahead of the current one.
    const leftover = new Queue(`${DEFAULT_QUEUE_NAME}.k`, { connection: { url: redisUrl }, prefix: redis.prefix });
    try {
      await leftover.add('k', { id: 'x', runAt: Date.now() - 1_000, payload: 'stale' }, { jobId: 'x@left-behind', removeOnComplete: true });
    } finally {
      await leftover.close();
    }
    assert.equal(await scheduler.pending(), 2);
    await scheduler.start();
    await within(done.promise, 'the current version');
    await scheduler.stop();
    assert.deepEqual(seen, ['current']);
    assert.equal(await scheduler.pending(), 0);
  });

  it('keeps Herald ids and kinds that BullMQ would reject as custom ids or queue names', async () => {
    const scheduler = redis.open();
    const ids = ['retry:webpush:m-1:u-1:', '12345', 'send:100%:x'];
    const seen: Array<[string, string]> = [];
    const done = deferred();
    scheduler.handle('kind:with:colons', async (job) => {
      seen.push([job.id, job.kind]);
      if (seen.length === ids.length) done.resolve();
    });
    for (const [i, id] of ids.entries()) {
      await scheduler.schedule({ id, kind: 'kind:with:colons', runAt: Date.now() - 100 + i, payload: i });
    }
    assert.equal(await scheduler.cancel('12345'), true);
    await scheduler.schedule({ id: '12345', kind: 'kind:with:colons', runAt: Date.now(), payload: 'again' });
    await scheduler.start();
    await within(done.promise, 'every id');
    assert.deepEqual(seen.map(([id]) => id).sort(), [...ids].sort());
    assert.ok(seen.every(([, kind]) => kind === 'kind:with:colons'));
  });

  it('a scheduler that never starts still counts, replaces and cancels jobs other processes run', async () => {
    const api = redis.open();
    const worker = redis.open();
    const seen: unknown[] = [];
    const done = deferred();
    worker.handle('send', async (job) => {
      seen.push(job.payload);
      done.resolve();
    });
    await worker.start();
    await api.schedule({ id: 'send:1', kind: 'send', runAt: Date.now() + 3_600_000, payload: 'first' });
    await api.schedule({ id: 'send:2', kind: 'send', runAt: Date.now() + 3_600_000, payload: 'cancelled' });
    assert.equal(await api.pending(), 2);
    assert.equal(await api.cancel('send:2'), true);
    await api.schedule({ id: 'send:1', kind: 'send', runAt: Date.now() - 1, payload: 'second' });
    await within(done.promise, 'the replaced job');
    await worker.stop();
    assert.deepEqual(seen, ['second']);
    assert.equal(await api.pending(), 0);
  });
});
