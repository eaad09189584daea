/**
 * The SQLite group commit: writes of one event-loop turn share one transaction, each promise
 * resolves only after that transaction committed, and batched calls behave as sequential ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { buildMessage } from '../../src/exchange/message.js';
import { newId } from '../../src/ids.js';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/sqlite/database.js';
import { createGroupCommit } from '../../src/sqlite/group-commit.js';
import { StoreUnavailableError } from '../../src/store/port.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';

describe('SQLite group commit', () => {
  let dir: string;
  let db: SqliteDatabase;
  /** A second connection: sees only what was committed. */
  let observer: Database.Database;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-group-'));
    db = openDatabase(join(dir, 'g.db'));
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    observer = new Database(join(dir, 'g.db'), { readonly: true });
  });
  after(() => {
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const committed = (k: string) => observer.prepare('SELECT v FROM t WHERE k = ?').pluck().get(k);

  it('applies the calls of one turn in one transaction and resolves them after it committed', async () => {
    const group = createGroupCommit(db);
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const seenByB: unknown[] = [];
    const a = group.run(() => insert.run('a', 1).changes);
    const b = group.run(() => {
      // Same transaction as `a`: written on this connection, not yet committed for others.
      seenByB.push(db.inTransaction, db.prepare('SELECT v FROM t WHERE k = ?').pluck().get('a'), committed('a'));
      return insert.run('b', 2).changes;
    });
    assert.equal(committed('a'), undefined);
    let resolvedEarly = false;
    void a.then(() => {
      resolvedEarly = committed('b') === undefined;
    });
    assert.deepEqual(await Promise.all([a, b]), [1, 1]);
    assert.deepEqual(seenByB, [true, 1, undefined]);
    assert.equal(resolvedEarly, false);
    assert.deepEqual([committed('a'), committed('b')], [1, 2]);
  });

  it('isolates a failing call: the others of its batch commit, it alone rejects', async () => {
    const group = createGroupCommit(db);
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const results = await Promise.allSettled([
      group.run(() => insert.run('c', 3)),
      group.run(() => insert.run('c', 4)), // primary key violation
      group.run(() => insert.run('d', 5)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual([committed('c'), committed('d')], [3, 5]);
  });

  it('rejects with StoreUnavailableError once the connection is closed', async () => {
    const closedDir = mkdtempSync(join(tmpdir(), 'herald-group-closed-'));
    const closing = openDatabase(join(closedDir, 'c.db'));
    const group = createGroupCommit(closing);
    const pending = group.run(() => 1);
    closing.close();
    try {
      await assert.rejects(pending, StoreUnavailableError);
    } finally {
      rmSync(closedDir, { recursive: true, force: true });
    }
  });
});

describe('SQLite stores through the group commit', () => {
  it('same-turn inserts with one idempotency key behave as sequential ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-group-stores-'));
    const db = openDatabase(join(dir, 'h.db'));
    migrate(db);
    const stores = createSqliteStores(db);
    try {
      const now = Date.now();
      const make = (msg: string) => buildMessage({ id: newId(), sender: 'app', target: { kind: 'user', uid: 'u1' }, msg, opts: undefined, now });
      const [first, replay, conflict] = [make('one'), make('one'), make('two')];
      const key = (bodyHash: string) => ({ key: 'k', bodyHash, ttlMs: 60_000 });
      const results = await Promise.all([
        stores.messages.insert({ message: first, status: 'accepted' }, key('h1')),
        stores.messages.insert({ message: replay, status: 'accepted' }, key('h1')),
        stores.messages.insert({ message: conflict, status: 'accepted' }, key('h2')),
      ]);
      assert.deepEqual(results, [
        { inserted: true },
        { inserted: false, existingId: first.id, bodyHash: 'h1' },
        { inserted: false, existingId: first.id, bodyHash: 'h1' },
      ]);
      assert.equal(await stores.messages.get(replay.id), undefined);
      // A write queued behind the insert sees it, as a sequential call would.
      await Promise.all([stores.messages.insert({ message: make('x'), status: 'accepted' }), stores.messages.setStatus(first.id, 'triaged')]);
      assert.equal((await stores.messages.get(first.id))?.status, 'triaged');
    } finally {
      await stores.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
