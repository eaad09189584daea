/**
 * Embedded Scheduler: jobs persisted in the SQLite table `scheduler_jobs`, fired by one timer.
 * Guarantees, beyond the Scheduler port contract:
 *  - `schedule` commits before it resolves (WAL, synchronous=NORMAL: survives a process crash).
 *  - One timer is armed for the earliest due job of a handled kind (capped at 2^31-1 ms, then
 *    re-armed); scheduling an earlier job re-arms it. Jobs of kinds nobody handles wait and
 *    never wake the timer.
 *  - Due jobs start in (runAt, id) order, at most `concurrency` at a time. A handler is never
 *    invoked before `Date.now() >= runAt`.
 *  - Success deletes the job; a throw reschedules it at now + backoff(attempts) with attempts+1.
 *    A job replaced (scheduled again under its id) or cancelled while its handler runs keeps
 *    the replacement: finishing a run only touches the exact version that ran.
 *  - After a restart, overdue jobs fire as soon as `start` is called. A job whose handler was
 *    running at a crash is still stored and fires again (at-least-once).
 *  - `stop` stops the timer and resolves when the in-flight handlers (and their bookkeeping)
 *    are done. The timer is unref'd: the scheduler alone does not keep the process alive.
 *  - One scheduler per database: two schedulers over the same file would both fire a job.
 */
import { randomUUID } from 'node:crypto';
import type { SqliteDatabase } from '../../src/sqlite/database.js';
import { sqlite } from '../../src/sqlite/unavailable.js';
import { defaultJobBackoff, type Job, type JobHandler, type Scheduler } from '../port.js';

export interface EmbeddedSchedulerOptions {
  /** Most handlers running at once. Default 8. */
  concurrency?: number;
  /** Delay before retry number `attempts` (1 for the first retry). Default: 1 s doubling, at most 5 min. */
  backoff?: (attempts: number) => number;
  /** Reports handler failures (the job is retried regardless) and database errors of the timer. */
  onError?: (error: unknown, job?: Job) => void;
}

interface JobRow {
  id: string;
  kind: string;
  run_at: number;
  payload: string;
  attempts: number;
  generation: string;
}

/** setTimeout's largest delay; longer waits are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createEmbeddedScheduler(db: SqliteDatabase, options: EmbeddedSchedulerOptions = {}): Scheduler {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const backoff = options.backoff ?? defaultJobBackoff;
  const handlers = new Map<string, JobHandler<unknown>>();
  const running = new Map<string, Promise<void>>();
  let started = false;
  let timer: NodeJS.Timeout | undefined;

  const upsertJob = db.prepare(
    `INSERT INTO scheduler_jobs (id, kind, run_at, payload, attempts, generation)
     VALUES (@id, @kind, @runAt, @payload, 0, @generation)
     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, run_at = excluded.run_at,
       payload = excluded.payload, attempts = 0, generation = excluded.generation`,
  );
  const deleteJob = db.prepare('DELETE FROM scheduler_jobs WHERE id = ?');
  const deleteRun = db.prepare('DELETE FROM scheduler_jobs WHERE id = ? AND generation = ?');
  const retryRun = db.prepare('UPDATE scheduler_jobs SET attempts = attempts + 1, run_at = ? WHERE id = ? AND generation = ?');
  const countJobs = db.prepare<[], number>('SELECT count(*) FROM scheduler_jobs').pluck();
  // Kinds handled and ids running are passed as JSON arrays, so one statement serves every call.
  const eligible = `kind IN (SELECT value FROM json_each(@kinds)) AND id NOT IN (SELECT value FROM json_each(@running))`;
  const selectDue = db.prepare<[{ kinds: string; running: string; now: number; limit: number }], JobRow>(
    `SELECT id, kind, run_at, payload, attempts, generation FROM scheduler_jobs
     WHERE run_at <= @now AND ${eligible} ORDER BY run_at, id LIMIT @limit`,
  );
  const selectNextRunAt = db.prepare<[{ kinds: string; running: string }], number | null>(`SELECT min(run_at) FROM scheduler_jobs WHERE ${eligible}`).pluck();

  const eligibility = () => ({ kinds: JSON.stringify([...handlers.keys()]), running: JSON.stringify([...running.keys()]) });

  const disarm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const arm = () => {
    disarm();
    if (!started || running.size >= concurrency || handlers.size === 0) return;
    let next: number | null | undefined;
    try {
      next = selectNextRunAt.get(eligibility());
    } catch (error) {
      report(error);
      next = Date.now() + 1_000; // the database was busy: look again shortly
    }
    if (next === null || next === undefined) return;
    timer = setTimeout(fireDue, Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS));
    timer.unref();
  };

  const report = (error: unknown, job?: Job) => options.onError?.(error, job);

  const finish = (row: JobRow, error: unknown) => {
    if (error === undefined) {
      deleteRun.run(row.id, row.generation);
    } else {
      retryRun.run(Date.now() + backoff(row.attempts + 1), row.id, row.generation);
    }
  };

  const run = (row: JobRow, handler: JobHandler<unknown>) => {
    const job: Job = { id: row.id, kind: row.kind, runAt: row.run_at, payload: JSON.parse(row.payload) as unknown };
    const done = (async () => {
      let failure: unknown;
      try {
        await handler(job);
      } catch (error) {
        failure = error ?? new Error('job handler threw');
        report(failure, job);
      }
      try {
        finish(row, failure);
      } catch (error) {
        report(error, job); // left in the table: it fires again later (at-least-once)
      }
    })();
    running.set(row.id, done);
    void done.finally(() => {
      running.delete(row.id);
      arm();
    });
  };

  function fireDue() {
    timer = undefined;
    if (!started) return;
    const free = concurrency - running.size;
    if (free > 0) {
      let due: JobRow[] = [];
      try {
        due = selectDue.all({ ...eligibility(), now: Date.now(), limit: free });
      } catch (error) {
        report(error);
      }
      for (const row of due) {
        const handler = handlers.get(row.kind);
        if (handler) run(row, handler);
      }
    }
    arm();
  }

  return {
    schedule: (job) =>
      sqlite(() => {
        upsertJob.run({
          id: job.id,
          kind: job.kind,
          runAt: job.runAt,
          payload: JSON.stringify(job.payload ?? null),
          generation: randomUUID(),
        });
        arm();
      }),
    cancel: (id) => sqlite(() => deleteJob.run(id).changes > 0),
    handle: (kind, handler) => {
      handlers.set(kind, handler as JobHandler<unknown>);
      arm();
    },
    start: async () => {
      started = true;
      arm();
    },
    stop: async () => {
      started = false;
      disarm();
      while (running.size > 0) await Promise.allSettled([...running.values()]);
    },
    pending: () => sqlite(() => countJobs.get() as number),
  };
}
