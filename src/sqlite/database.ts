/**
 * Opens Herald's embedded SQLite database and brings its schema up to date.
 *
 * Guarantees:
 *  - WAL journal with `synchronous = NORMAL`: a committed transaction survives a crash of the
 *    process (`kill -9`), because the WAL is written before commit returns; only a power loss or
 *    OS crash may roll back the last few commits. That is the durability the store ports promise.
 *  - The database file is created mode 0600 (in a 0700 folder); SQLite gives its -wal and -shm
 *    files the main file's mode, so no other user of the machine can read messages or contacts.
 *  - `busy_timeout` makes a writer wait for another connection's lock instead of failing at once.
 *  - A file database is checkpointed by a worker thread (checkpointer.ts), not by the commit
 *    that happens to fill the WAL; closing the connection stops that worker.
 *  - `migrate` applies the numbered migrations of `migrations.ts` in order, each in its own
 *    transaction, and records them in `schema_migrations`; running it again changes nothing.
 *  - The caller of `openDatabase` owns the connection and closes it (`db.close()`) after every
 *    adapter built on it has been closed or stopped.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { startCheckpointer } from './checkpointer.js';
import { MIGRATIONS } from './migrations.js';

export type SqliteDatabase = Database.Database;
/** A prepared statement taking any parameters (for statements built at run time). */
export type SqliteStatement = Database.Statement<unknown[], unknown>;

/** How long a statement waits for a lock held by another connection before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/** Opens (creating when needed, with its folder) the database at `file`; ':memory:' is allowed. */
export function openDatabase(file: string): SqliteDatabase {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) createPrivately(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  if (!inMemory) {
    const checkpointer = startCheckpointer(db, file);
    const close = db.close.bind(db);
    db.close = () => {
      checkpointer.stop();
      return close();
    };
  }
  return db;
}

/** Creates the file (and its folder) readable by this user only, and tightens existing ones. */
function createPrivately(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
}

/** Applies the migrations not yet applied; returns the versions applied by this call. */
export function migrate(db: SqliteDatabase): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const applied = new Set(
    db
      .prepare('SELECT version FROM schema_migrations')
      .pluck()
      .all()
      .map((v) => Number(v)),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: number[] = [];
  for (const migration of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }).immediate();
    done.push(migration.version);
  }
  return done;
}
