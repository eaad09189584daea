/**
 * Which BullMQ job currently stands for each Herald job id.
 *
 * BullMQ ignores `add` for a job id it already holds and cannot replace a job while it runs, so
 * the adapter never uses Herald ids as BullMQ ids. Every `schedule` adds a fresh BullMQ job
 * (`<id>@<uuid>`) and, in the same MULTI/EXEC, points the hash `<prefix>:<queueName>:ids` at it:
 *   field = Herald job id, value = JSON `[kind, bullmqJobId]` (a "ref").
 * A BullMQ job whose ref is no longer the current one (replaced, cancelled, or already done) is
 * stale: the worker skips it. That gives replace and cancel without racing BullMQ's own state
 * changes, and keeps a run in progress from erasing the job that replaced it.
 * `<prefix>:<queueName>:kinds` is the set of kinds ever scheduled, so `pending()` can count
 * queues this process never handles.
 *
 * Redis Cluster: the MULTI spans this hash and the kind's queue keys; give the scheduler a
 * hash-tagged prefix (e.g. `{herald}`) so they share a slot.
 */
import type { IRedisTransaction, RedisClient } from 'bullmq';

export interface JobRef {
  kind: string;
  /** The BullMQ job id, unique per `schedule` call. */
  jobId: string;
}

export interface CurrentJobs {
  /** The current ref of `id`, or null when nothing is scheduled under it. */
  get(id: string): Promise<JobRef | null>;
  /** Whether `ref` is still the current version of `id`. */
  is(id: string, ref: JobRef): Promise<boolean>;
  /**
   * Runs `add` (which queues the BullMQ add command on the transaction) and makes `ref` the
   * current version of `id`, atomically. Resolves with the ref it replaced, if any.
   */
  addAndSwap(id: string, ref: JobRef, add: (tx: IRedisTransaction) => Promise<unknown>): Promise<JobRef | null>;
  /** Forgets `id` if `ref` is still its current version (a run finished); true when it was. */
  release(id: string, ref: JobRef): Promise<boolean>;
  /** Forgets `id` whatever its version (cancel); resolves with the ref it had, if any. */
  take(id: string): Promise<JobRef | null>;
  /** Every kind ever scheduled under this queue name. */
  kinds(): Promise<string[]>;
}

const SWAP = 'heraldSchedulerSwap';
const RELEASE = 'heraldSchedulerRelease';
const TAKE = 'heraldSchedulerTake';

/** Lua run by Redis; KEYS[1] is the ids hash, KEYS[2] the kinds set. */
const SCRIPTS: Record<string, { numberOfKeys: number; lua: string }> = {
  [SWAP]: {
    numberOfKeys: 2,
    lua: `local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return old`,
  },
  [RELEASE]: {
    numberOfKeys: 1,
    lua: `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`,
  },
  [TAKE]: {
    numberOfKeys: 1,
    lua: `local ref = redis.call('HGET', KEYS[1], ARGV[1])
if ref then redis.call('HDEL', KEYS[1], ARGV[1]) end
return ref`,
  },
};

/** The current-version index is corrupt or Redis answered something unexpected. */
export class SchedulerIndexError extends Error {
  override name = 'SchedulerIndexError';
}

export const encodeRef = (ref: JobRef): string => JSON.stringify([ref.kind, ref.jobId]);

export function decodeRef(value: unknown): JobRef | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new SchedulerIndexError(`unexpected scheduler index value: ${String(value)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (cause) {
    throw new SchedulerIndexError(`unreadable scheduler index value: ${value}`, { cause });
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') {
    throw new SchedulerIndexError(`unreadable scheduler index value: ${value}`);
  }
  return { kind: parsed[0], jobId: parsed[1] };
}

/**
 * `client` is the BullMQ view of the connection the queues use; BullMQ's own scripts must be
 * loaded on it before `addAndSwap` (await any queue's `client` first).
 */
export function createCurrentJobs(client: RedisClient, keys: { ids: string; kinds: string }): CurrentJobs {
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script);

  const get = async (id: string): Promise<JobRef | null> => decodeRef(await client.hget(keys.ids, id));

  return {
    get,
    is: async (id, ref) => (await client.hget(keys.ids, id)) === encodeRef(ref),
    addAndSwap: async (id, ref, add) => {
      const tx = client.multi();
      await add(tx); // queues the command; nothing is sent before exec
      tx.runCommand(SWAP, [keys.ids, keys.kinds, id, encodeRef(ref), ref.kind]);
      const results = await tx.exec();
      if (!results) throw new SchedulerIndexError('the schedule transaction was aborted');
      for (const [error] of results) if (error) throw error;
      const swapped = results[results.length - 1];
      return decodeRef(swapped?.[1]);
    },
    release: async (id, ref) => {
      const removed: unknown = await client.runCommand(RELEASE, [keys.ids, id, encodeRef(ref)]);
      return removed === 1;
    },
    take: async (id) => decodeRef(await client.runCommand(TAKE, [keys.ids, id])),
    kinds: () => client.smembers(keys.kinds),
  };
}
