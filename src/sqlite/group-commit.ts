/**
 * Group commit for the SQLite stores: write operations submitted during one turn of the event
 * loop (e.g. every request whose body arrived in the same poll) are applied in ONE transaction,
 * committed when that turn's callbacks are done (`setImmediate`), instead of one transaction
 * each. Guarantees:
 *  - Durability is unchanged: a submitted operation's promise resolves only after COMMIT of the
 *    transaction holding it returned, i.e. when a transaction of its own would have (WAL with
 *    synchronous = NORMAL: survives kill -9, see database.ts). A rolled-back operation never
 *    resolves; it rejects.
 *  - Same semantics as sequential calls: operations run in submission order, on the one
 *    connection, in one transaction, so each sees the writes of those before it.
 *  - Isolation of failures: if the batch transaction fails (an operation throws, or COMMIT
 *    fails), it is rolled back and every operation of the batch is run again, in order, in a
 *    transaction of its own, and settles on its own outcome.
 *  - Errors are translated as for every store call (transient → StoreUnavailableError).
 *  - At most `maxBatch` operations per transaction; `flushNow()` commits what is pending at once
 *    (the stores call it on close, so no submitted operation is left unsettled).
 * Operations are synchronous better-sqlite3 code and must not open transactions of their own.
 */
import type { SqliteDatabase } from './database.js';
import { sqlite } from './unavailable.js';

export interface GroupCommit {
  /** Applies `operation` in the next group transaction; resolves with its result once committed. */
  run<T>(operation: () => T): Promise<T>;
  flushNow(): void;
}

interface Pending {
  operation: () => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export const GROUP_COMMIT_MAX_BATCH = 512;

export function createGroupCommit(db: SqliteDatabase, options: { maxBatch?: number } = {}): GroupCommit {
  const maxBatch = options.maxBatch ?? GROUP_COMMIT_MAX_BATCH;
  let pending: Pending[] = [];
  let scheduled: NodeJS.Immediate | undefined;

  const applyAll = db.transaction((batch: Pending[]) => batch.map((p) => p.operation()));

  const commit = (batch: Pending[]) => {
    let results: unknown[];
    try {
      results = applyAll.immediate(batch);
    } catch {
      // Rare: find out which operation failed by running each on its own, in order.
      for (const p of batch) {
        sqlite(() => db.transaction(p.operation).immediate()).then(p.resolve, p.reject);
      }
      return;
    }
    batch.forEach((p, i) => {
      p.resolve(results[i]);
    });
  };

  const flushNow = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    while (pending.length > 0) {
      const batch = pending.length <= maxBatch ? pending : pending.slice(0, maxBatch);
      pending = pending.length <= maxBatch ? [] : pending.slice(maxBatch);
      commit(batch);
    }
  };

  return {
    run<T>(operation: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        pending.push({ operation, resolve: resolve as (value: unknown) => void, reject });
        scheduled ??= setImmediate(flushNow);
      });
    },
    flushNow,
  };
}
