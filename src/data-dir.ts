/**
 * The data dir (HERALD_DATA_DIR) belongs to one Herald process at a time, and to no other user.
 *
 * - `prepareDataDir` creates it with mode 0700, and tightens an existing one to 0700: it holds
 *   generated secrets, the embedded database and the email outbox.
 * - `lockDataDir` takes an exclusive lock on `<dir>/herald.lock` or fails at once naming the dir.
 *   The lock is SQLite's own (a small database written once in exclusive locking mode, which
 *   keeps its write lock until the connection closes), i.e. a POSIX advisory lock that the operating system releases when the process ends in any way,
 *   `kill -9` included: a later start never finds the dir locked by a dead process, and no pid
 *   file can go stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from './config.js';

export const LOCK_FILE = 'herald.lock';

export interface DataDirLock {
  release(): void;
}

export function prepareDataDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

export function lockDataDir(dir: string): DataDirLock {
  const file = path.join(dir, LOCK_FILE);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new Database(file, { timeout: 0 });
  try {
    // Exclusive locking mode keeps the lock of the first write until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)');
    db.exec('BEGIN EXCLUSIVE');
    db.prepare('DELETE FROM holder').run();
    db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    db.exec('COMMIT');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new ConfigError(`data dir ${dir} is in use by another Herald process (HERALD_DATA_DIR): give each process its own`);
    }
    throw error;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}
