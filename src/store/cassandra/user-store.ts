/**
 * Cassandra UserStore (tables: users, preferences, and devices_by_user read by pageReachable;
 * schema.ts). Guarantees, beyond the UserStore port contract:
 *  - `ensure` of a known uid is one read and returns it unchanged; an unknown uid is created
 *    with `INSERT … IF NOT EXISTS`, so a concurrent `put` or `ensure` is never overwritten.
 *  - `put` changes only the columns it is given (an `attributes` given replaces the whole
 *    attributes object), sets `updatedAt` to `at`, and keeps `createdAt`; an unknown uid is
 *    created (conditionally) with `createdAt = updatedAt = at`. Concurrent puts of different
 *    fields both land (column-level last write wins).
 *  - `getMany` returns the known users among `uids` (each once), by uid ascending.
 *  - `page` walks the users in partition-token order (`token(uid) > token(after)`), the order
 *    in which Cassandra scans a table cheaply at any depth; resuming after the last uid of a
 *    page neither repeats nor skips a user. Two uids with the same 64-bit Murmur3 token would be
 *    one step of the walk: the second could be skipped (odds about n²/2⁶⁵ for n users).
 *  - `pageReachable` walks the same order: each page is the next `limit` users of `page`, of
 *    which it answers those with an email or a phone and those holding a device (one
 *    `SELECT DISTINCT uid FROM devices_by_user` over the page's token range, the partition keys
 *    only), plus the page's last user whatever it holds, so the next page resumes after the whole
 *    page (at most one user per page more than the port asks for). It reads every user row, as
 *    `page` does: the saving is the per-user work of the users it leaves out, not the scan.
 *  - Preferences are kept per uid independently of the user row; unknown → empty preferences.
 *    `getPreferencesMany` reads them IN_KEYS uids per request (`WHERE uid IN ?`).
 * Audience queries over attributes are Search's (Elasticsearch), fed by the pipeline.
 */
import type { Preferences, User } from '../../exchange/types.js';
import type { UserStore } from '../port.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, long, mapLimit, text } from './client.js';

const COLUMNS = 'uid, email, phone, locale, timezone, attributes, created_at, updated_at';
const OPTIONAL_FIELDS = ['email', 'phone', 'locale', 'timezone'] as const;

type Patch = Parameters<UserStore['put']>[0];
type Row = { get(name: string): unknown };

function toUser(row: Row): User {
  const user: User = {
    uid: text(row.get('uid')) as string,
    attributes: JSON.parse(text(row.get('attributes')) ?? '{}') as Record<string, unknown>,
    createdAt: long(row.get('created_at')) ?? 0,
    updatedAt: long(row.get('updated_at')) ?? 0,
  };
  for (const field of OPTIONAL_FIELDS) {
    const value = text(row.get(field));
    if (value !== null) user[field] = value;
  }
  return user;
}

/** `before` with the fields `patch` gives, `updatedAt = at`, `createdAt` kept. */
function merge(before: User, patch: Patch, at: number): User {
  return {
    ...before,
    ...Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)),
    uid: patch.uid,
    createdAt: before.createdAt,
    updatedAt: at,
  };
}

export function createCassandraUserStore(session: CqlSession): UserStore {
  const SELECT_USER = `SELECT ${COLUMNS} FROM users WHERE uid = ?`;
  const INSERT_IF_NEW = `INSERT INTO users (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`;
  const UPDATE_USER = 'UPDATE users SET email = ?, phone = ?, locale = ?, timezone = ?, attributes = ?, updated_at = ? WHERE uid = ?';
  const SELECT_FIRST_PAGE = `SELECT ${COLUMNS} FROM users LIMIT ?`;
  const SELECT_PAGE_AFTER = `SELECT ${COLUMNS} FROM users WHERE token(uid) > token(?) LIMIT ?`;
  const SELECT_HOLDERS_UNTIL = 'SELECT DISTINCT uid FROM devices_by_user WHERE token(uid) <= token(?)';
  const SELECT_HOLDERS_BETWEEN = 'SELECT DISTINCT uid FROM devices_by_user WHERE token(uid) > token(?) AND token(uid) <= token(?)';
  const SELECT_PREFERENCES = 'SELECT body FROM preferences WHERE uid = ?';
  const SELECT_PREFERENCES_IN = 'SELECT uid, body FROM preferences WHERE uid IN ?';
  const UPSERT_PREFERENCES = 'INSERT INTO preferences (uid, body) VALUES (?, ?)';

  const get = async (uid: string): Promise<User | undefined> => {
    const row = (await session.execute(SELECT_USER, [uid])).first();
    return row ? toUser(row) : undefined;
  };

  const page = async (after: string | undefined, limit: number): Promise<User[]> => {
    const options = { fetchSize: limit };
    const result =
      after === undefined ? await session.execute(SELECT_FIRST_PAGE, [limit], options) : await session.execute(SELECT_PAGE_AFTER, [after, limit], options);
    return result.rows.map(toUser);
  };

  /** Creates `user` unless the uid exists; returns the stored user either way. */
  const createIfNew = async (user: User): Promise<{ created: true } | { created: false; existing: User }> => {
    const result = await session.execute(INSERT_IF_NEW, [
      user.uid,
      user.email,
      user.phone,
      user.locale,
      user.timezone,
      JSON.stringify(user.attributes),
      user.createdAt,
      user.updatedAt,
    ]);
    if (result.wasApplied()) return { created: true };
    return { created: false, existing: toUser(result.first()) };
  };

  return {
    ensure: async (uid, at) => {
      const known = await get(uid);
      if (known) return known;
      const user: User = { uid, attributes: {}, createdAt: at, updatedAt: at };
      const outcome = await createIfNew(user);
      return outcome.created ? user : outcome.existing;
    },

    put: async (patch, at) => {
      let before = await get(patch.uid);
      if (!before) {
        const user = merge({ uid: patch.uid, attributes: {}, createdAt: at, updatedAt: at }, patch, at);
        const outcome = await createIfNew(user);
        if (outcome.created) return user;
        before = outcome.existing;
      }
      // Fields not given are sent as `unset`: their stored values stay.
      await session.execute(UPDATE_USER, [
        patch.email,
        patch.phone,
        patch.locale,
        patch.timezone,
        patch.attributes === undefined ? undefined : JSON.stringify(patch.attributes),
        at,
        patch.uid,
      ]);
      return merge(before, patch, at);
    },

    get,

    getMany: async (uids) => {
      const users = await mapLimit([...new Set(uids)], DEFAULT_CONCURRENCY, get);
      return users.filter((user): user is User => user !== undefined).sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    },

    page,

    pageReachable: async (after, limit) => {
      const users = await page(after, limit);
      const last = users.at(-1);
      if (last === undefined) return [];
      const holders = new Set<string>();
      const [query, params] = after === undefined ? [SELECT_HOLDERS_UNTIL, [last.uid]] : [SELECT_HOLDERS_BETWEEN, [after, last.uid]];
      for await (const row of session.rows(query, params)) holders.add(text(row.get('uid')) as string);
      return users.filter((user) => user === last || user.email !== undefined || user.phone !== undefined || holders.has(user.uid));
    },

    getPreferences: async (uid): Promise<Preferences> => {
      const body = text((await session.execute(SELECT_PREFERENCES, [uid])).first()?.get('body'));
      return body === null ? { channels: {}, categories: {} } : (JSON.parse(body) as Preferences);
    },

    getPreferencesMany: async (uids) => {
      const found = new Map<string, Preferences>(uids.map((uid) => [uid, { channels: {}, categories: {} }]));
      const unique = [...found.keys()];
      await mapLimit(chunks(unique, IN_KEYS), DEFAULT_CONCURRENCY, async (keys) => {
        for await (const row of session.rows(SELECT_PREFERENCES_IN, [keys])) {
          found.set(text(row.get('uid')) as string, JSON.parse(text(row.get('body')) ?? '{}') as Preferences);
        }
      });
      return found;
    },

    putPreferences: async (uid, preferences) => {
      await session.execute(UPSERT_PREFERENCES, [uid, JSON.stringify(preferences)]);
    },
  };
}
