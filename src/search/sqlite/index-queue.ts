/**
 * Search indexing off the hot path for the SQLite Search: items are queued and written by
 * `write(batch)` (one transaction per batch) once `maxBatch` items are queued (on the next turn
 * of the event loop, not inside the caller) or `maxDelayMs` after the first one, whichever
 * comes first. Guarantees:
 *  - `writeNow()` writes everything queued before it returns, or throws what the write threw.
 *  - Items are written in the order they were added.
 *  - A batch that fails with a transient error ("try later": busy, I/O, full disk) stays queued,
 *    ahead of newer items, and is retried by the next write. A batch that fails otherwise (a
 *    bug) is written again item by item, so only the items that fail are dropped, and logged.
 *  - `close()` writes what is queued and stops the timer; later items are written at once.
 * Nothing here is durable: a crash loses what is queued (search may lag the stores).
 */
import { isTransientSqliteError } from '../../sqlite/unavailable.js';

export interface IndexQueue<T> {
  add(item: T): void;
  writeNow(): void;
  close(): void;
}

export interface IndexQueueOptions {
  maxBatch?: number;
  maxDelayMs?: number;
  log?: { warn(obj: object, msg?: string): void };
}

export const INDEX_MAX_BATCH = 256;
export const INDEX_MAX_DELAY_MS = 50;

export function createIndexQueue<T>(write: (batch: T[]) => void, options: IndexQueueOptions = {}): IndexQueue<T> {
  const maxBatch = options.maxBatch ?? INDEX_MAX_BATCH;
  const maxDelayMs = options.maxDelayMs ?? INDEX_MAX_DELAY_MS;
  let queue: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;

  const cancel = () => {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };

  const writeBatch = (batch: T[]) => {
    try {
      write(batch);
    } catch (error) {
      if (isTransientSqliteError(error)) {
        queue = batch.concat(queue);
        throw error;
      }
      for (const item of batch) {
        try {
          write([item]);
        } catch (itemError) {
          options.log?.warn({ err: itemError }, 'search: item not indexed');
        }
      }
    }
  };

  const writeNow = () => {
    cancel();
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    writeBatch(batch);
  };

  const inBackground = () => {
    try {
      writeNow();
    } catch (error) {
      options.log?.warn({ err: error, queued: queue.length }, 'search: indexing failed; will retry');
      if (!closed) timer ??= setTimeout(inBackground, maxDelayMs).unref();
    }
  };

  return {
    add(item) {
      queue.push(item);
      if (closed) writeNow();
      else if (queue.length >= maxBatch) immediate ??= setImmediate(inBackground);
      else timer ??= setTimeout(inBackground, maxDelayMs).unref();
    },
    writeNow,
    close() {
      closed = true;
      writeNow();
    },
  };
}
