/**
 * The embedded (SQLite) Stores. Build them over a database from `openDatabase` that `migrate`
 * has brought up to date; the stores share that one connection with search and the embedded
 * scheduler. `close()` releases nothing the caller owns: whoever opened the database closes it,
 * after closing / stopping every adapter built on it.
 */

import type { SqliteDatabase } from '../../sqlite/database.js';
import { createGroupCommit } from '../../sqlite/group-commit.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { Stores } from '../port.js';
import { createSqliteDeviceStore } from './device-store.js';
import { createSqliteErasureStore } from './erase-user.js';
import { createSqliteInboxStore } from './inbox-store.js';
import { createSqliteMessageStore } from './message-store.js';
import { createSqliteReceiptStore } from './receipt-store.js';
import { createSqliteRecipientStore } from './recipient-store.js';
import { createSqliteTimelineStore } from './timeline-store.js';
import { createSqliteUserStore } from './user-store.js';

export type { SqliteDatabase } from '../../sqlite/database.js';
export { migrate, openDatabase } from '../../sqlite/database.js';

export function createSqliteStores(db: SqliteDatabase): Stores {
  const ping = db.prepare('SELECT 1');
  // One group commit for the connection: writes of one event-loop turn share a transaction.
  const group = createGroupCommit(db);
  const users = createSqliteUserStore(db);
  const devices = createSqliteDeviceStore(db);
  const erasure = createSqliteErasureStore(db, group);
  return {
    messages: createSqliteMessageStore(db, group),
    inbox: createSqliteInboxStore(db, group),
    timelines: createSqliteTimelineStore(db, group),
    receipts: createSqliteReceiptStore(db),
    users,
    devices,
    erasure,
    recipients: createSqliteRecipientStore(users, devices, erasure),
    healthy: () => sqlite(() => db.open && ping.get() !== undefined).catch(() => false),
    close: async () => {
      group.flushNow();
    },
  };
}
