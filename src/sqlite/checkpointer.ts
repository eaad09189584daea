/**
 * WAL checkpoints off the event loop. With SQLite's automatic checkpoint, the commit that fills
 * the WAL past 1,000 pages copies it into the database file and fsyncs both, inside that
 * commit, on the event loop: a stall of milliseconds (tens on a busy disk) every few hundred
 * commits. Here a worker thread with its own connection to the same file runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs` instead. Guarantees:
 *  - Durability is unchanged: a commit is durable once in the WAL, checkpointed or not; a
 *    PASSIVE checkpoint never blocks or fails a writer or reader of the main connection.
 *  - If the worker cannot start or dies, the main connection's automatic checkpoint is switched
 *    back on, so the WAL never grows without bound.
 *  - `stop()` returns once the worker's connection is closed (it waits for the worker's
 *    acknowledgement, at most STOP_WAIT_MS), so when the caller then closes its own connection
 *    no other connection touches the files: the database is closed for good.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
// The driver's own type, not database.ts's alias: database.ts starts the checkpointer (no import cycle).
import type Database from 'better-sqlite3';

export const CHECKPOINT_INTERVAL_MS = 100;
/** SQLite's default automatic checkpoint threshold (pages), restored if the worker fails. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** Longest `stop()` waits for the worker to close its connection (a checkpoint in progress finishes first). */
const STOP_WAIT_MS = 5_000;

/** CommonJS source of the worker (eval'd: no separate file to locate under tsx or in dist). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.close(); } finally {
    Atomics.store(workerData.closed, 0, 1);
    Atomics.notify(workerData.closed, 0);
    parentPort.close();
  }
});
`;

export function startCheckpointer(db: Database.Database, file: string, intervalMs = CHECKPOINT_INTERVAL_MS): { stop(): void } {
  let stopped = false;
  const fallBack = () => {
    if (!stopped && db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  let worker: Worker;
  let exited = false;
  /** Set to 1 by the worker once its connection is closed. */
  const closed = new Int32Array(new SharedArrayBuffer(4));
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs, closed } });
  } catch {
    fallBack();
    return { stop() {} };
  }
  db.pragma('wal_autocheckpoint = 0');
  worker.unref();
  worker.on('error', fallBack);
  worker.on('exit', () => {
    exited = true;
    fallBack();
  });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (exited) return;
      worker.postMessage('stop');
      // Blocks this thread only; the worker closes on its own thread and wakes it.
      Atomics.wait(closed, 0, 0, STOP_WAIT_MS);
    },
  };
}
