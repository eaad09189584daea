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
import { createEmbeddedScheduler } from '../../schedulers/embedded/scheduler.js';
import type { Scheduler } from '../../schedulers/port.js';
import { createSqliteSearch } from '../../src/search/sqlite.js';
import { StoreUnavailableError } from '../../src/store/port.js';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/store/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { deferred, turn, within } from './contract-helpers.js';
import { schedulerContract } from './scheduler.contract.js';
import { searchContract } from './search.contract.js';
import { storesContract } from './stores.contract.js';

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

storesContract('sqlite', async () => {
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
});

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
