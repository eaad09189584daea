/**
 * Runs the store, search and scheduler contracts against the embedded SQLite adapters.
 * Every test gets its own database file in a fresh temporary folder, removed afterwards.
 * A few checks specific to the SQLite adapters follow the contracts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createEmbeddedScheduler } from '../../schedulers/embedded/scheduler.js';
import type { Scheduler } from '../../schedulers/port.js';
import { createSqliteSearch } from '../../src/search/sqlite/search.js';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/sqlite/database.js';
import { MIGRATIONS } from '../../src/sqlite/migrations.js';
import { StoreUnavailableError } from '../../src/store/port.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { deferred, makeMessage, turn, webDevice, within } from './contract-helpers.js';
import { recipientsContract } from './recipients.contract.js';
import { schedulerContract } from './scheduler.contract.js';
import { searchContract } from './search.contract.js';
import { type StoresHarness, storesContract } from './stores.contract.js';
import { timelinesContract } from './timelines.contract.js';

/** A migrated database in its own temporary folder; `reopen` closes it and opens the same file. */
function freshDatabase(): { db(): SqliteDatabase; reopen(): SqliteDatabase; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-contract-'));
  const file = join(dir, 'herald.db');
  const openMigrated = () => {
    const db = openDatabase(file);
    migrate(db);
    return db;
  };
  let db = openMigrated();
  return {
    db: () => db,
    reopen: () => {
      db.close();
      db = openMigrated();
      return db;
    },
    cleanup: () => {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stores over a fresh database; `reopen` closes them and opens the same file again. */
async function freshStores(): Promise<StoresHarness> {
  const database = freshDatabase();
  let stores = createSqliteStores(database.db());
  return {
    stores,
    reopen: async () => {
      await stores.close();
      stores = createSqliteStores(database.reopen());
      return stores;
    },
    cleanup: async () => {
      await stores.close();
      database.cleanup();
    },
  };
}

storesContract('sqlite', freshStores);
timelinesContract('sqlite', freshStores);
recipientsContract('sqlite', freshStores);

searchContract('sqlite', async () => {
  const database = freshDatabase();
  const stores = createSqliteStores(database.db());
  const search = createSqliteSearch(database.db());
  return {
    stores,
    search,
    cleanup: async () => {
      await search.close();
      await stores.close();
      database.cleanup();
    },
  };
});

schedulerContract('embedded (sqlite)', async () => {
  const database = freshDatabase();
  const options = { concurrency: 4, backoff: () => 20 };
  let scheduler: Scheduler = createEmbeddedScheduler(database.db(), options);
  return {
    scheduler,
    reopen: async () => {
      await scheduler.stop();
      scheduler = createEmbeddedScheduler(database.reopen(), options);
      return scheduler;
    },
    cleanup: async () => {
      await scheduler.stop();
      database.cleanup();
    },
  };
});

describe('SQLite adapters beyond the contracts', () => {
  it('migrate is idempotent and the database runs in WAL mode', () => {
    const database = freshDatabase();
    try {
      const db = database.db();
      assert.deepEqual(migrate(db), []);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
      const reopened = database.reopen();
      assert.deepEqual(migrate(reopened), []);
    } finally {
      database.cleanup();
    }
  });

  it('migration 4 keys receipts per device: a queued push receipt becomes one per device of its user', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-migrate-'));
    try {
      const db = openDatabase(join(dir, 'herald.db'));
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const migration of MIGRATIONS.filter((m) => m.version <= 3)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, 0);
      }
      db.exec(`
        INSERT INTO devices (id, uid, kind, token, keys, expiration_time, created_at) VALUES
          ('w1', 'ann', 'web', 'https://push.test/1', '{}', NULL, 1), ('w2', 'ann', 'web', 'https://push.test/2', '{}', NULL, 1),
          ('i1', 'ann', 'ios', 'apns-token', NULL, NULL, 1);
        INSERT INTO receipts (message_id, uid, channel, state, reason, at) VALUES
          ('m1', 'ann', 'webpush', 'queued', NULL, 1), ('m1', 'ann', 'email', 'queued', NULL, 1),
          ('m2', 'ann', 'webpush', 'sent', 'loc', 2), ('m1', 'bob', 'webpush', 'queued', NULL, 1);
        INSERT INTO receipt_events (message_id, uid, channel, state, reason, at, urgency) VALUES ('m2', 'ann', 'webpush', 'sent', 'loc', 2, 'high');
      `);
      assert.deepEqual(migrate(db), [4, ...MIGRATIONS.filter((m) => m.version > 4).map((m) => m.version)]);
      const stores = createSqliteStores(db);
      const states = (rows: Array<{ uid: string; channel: string; device?: string; state: string }>) =>
        rows.map((r) => `${r.uid}/${r.channel}/${r.device ?? ''}/${r.state}`);
      assert.deepEqual(states(await stores.receipts.forMessage('m1')), [
        'ann/email//queued',
        'ann/webpush/w1/queued',
        'ann/webpush/w2/queued',
        // No device to send to: stays channel-wide (its delivery fails "no subscription", as before).
        'bob/webpush//queued',
      ]);
      assert.deepEqual(states(await stores.receipts.forMessage('m2')), ['ann/webpush//sent']);
      assert.deepEqual(db.prepare("SELECT device, state, urgency FROM receipt_events WHERE message_id = 'm2'").all(), [
        { device: '', state: 'sent', urgency: 'high' },
      ]);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migration 8 (timelines): a broadcast written per inbox before it still pages, counts and reads, beside a timeline broadcast', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-migrate-'));
    try {
      const db = openDatabase(join(dir, 'herald.db'));
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const migration of MIGRATIONS.filter((m) => m.version <= 7)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, 0);
      }
      // Before timelines, a broadcast was one inbox row per user (the rows as version 7 wrote them).
      const old = makeMessage({ target: { kind: 'everyone' }, msg: 'old broadcast' });
      db.prepare("INSERT INTO users (uid, attributes, created_at, updated_at) VALUES ('ann', '{}', 1000, 1000), ('bob', '{}', 1000, 1000)").run();
      db.prepare("INSERT INTO messages (id, sender, status, cursor, urgency, created_at, body) VALUES (?, 'ops', 'triaged', NULL, 'normal', ?, ?)").run(
        old.id,
        old.createdAt,
        JSON.stringify(old),
      );
      db.prepare("INSERT INTO inbox (uid, message_id) VALUES ('ann', ?), ('bob', ?)").run(old.id, old.id);

      assert.deepEqual(migrate(db), [8, 9, 10, 11]);
      const stores = createSqliteStores(db);
      const fresh = makeMessage({ target: { kind: 'everyone' }, msg: 'timeline broadcast' });
      await stores.messages.insert({ message: fresh, status: 'triaged' });
      await stores.timelines.post('everyone', fresh, 2_000);
      for (const uid of ['ann', 'bob']) {
        assert.deepEqual(
          (await stores.inbox.list(uid, { limit: 10 })).map((i) => i.message.id),
          [fresh.id, old.id],
        );
        assert.equal(await stores.inbox.countUnread(uid), 2);
      }
      assert.deepEqual(await stores.inbox.mark('ann', [old.id, fresh.id], 'read', 3_000), [old.id, fresh.id]);
      assert.equal(await stores.inbox.countUnread('ann'), 0);
      assert.equal(await stores.inbox.countUnread('bob'), 2);
      assert.equal((await stores.inbox.get('ann', old.id))?.readAt, 3_000);
      await stores.close();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migration 11 marks the entries posted late already there, and a user created before their post still lists them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-migrate-'));
    try {
      const db = openDatabase(join(dir, 'herald.db'));
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const migration of MIGRATIONS.filter((m) => m.version <= 10)) {
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, 0);
      }
      const day = 24 * 3_600_000;
      const created = Date.now() - 10 * day;
      const insertMessage = db.prepare(
        "INSERT INTO messages (id, sender, status, cursor, urgency, created_at, body) VALUES (?, 'ops', 'triaged', NULL, 'normal', ?, ?)",
      );
      const insertEntry = db.prepare("INSERT INTO timeline_entries (timeline, message_id, posted_at) VALUES ('everyone', ?, ?)");
      const scheduled = makeMessage({ id: uuidv7({ msecs: created }), createdAt: created, target: { kind: 'everyone' } });
      const onTime = makeMessage({ id: uuidv7({ msecs: created + 3 * day }), createdAt: created + 3 * day, target: { kind: 'everyone' } });
      for (const [message, posted] of [
        [scheduled, created + 2 * day],
        [onTime, created + 3 * day],
      ] as const) {
        insertMessage.run(message.id, message.createdAt, JSON.stringify(message));
        insertEntry.run(message.id, posted);
      }
      db.prepare("INSERT INTO users (uid, attributes, created_at, updated_at) VALUES ('between', '{}', ?, ?)").run(created + day, created + day);
      assert.deepEqual(migrate(db), [11]);
      assert.deepEqual(db.prepare('SELECT message_id, late FROM timeline_entries ORDER BY message_id').all(), [
        { message_id: scheduled.id, late: 1 },
        { message_id: onTime.id, late: 0 },
      ]);
      const stores = createSqliteStores(db);
      assert.deepEqual(
        (await stores.inbox.list('between', { limit: 10 })).map((i) => i.message.id),
        [onTime.id, scheduled.id],
      );
      await stores.close();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pageReachable visits only users with a device, an email or a phone', async () => {
    const database = freshDatabase();
    const stores = createSqliteStores(database.db());
    try {
      for (let i = 0; i < 50; i++) await stores.users.ensure(`plain-${String(i).padStart(2, '0')}`, 1_000);
      await stores.users.put({ uid: 'mail', email: 'm@example.test' }, 1_000);
      await stores.users.ensure('dev', 1_000);
      await stores.devices.register('dev', webDevice('https://push.example.test/d'), 'd-1', 1_000);
      assert.deepEqual(
        (await stores.users.pageReachable(undefined, 10)).map((u) => u.uid),
        ['dev', 'mail'],
      );
      assert.deepEqual(await stores.users.pageReachable('mail', 10), []);
    } finally {
      await stores.close();
      database.cleanup();
    }
  });

  it('countUnread keeps an unread floor per user and timeline, read from the posted-time index, and erasure removes it', async () => {
    const database = freshDatabase();
    const stores = createSqliteStores(database.db());
    try {
      const minute = 60_000;
      await stores.users.ensure('floor', 0);
      const posts = [];
      for (let i = 1; i <= 20; i++) {
        const message = makeMessage({ target: { kind: 'everyone' } });
        await stores.messages.insert({ message, status: 'triaged' });
        await stores.timelines.post('everyone', message, i * 10 * minute);
        posts.push(message);
      }
      await stores.inbox.mark(
        'floor',
        posts.slice(0, 15).map((m) => m.id),
        'read',
        300 * minute,
      );
      const floorOf = () =>
        database.db().prepare("SELECT floor_at FROM timeline_floors WHERE uid = 'floor' AND timeline = 'everyone'").get() as { floor_at: number } | undefined;
      assert.equal(floorOf(), undefined);
      assert.equal(await stores.inbox.countUnread('floor'), 5);
      assert.equal(floorOf()?.floor_at, 160 * minute, 'the first unread entry');
      const plan = database
        .db()
        .prepare("EXPLAIN QUERY PLAN SELECT count(*) FROM timeline_entries t WHERE t.timeline = 'everyone' AND t.posted_at >= ?")
        .all(160 * minute) as Array<{ detail: string }>;
      assert.ok(
        plan.some((row) => row.detail.includes('timeline_entries_posted')),
        JSON.stringify(plan),
      );
      await stores.erasure.eraseUser('floor', 400 * minute);
      assert.equal(floorOf(), undefined);
    } finally {
      await stores.close();
      database.cleanup();
    }
  });

  it('a closed database answers StoreUnavailableError and unhealthy', async () => {
    const database = freshDatabase();
    const stores = createSqliteStores(database.db());
    database.db().close();
    try {
      await assert.rejects(stores.messages.get('x'), StoreUnavailableError);
      assert.equal(await stores.healthy(), false);
    } finally {
      database.cleanup();
    }
  });

  it('the embedded scheduler runs at most `concurrency` handlers at once', async () => {
    const database = freshDatabase();
    const scheduler = createEmbeddedScheduler(database.db(), { concurrency: 3 });
    try {
      let running = 0;
      let peak = 0;
      let done = 0;
      const allDone = deferred();
      const gates: Array<() => void> = [];
      scheduler.handle('busy', async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        if (++done === 10) allDone.resolve();
      });
      for (let i = 0; i < 10; i++) {
        await scheduler.schedule({ id: `busy-${i}`, kind: 'busy', runAt: Date.now() - 1, payload: i });
      }
      await scheduler.start();
      // Release handlers one at a time as they arrive until all ten have run.
      while (done < 10) {
        await turn();
        gates.shift()?.();
      }
      await within(allDone.promise, 'all jobs');
      assert.equal(peak, 3);
    } finally {
      await scheduler.stop();
      database.cleanup();
    }
  });
});
