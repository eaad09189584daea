/**
 * Cassandra UserStore (tables: users, preferences, and reachable_users for pageReachable;
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
 *  - `pageReachable` reads reachable_users, the users who have held a device, an email
 *    address or a phone number: `put` adds a user given an email or a phone, the DeviceStore
 *    one that registers a device, migration 8 those already there; nothing is removed but by
 *    the erasure, so a user who gave up all of them is still answered (more, never fewer). It
 *    walks the index by shard (REACHABLE_SHARDS, by a hash of the uid) then uid — resuming after
 *    a uid continues in that uid's shard — and reads each user's row (a uid whose row is gone
 *    is left out, and the walk reads on rather than answer an empty page). A page may be short
 *    with more to come; the walk ends at an empty page. The cost is the reachable users', not
 *    all users'.
 *  - Preferences are kept per uid independently of the user row; unknown → empty preferences.
 *    `getPreferencesMany` reads them IN_KEYS uids per request (`WHERE uid IN ?`).
 *  - `put` and `putPreferences` copy what they write of the contact fields and the preferences
 *    to recipient_facts (recipient-store.ts), in the same request (before it, for a user's creation).
 * Audience queries over attributes are Search's (Elasticsearch), fed by the pipeline.
 */
import { CONTACT_FIELDS } from '../../exchange/recipient.js';
import type { Preferences, User } from '../../exchange/types.js';
import type { UserStore } from '../port.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, long, mapLimit, text } from './client.js';
import { recipientFacts } from './recipient-store.js';
import { REACHABLE_SHARDS, reachableShard } from './schema.js';

const COLUMNS = 'uid, email, phone, locale, timezone, attributes, created_at, updated_at';

type Patch = Parameters<UserStore['put']>[0];
type Row = { get(name: string): unknown };

function toUser(row: Row): User {
  const user: User = {
    uid: text(row.get('uid')) as string,
    attributes: JSON.parse(text(row.get('attributes')) ?? '{}') as Record<string, unknown>,
    createdAt: long(row.get('created_at')) ?? 0,
    updatedAt: long(row.get('updated_at')) ?? 0,
  };
  for (const field of CONTACT_FIELDS) {
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
  const SELECT_REACHABLE = 'SELECT uid FROM reachable_users WHERE shard = ? LIMIT ?';
  const SELECT_REACHABLE_AFTER = 'SELECT uid FROM reachable_users WHERE shard = ? AND uid > ? LIMIT ?';
  const INSERT_REACHABLE = 'INSERT INTO reachable_users (shard, uid) VALUES (?, ?)';
  const SELECT_PREFERENCES = 'SELECT body FROM preferences WHERE uid = ?';
  const SELECT_PREFERENCES_IN = 'SELECT uid, body FROM preferences WHERE uid IN ?';
  const UPSERT_PREFERENCES = 'INSERT INTO preferences (uid, body) VALUES (?, ?)';

  /** Up to `limit` uids of reachable_users after `after`, in the walk's order (shard, then uid). */
  const reachableAfter = async (after: string | undefined, limit: number): Promise<string[]> => {
    const uids: string[] = [];
    for (let shard = after === undefined ? 0 : reachableShard(after); shard < REACHABLE_SHARDS && uids.length < limit; shard++) {
      const want = limit - uids.length;
      const resume = after !== undefined && shard === reachableShard(after);
      const rows = (
        await session.execute(resume ? SELECT_REACHABLE_AFTER : SELECT_REACHABLE, resume ? [shard, after, want] : [shard, want], { fetchSize: want })
      ).rows;
      for (const row of rows) uids.push(text(row.get('uid')) as string);
    }
    return uids;
  };

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
      if ((patch.email ?? '') !== '' || (patch.phone ?? '') !== '') await session.execute(INSERT_REACHABLE, [reachableShard(patch.uid), patch.uid]);
      let before = await get(patch.uid);
      if (!before) {
        const user = merge({ uid: patch.uid, attributes: {}, createdAt: at, updatedAt: at }, patch, at);
        // A conditional insert batches with nothing: the copy of what the patch gives goes first
        // (the update below would write the same if another put created the user meanwhile).
        await session.batch(recipientFacts.contact(patch.uid, patch), false);
        const outcome = await createIfNew(user);
        if (outcome.created) return user;
        before = outcome.existing;
      }
      // Fields not given are sent as `unset`: their stored values stay.
      const update = {
        query: UPDATE_USER,
        params: [
          patch.email,
          patch.phone,
          patch.locale,
          patch.timezone,
          patch.attributes === undefined ? undefined : JSON.stringify(patch.attributes),
          at,
          patch.uid,
        ],
      };
      await session.batch([update, ...recipientFacts.contact(patch.uid, patch)], false);
      return merge(before, patch, at);
    },

    get,

    getMany: async (uids) => {
      const users = await mapLimit([...new Set(uids)], DEFAULT_CONCURRENCY, get);
      return users.filter((user): user is User => user !== undefined).sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    },

    page,

    pageReachable: async (after, limit) => {
      // Index entries whose user row is gone are skipped: read on until a page holds a user, or the index ends.
      for (let from = after; ; ) {
        const uids = await reachableAfter(from, limit);
        if (uids.length === 0) return [];
        const users = (await mapLimit(uids, DEFAULT_CONCURRENCY, get)).filter((user): user is User => user !== undefined);
        if (users.length > 0) return users;
        from = uids.at(-1);
      }
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
      await session.batch([{ query: UPSERT_PREFERENCES, params: [uid, JSON.stringify(preferences)] }, recipientFacts.preferences(uid, preferences)], false);
    },
  };
}
