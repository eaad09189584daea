/**
 * BullMQ Scheduler: the distributed adapter of the Scheduler port (schedulers/port.ts) on Redis.
 * Any number of processes may share one queue name; BullMQ's locks run each due job once.
 *
 * Layout (prefix default `bull`, queue name default `herald-scheduler`):
 *  - One BullMQ queue per kind, `<queueName>.<kind>`. A process runs a Worker only for the
 *    kinds it handles, so jobs of a kind nobody handles wait untouched (no polling, no re-delay
 *    churn), a backlog of one kind never holds up another, and roles can split kinds between
 *    processes. `concurrency` is per kind.
 *  - Each `schedule` adds a new BullMQ job `<id>@<uuid>` and makes it the current version of `id`
 *    in the same MULTI (current.ts). Replace = add + swap + remove the old BullMQ job; cancel =
 *    forget the id + remove its BullMQ job. A BullMQ job that is no longer current is skipped
 *    when it comes up, so a replaced or cancelled job never fires even if removing it lost a
 *    race with a worker (or the process died between the two steps).
 *  - Every job is added as delayed with its score at `runAt` (timestamp `runAt - delay`): due
 *    jobs start in runAt order, and a handler never runs before `runAt` on this clock.
 *  - A run in progress is never cut short. If it is replaced, the replacement waits until the
 *    run ends (polling every 250 ms) and then fires; if the old run throws it is not retried.
 *    If it is cancelled, it finishes and is not retried; `cancel` still answers true.
 *  - A handler that throws is retried by BullMQ with `backoff(attempts)` (attempts = 1 for the
 *    first retry), effectively without limit (2^31 - 1 attempts), like the embedded scheduler.
 *    A process that dies mid-run leaves the job locked; BullMQ's stalled check (30 s) runs it
 *    again (at-least-once), without limit either.
 *  - `pending()` counts waiting, delayed, prioritized and active jobs of every kind ever
 *    scheduled under the queue name; a replaced job still running counts until it ends.
 *  - `stop()` closes the Workers after their in-flight handlers finish; scheduling, cancelling
 *    and counting keep working. `close()` (not part of the port) also releases the Redis
 *    connections; the composition root calls it at shutdown.
 * Connections: one shared ioredis connection for the queues and the index (default retries, so
 * `schedule` fails rather than hangs when Redis is gone), and one shared by the Workers
 * (`maxRetriesPerRequest: null`, as BullMQ requires), opened at the first `start`; each Worker
 * adds its own blocking connection.
 */
import { randomUUID } from 'node:crypto';
import { Job as BullJob, createIORedisClient, DelayedError, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { defaultJobBackoff, type JobHandler, type Scheduler } from '../port.js';
import { type CurrentJobs, createCurrentJobs, decodeRef, encodeRef, type JobRef } from './current.js';

/** Where the adapter reports what it cannot throw to a caller (pino's Logger fits). */
export interface SchedulerLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface BullmqSchedulerOptions {
  /** Redis URL, e.g. redis://127.0.0.1:6379. */
  url: string;
  /** Base of the queue names (one queue per kind). Default `herald-scheduler`. Must not contain `:`. */
  queueName?: string;
  /** BullMQ key prefix. Default `bull`. Use a hash tag (`{herald}`) on Redis Cluster. */
  prefix?: string;
  /** Most handlers of one kind running at once in this process. Default 8. */
  concurrency?: number;
  /** Delay before retry number `attempts` (1 for the first retry). Default: 1 s doubling, at most 5 min. */
  backoff?: (attempts: number) => number;
  logger?: SchedulerLogger;
}

export interface BullmqScheduler extends Scheduler {
  /** Stops, then closes the queues and the Redis connections. The scheduler is unusable after. */
  close(): Promise<void>;
}

/** What a BullMQ job carries; the kind is the BullMQ job name. */
interface StoredJob {
  id: string;
  runAt: number;
  payload: unknown;
  /** The ref this job replaced when it was scheduled: it waits while that one is running. */
  replaces?: string;
}

type HeraldQueue = Queue<StoredJob, void, string>;
type HeraldWorker = Worker<StoredJob, void, string>;
type HeraldBullJob = BullJob<StoredJob, void, string>;

export const DEFAULT_QUEUE_NAME = 'herald-scheduler';
export const DEFAULT_PREFIX = 'bull';
const DEFAULT_CONCURRENCY = 8;
/** BullMQ counts attempts; the port retries until success. */
const MAX_ATTEMPTS = 2 ** 31 - 1;
/** Times a job may be recovered from a dead worker before BullMQ fails it. */
const MAX_STALLED_COUNT = 2 ** 31 - 1;
/** How often a replacement looks again whether the run it replaced has ended. */
const REPLACED_RUN_POLL_MS = 250;
/** A job that exhausted its attempts is kept this long for inspection. */
const FAILED_JOB_AGE_SECONDS = 7 * 24 * 3600;
const BACKOFF_TYPE = 'herald';
const COUNTED_STATES = ['wait', 'delayed', 'prioritized', 'active'] as const;

/** BullMQ forbids `:` in queue names and custom job ids. */
const encodeName = (value: string): string => value.replaceAll('%', '%25').replaceAll(':', '%3A');

const silentLogger: SchedulerLogger = { warn: () => {}, error: () => {} };

/** QUIT when connected; a connection still trying to reach Redis would queue QUIT until it gives up. */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

export function createBullmqScheduler(options: BullmqSchedulerOptions): BullmqScheduler {
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  if (queueName.includes(':')) throw new Error(`BullMQ scheduler queueName must not contain ':' (got ${JSON.stringify(queueName)})`);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const backoff = options.backoff ?? defaultJobBackoff;
  const log = options.logger ?? silentLogger;

  const handlers = new Map<string, JobHandler<unknown>>();
  const queues = new Map<string, HeraldQueue>();
  const workers = new Map<string, HeraldWorker>();
  let started = false;
  let closed = false;
  let workerConnection: Redis | undefined;

  const connection = new Redis(options.url);
  connection.on('error', (error: unknown) => log.warn({ err: error }, 'scheduler: Redis connection error'));
  const current: CurrentJobs = createCurrentJobs(createIORedisClient(connection), {
    ids: `${prefix}:${queueName}:ids`,
    kinds: `${prefix}:${queueName}:kinds`,
  });

  const usable = () => {
    if (closed) throw new Error('the BullMQ scheduler is closed');
  };

  const queueFor = (kind: string): HeraldQueue => {
    let queue = queues.get(kind);
    if (!queue) {
      queue = new Queue<StoredJob, void, string>(`${queueName}.${encodeName(kind)}`, { connection, prefix });
      queue.on('error', (error) => log.warn({ err: error, kind }, 'scheduler: queue error'));
      queues.set(kind, queue);
    }
    return queue;
  };

  const removeJob = async (ref: JobRef): Promise<void> => {
    try {
      // 0 when the job is running: it finishes, and is skipped or not retried (no longer current).
      await queueFor(ref.kind).remove(ref.jobId);
    } catch (error) {
      // Harmless: no longer current, it is skipped when it comes up.
      log.warn({ err: error, kind: ref.kind, bullmqJobId: ref.jobId }, 'scheduler: could not remove a replaced or cancelled job');
    }
  };

  /** When a current job must not run yet: before its runAt, or while the run it replaced goes on. */
  const holdUntil = async (data: StoredJob): Promise<number | undefined> => {
    const now = Date.now();
    if (now < data.runAt) return data.runAt; // another clock promoted it early
    const replaced = data.replaces === undefined ? null : decodeRef(data.replaces);
    if (replaced && (await queueFor(replaced.kind).getJobState(replaced.jobId)) === 'active') return now + REPLACED_RUN_POLL_MS;
    return undefined;
  };

  const processorFor =
    (kind: string) =>
    async (bullJob: HeraldBullJob, token?: string): Promise<void> => {
      const data = bullJob.data;
      const ref: JobRef = { kind, jobId: bullJob.id ?? '' };
      if (!(await current.is(data.id, ref))) return; // replaced, cancelled or already done
      const notBefore = await holdUntil(data);
      if (notBefore !== undefined) {
        await bullJob.moveToDelayed(notBefore, token);
        throw new DelayedError();
      }
      const handler = handlers.get(kind);
      if (!handler) throw new Error(`no handler for scheduler job kind ${JSON.stringify(kind)}`);
      try {
        await handler({ id: data.id, kind, runAt: data.runAt, payload: data.payload });
      } catch (error) {
        // Replaced or cancelled while it ran: the replacement (if any) runs instead of a retry.
        const retried = await current.is(data.id, ref);
        log.warn({ err: error, jobId: data.id, kind, attempt: bullJob.attemptsMade + 1, retried }, 'scheduler: job handler failed');
        if (!retried) return;
        throw error instanceof Error ? error : new Error(`scheduler job handler threw ${String(error)}`, { cause: error });
      }
      await current.release(data.id, ref);
    };

  const startWorker = async (kind: string): Promise<void> => {
    if (workers.has(kind)) return;
    if (!workerConnection) {
      workerConnection = new Redis(options.url, { maxRetriesPerRequest: null });
      workerConnection.on('error', (error: unknown) => log.warn({ err: error }, 'scheduler: Redis worker connection error'));
    }
    const worker: HeraldWorker = new Worker<StoredJob, void, string>(`${queueName}.${encodeName(kind)}`, processorFor(kind), {
      connection: workerConnection,
      prefix,
      concurrency,
      maxStalledCount: MAX_STALLED_COUNT,
      settings: { backoffStrategy: (attemptsMade: number) => backoff(attemptsMade) },
    });
    worker.on('error', (error) => log.error({ err: error, kind }, 'scheduler: worker error'));
    workers.set(kind, worker);
    await worker.waitUntilReady();
  };

  const stopWorkers = async (): Promise<void> => {
    const closing = [...workers.values()];
    workers.clear();
    await Promise.all(closing.map((worker) => worker.close()));
  };

  return {
    schedule: async (job) => {
      usable();
      const queue = queueFor(job.kind);
      await queue.client; // BullMQ's scripts are loaded on the shared connection
      const previous = await current.get(job.id);
      const ref: JobRef = { kind: job.kind, jobId: `${encodeName(job.id)}@${randomUUID()}` };
      const data: StoredJob = { id: job.id, runAt: job.runAt, payload: job.payload ?? null };
      if (previous) data.replaces = encodeRef(previous);
      const delay = Math.max(1, job.runAt - Date.now());
      const bullJob: HeraldBullJob = new BullJob<StoredJob, void, string>(
        queue,
        job.kind,
        data,
        {
          jobId: ref.jobId,
          timestamp: job.runAt - delay, // delayed score = timestamp + delay = runAt
          delay,
          attempts: MAX_ATTEMPTS,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: true,
          removeOnFail: { age: FAILED_JOB_AGE_SECONDS },
        },
        ref.jobId,
      );
      const replaced = await current.addAndSwap(job.id, ref, (tx) => bullJob.addJob(tx));
      if (replaced) await removeJob(replaced);
    },
    cancel: async (id) => {
      usable();
      const ref = await current.take(id);
      if (!ref) return false;
      await removeJob(ref);
      return true;
    },
    handle: (kind, handler) => {
      handlers.set(kind, handler as JobHandler<unknown>);
      if (started) {
        startWorker(kind).catch((error: unknown) => log.error({ err: error, kind }, 'scheduler: could not start a worker'));
      }
    },
    start: async () => {
      usable();
      started = true;
      await Promise.all([...handlers.keys()].map(startWorker));
    },
    stop: async () => {
      started = false;
      await stopWorkers();
    },
    pending: async () => {
      usable();
      const kinds = await current.kinds();
      const counts = await Promise.all(kinds.map((kind) => queueFor(kind).getJobCountByTypes(...COUNTED_STATES)));
      return counts.reduce((sum, count) => sum + count, 0);
    },
    close: async () => {
      if (closed) return;
      started = false;
      await stopWorkers();
      closed = true;
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      queues.clear();
      await Promise.all([closeConnection(connection), workerConnection && closeConnection(workerConnection)]);
    },
  };
}
