/**
 * SQLite ErasureStore (the right to erasure). Guarantees, beyond the ErasureStore port contract:
 *  - `eraseUser` is one transaction, run through the group commit (group-commit.ts) so it is
 *    ordered after every inbox write submitted before it: the erasure is recorded in
 *    `erased_users`, then the user row, its `user_attributes` (audiences), preferences,
 *    devices, inbox rows, timeline state, thread memberships (current and past), receipts and receipt history (`receipt_events`, which reports count)
 *    are deleted. Either all of it is durable when the promise resolves, or none of it.
 *  - Cost: index ranges on the user's own rows (inbox and devices by their uid-leading keys,
 *    receipts and receipt history by the `receipts_uid` / `receipt_events_uid` indexes of
 *    migration 5): bounded by what that user holds, never a scan of other users' rows.
 *  - Messages stay (the sender's records): the `messages` table is not touched.
 *  - `erasedAt` is one primary-key lookup per uid (in one statement).
 */
import type { SqliteDatabase } from '../../sqlite/database.js';
import { createGroupCommit, type GroupCommit } from '../../sqlite/group-commit.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { ErasureStore } from '../port.js';

export function createSqliteErasureStore(db: SqliteDatabase, group: GroupCommit = createGroupCommit(db)): ErasureStore {
  const recordErasure = db.prepare(
    'INSERT INTO erased_users (uid, erased_at) VALUES (?, ?) ON CONFLICT (uid) DO UPDATE SET erased_at = max(erased_at, excluded.erased_at)',
  );
  const deletes = [
    'DELETE FROM users WHERE uid = ?',
    'DELETE FROM user_attributes WHERE uid = ?',
    'DELETE FROM preferences WHERE uid = ?',
    'DELETE FROM devices WHERE uid = ?',
    'DELETE FROM inbox WHERE uid = ?',
    'DELETE FROM timeline_state WHERE uid = ?',
    'DELETE FROM timeline_floors WHERE uid = ?',
    'DELETE FROM thread_periods WHERE uid = ?',
    'DELETE FROM thread_members WHERE uid = ?',
    'DELETE FROM receipts WHERE uid = ?',
    'DELETE FROM receipt_events WHERE uid = ?',
  ].map((sql) => db.prepare(sql));
  const selectErased = db.prepare<[string], { uid: string; erased_at: number }>(
    'SELECT uid, erased_at FROM erased_users WHERE uid IN (SELECT value FROM json_each(?))',
  );

  return {
    eraseUser: (uid, at) =>
      group.run(() => {
        recordErasure.run(uid, at);
        for (const statement of deletes) statement.run(uid);
      }),
    erasedAt: (uids) =>
      sqlite(() => {
        const found = new Map<string, number>();
        if (uids.length > 0) for (const row of selectErased.all(JSON.stringify(uids))) found.set(row.uid, row.erased_at);
        return found;
      }),
  };
}
