/**
 * Contract suite for the Scheduler port (schedulers/port.ts). Every Scheduler adapter must pass
 * it unchanged. Timing is event-driven: tests await promises settled by handlers (with a safety
 * timeout that fails the test) and never assert how long anything took.
 * `open` must give each test an empty scheduler whose retry backoff is short (tens of ms);
 * `reopen` stops the scheduler and builds a new one over the same storage (a restart).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Job, Scheduler } from '../../schedulers/port.js';
import { deferred, turn, within } from './contract-helpers.js';

export interface SchedulerHarness {
  scheduler: Scheduler;
  reopen?: () => Promise<Scheduler>;
  cleanup(): Promise<void>;
}

/** A handler that records every job it is given and resolves `next(n)` when the n-th arrives. */
function recorder<P = unknown>() {
  const jobs: Array<Job<P>> = [];
  const waiters = new Map<number, () => void>();
  const handler = async (job: Job<P>): Promise<void> => {
    jobs.push(job);
    waiters.get(jobs.length)?.();
  };
  const count = (n: number, label = `${n} job(s)`): Promise<void> => {
    if (jobs.length >= n) return Promise.resolve();
    const done = deferred();
    waiters.set(n, () => done.resolve());
    return within(done.promise, label);
  };
  return { jobs, handler, count };
}

export function schedulerContract(name: string, open: () => Promise<SchedulerHarness>): void {
  describe(`Scheduler contract: ${name}`, () => {
    let harness: SchedulerHarness;
    let scheduler: Scheduler;

    beforeEach(async () => {
      harness = await open();
      scheduler = harness.scheduler;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    it('fires a due job with its id, kind, runAt and payload, then forgets it', async () => {
      const seen = recorder<{ n: number }>();
      scheduler.handle('greet', seen.handler);
      const runAt = Date.now() - 1_000;
      await scheduler.schedule({ id: 'job-1', kind: 'greet', runAt, payload: { n: 1 } });
      assert.equal(await scheduler.pending(), 1);
      await scheduler.start();
      await seen.count(1);
      await scheduler.stop();
      assert.deepEqual(seen.jobs, [{ id: 'job-1', kind: 'greet', runAt, payload: { n: 1 } }]);
      assert.equal(await scheduler.pending(), 0);
    });

    it('fires a future job at or after its runAt', async () => {
      const seen = recorder();
      const firedAt: number[] = [];
      scheduler.handle('later', async (job) => {
        firedAt.push(Date.now());
        await seen.handler(job);
      });
      await scheduler.start();
      const runAt = Date.now() + 150;
      await scheduler.schedule({ id: 'later-1', kind: 'later', runAt, payload: null });
      await seen.count(1);
      assert.ok((firedAt[0] as number) >= runAt, 'fired before runAt');
    });

    it('an earlier job scheduled after a later one fires first, each at or after its runAt', async () => {
      const seen = recorder();
      const early: string[] = [];
      scheduler.handle('k', async (job) => {
        if (Date.now() < job.runAt) early.push(job.id);
        await seen.handler(job);
      });
      await scheduler.start();
      const now = Date.now();
      await scheduler.schedule({ id: 'far', kind: 'k', runAt: now + 400, payload: 'far' });
      await scheduler.schedule({ id: 'near', kind: 'k', runAt: now + 50, payload: 'near' });
      await seen.count(2);
      assert.deepEqual(
        seen.jobs.map((j) => j.id),
        ['near', 'far'],
      );
      assert.deepEqual(early, [], 'fired before runAt');
    });

    it('fires due jobs in runAt order', async () => {
      const seen = recorder();
      scheduler.handle('ordered', seen.handler);
      const now = Date.now();
      for (const [id, offset] of [
        ['j1', -1_000],
        ['j2', -3_000],
        ['j3', -500],
        ['j4', -2_000],
      ] as const) {
        await scheduler.schedule({ id, kind: 'ordered', runAt: now + offset, payload: id });
      }
      await scheduler.start();
      await seen.count(4);
      assert.deepEqual(
        seen.jobs.map((j) => j.id),
        ['j2', 'j4', 'j1', 'j3'],
      );
    });

    it('scheduling an existing id replaces the job', async () => {
      const seen = recorder<string>();
      scheduler.handle('replace', seen.handler);
      await scheduler.schedule({ id: 'same', kind: 'replace', runAt: Date.now() + 3_600_000, payload: 'first' });
      await scheduler.schedule({ id: 'same', kind: 'replace', runAt: Date.now() - 10, payload: 'second' });
      assert.equal(await scheduler.pending(), 1);
      await scheduler.start();
      await seen.count(1);
      await scheduler.stop();
      assert.deepEqual(
        seen.jobs.map((j) => j.payload),
        ['second'],
      );
      assert.equal(await scheduler.pending(), 0);
    });

    it('a job replaced while its handler runs fires again as replaced', async () => {
      const entered = deferred();
      const release = deferred();
      const seen = recorder<number>();
      scheduler.handle('rerun', async (job) => {
        await seen.handler(job as Job<number>);
        if (job.payload === 1) {
          entered.resolve();
          await release.promise;
        }
      });
      await scheduler.schedule({ id: 'r', kind: 'rerun', runAt: Date.now() - 10, payload: 1 });
      await scheduler.start();
      await within(entered.promise, 'the first run');
      await scheduler.schedule({ id: 'r', kind: 'rerun', runAt: Date.now() - 5, payload: 2 });
      release.resolve();
      await seen.count(2, 'the replacement');
      await scheduler.stop();
      assert.deepEqual(
        seen.jobs.map((j) => j.payload),
        [1, 2],
      );
      assert.equal(await scheduler.pending(), 0);
    });

    it('cancel prevents a job from firing and says whether one was removed', async () => {
      const seen = recorder();
      scheduler.handle('c', seen.handler);
      const now = Date.now();
      await scheduler.schedule({ id: 'cancelled', kind: 'c', runAt: now - 2_000, payload: null });
      await scheduler.schedule({ id: 'sentinel', kind: 'c', runAt: now - 1_000, payload: null });
      assert.equal(await scheduler.cancel('cancelled'), true);
      assert.equal(await scheduler.cancel('cancelled'), false);
      assert.equal(await scheduler.cancel('never-scheduled'), false);
      assert.equal(await scheduler.pending(), 1);
      await scheduler.start();
      await seen.count(1);
      await scheduler.stop();
      assert.deepEqual(
        seen.jobs.map((j) => j.id),
        ['sentinel'],
      );
    });

    it('retries a handler that throws, with the same job', async () => {
      const calls: Job[] = [];
      const succeeded = deferred();
      scheduler.handle('flaky', async (job) => {
        calls.push(job);
        if (calls.length < 3) throw new Error(`failure ${calls.length}`);
        succeeded.resolve();
      });
      await scheduler.schedule({ id: 'flaky-1', kind: 'flaky', runAt: Date.now() - 1, payload: { x: 1 } });
      await scheduler.start();
      await within(succeeded.promise, 'the third attempt');
      await scheduler.stop();
      assert.equal(calls.length, 3);
      assert.ok(calls.every((job) => job.id === 'flaky-1' && job.kind === 'flaky'));
      assert.deepEqual(calls[2]?.payload, { x: 1 });
      assert.equal(await scheduler.pending(), 0);
    });

    it('jobs of a kind nobody handles wait without blocking others', async () => {
      const seen = recorder();
      scheduler.handle('handled', seen.handler);
      const now = Date.now();
      await scheduler.schedule({ id: 'orphan', kind: 'unhandled', runAt: now - 5_000, payload: null });
      await scheduler.schedule({ id: 'normal', kind: 'handled', runAt: now - 1_000, payload: null });
      await scheduler.start();
      await seen.count(1);
      await scheduler.stop();
      assert.deepEqual(
        seen.jobs.map((j) => j.id),
        ['normal'],
      );
      assert.equal(await scheduler.pending(), 1);
    });

    it('stop waits for in-flight handlers and fires nothing after', async () => {
      const entered = deferred();
      const release = deferred();
      let finished = false;
      const fired: string[] = [];
      scheduler.handle('slow', async (job) => {
        fired.push(job.id);
        entered.resolve();
        await release.promise;
        finished = true;
      });
      await scheduler.schedule({ id: 'slow-1', kind: 'slow', runAt: Date.now() - 1, payload: null });
      await scheduler.start();
      await within(entered.promise, 'the handler to start');

      let stopped = false;
      const stopping = scheduler.stop().then(() => {
        stopped = true;
      });
      await turn();
      assert.equal(stopped, false, 'stop resolved while a handler was running');
      release.resolve();
      await within(stopping, 'stop');
      assert.equal(finished, true);

      await scheduler.schedule({ id: 'after-stop', kind: 'slow', runAt: Date.now() - 1, payload: null });
      await turn();
      assert.deepEqual(fired, ['slow-1']);
      assert.equal(await scheduler.pending(), 1);
    });

    it('survives a restart: a job scheduled before it fires after it', async (t) => {
      if (!harness.reopen) {
        t.skip('adapter cannot restart over the same storage');
        return;
      }
      await scheduler.schedule({ id: 'durable', kind: 'restart', runAt: Date.now() - 1_000, payload: { kept: true } });
      await scheduler.schedule({ id: 'durable-later', kind: 'restart', runAt: Date.now() + 100, payload: { kept: 2 } });
      await scheduler.stop();

      scheduler = await harness.reopen();
      const seen = recorder();
      scheduler.handle('restart', seen.handler);
      assert.equal(await scheduler.pending(), 2);
      await scheduler.start();
      await seen.count(2);
      assert.deepEqual(
        seen.jobs.map((j) => [j.id, j.payload]),
        [
          ['durable', { kept: true }],
          ['durable-later', { kept: 2 }],
        ],
      );
    });
  });
}
