/**
 * SQLite UserStore. Guarantees, beyond the UserStore port contract:
 *  - `put` changes only the fields it is given (an `attributes` given replaces the whole
 *    attributes object), sets `updatedAt` to `at`, and keeps `createdAt`; an unknown uid is
 *    created with `createdAt = updatedAt = at`. The audience rows in `user_attributes` are
 *    rewritten in the same transaction, so audience queries never see stale attributes.
 *  - `ensure` of a known uid returns it unchanged.
 *  - `getMany` returns the known users among `uids` (each once), by uid ascending.
 *  - Preferences are kept per uid independently of the user row; unknown → empty preferences.
 */
import type { Preferences, User } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import { sqlite } from '../../sqlite/unavailable.js';
import { attributeRows } from '../../sqlite/user-attributes.js';
import type { UserStore } from '../port.js';

interface UserRow {
  uid: string;
  email: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  attributes: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS = 'uid, email, phone, locale, timezone, attributes, created_at, updated_at';

function toUser(row: UserRow): User {
  const user: User = {
    uid: row.uid,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.email !== null) user.email = row.email;
  if (row.phone !== null) user.phone = row.phone;
  if (row.locale !== null) user.locale = row.locale;
  if (row.timezone !== null) user.timezone = row.timezone;
  return user;
}

export function createSqliteUserStore(db: SqliteDatabase): UserStore {
  const selectUser = db.prepare<[string], UserRow>(`SELECT ${COLUMNS} FROM users WHERE uid = ?`);
  const selectMany = db.prepare<[string], UserRow>(`SELECT ${COLUMNS} FROM users WHERE uid IN (SELECT value FROM json_each(?)) ORDER BY uid`);
  const selectFirstPage = db.prepare<[number], UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY uid LIMIT ?`);
  const selectPageAfter = db.prepare<[string, number], UserRow>(`SELECT ${COLUMNS} FROM users WHERE uid > ? ORDER BY uid LIMIT ?`);
  // Two index range scans (users_addressed, devices_uid), each at most a page: the cost follows
  // the reachable users, not every user.
  const selectReachable = db.prepare<{ after: string; limit: number }, UserRow>(
    `SELECT ${COLUMNS} FROM users WHERE uid IN (
       SELECT uid FROM (SELECT uid FROM users WHERE (email IS NOT NULL OR phone IS NOT NULL) AND uid > @after ORDER BY uid LIMIT @limit)
       UNION
       SELECT uid FROM (SELECT DISTINCT uid FROM devices WHERE uid > @after ORDER BY uid LIMIT @limit))
     ORDER BY uid LIMIT @limit`,
  );
  const insertIfMissing = db.prepare(`INSERT INTO users (uid, attributes, created_at, updated_at) VALUES (?, '{}', ?, ?) ON CONFLICT (uid) DO NOTHING`);
  const upsertUser = db.prepare(
    `INSERT INTO users (${COLUMNS})
     VALUES (@uid, @email, @phone, @locale, @timezone, @attributes, @createdAt, @updatedAt)
     ON CONFLICT (uid) DO UPDATE SET
       email = excluded.email, phone = excluded.phone, locale = excluded.locale,
       timezone = excluded.timezone, attributes = excluded.attributes, updated_at = excluded.updated_at`,
  );
  const deleteAttributes = db.prepare('DELETE FROM user_attributes WHERE uid = ?');
  const insertAttribute = db.prepare('INSERT INTO user_attributes (name, value, uid) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const selectPreferences = db.prepare<[string], string>('SELECT body FROM preferences WHERE uid = ?');
  selectPreferences.pluck();
  const selectPreferencesMany = db.prepare<[string], { uid: string; body: string }>(
    'SELECT uid, body FROM preferences WHERE uid IN (SELECT value FROM json_each(?))',
  );
  const upsertPreferences = db.prepare('INSERT INTO preferences (uid, body) VALUES (?, ?) ON CONFLICT (uid) DO UPDATE SET body = excluded.body');

  const ensureTx = db.transaction((uid: string, at: number): User => {
    insertIfMissing.run(uid, at, at);
    return toUser(selectUser.get(uid) as UserRow);
  });

  const putTx = db.transaction((patch: Parameters<UserStore['put']>[0], at: number): User => {
    const row = selectUser.get(patch.uid);
    const before: User = row ? toUser(row) : { uid: patch.uid, attributes: {}, createdAt: at, updatedAt: at };
    const after: User = {
      ...before,
      ...Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)),
      uid: patch.uid,
      createdAt: before.createdAt,
      updatedAt: at,
    };
    upsertUser.run({
      uid: after.uid,
      email: after.email ?? null,
      phone: after.phone ?? null,
      locale: after.locale ?? null,
      timezone: after.timezone ?? null,
      attributes: JSON.stringify(after.attributes ?? {}),
      createdAt: after.createdAt,
      updatedAt: after.updatedAt,
    });
    if (!row || patch.attributes !== undefined) {
      deleteAttributes.run(after.uid);
      for (const { name, value } of attributeRows(after.attributes)) insertAttribute.run(name, value, after.uid);
    }
    return toUser(selectUser.get(patch.uid) as UserRow);
  });

  return {
    ensure: (uid, at) => sqlite(() => ensureTx.immediate(uid, at)),
    put: (user, at) => sqlite(() => putTx.immediate(user, at)),
    get: (uid) =>
      sqlite(() => {
        const row = selectUser.get(uid);
        return row ? toUser(row) : undefined;
      }),
    getMany: (uids) => sqlite(() => (uids.length === 0 ? [] : selectMany.all(JSON.stringify(uids)).map(toUser))),
    page: (after, limit) => sqlite(() => (after === undefined ? selectFirstPage.all(limit) : selectPageAfter.all(after, limit)).map(toUser)),
    pageReachable: (after, limit) => sqlite(() => selectReachable.all({ after: after ?? '', limit }).map(toUser)),
    getPreferences: (uid) =>
      sqlite((): Preferences => {
        const body = selectPreferences.get(uid);
        return body === undefined ? { channels: {}, categories: {} } : (JSON.parse(body) as Preferences);
      }),
    getPreferencesMany: (uids) =>
      sqlite(() => {
        const found = new Map<string, Preferences>(uids.map((uid) => [uid, { channels: {}, categories: {} }]));
        if (uids.length > 0) for (const row of selectPreferencesMany.all(JSON.stringify(uids))) found.set(row.uid, JSON.parse(row.body) as Preferences);
        return found;
      }),
    putPreferences: (uid, preferences) =>
      sqlite(() => {
        upsertPreferences.run(uid, JSON.stringify(preferences));
      }),
  };
}
