/**
 * Cassandra InboxStore (tables: inbox, inbox_buckets; schema.ts). Guarantees, beyond the
 * InboxStore port contract — the same as the SQLite adapter's:
 *  - An entry is one (uid, message id) row in the user's 30-day bucket; the message itself is
 *    read from `messages` (stored once however many inboxes hold it). `add` writes the message
 *    body there too, without a status, in case the MessageStore does not have it (it then reads
 *    as 'triaged', so recovery ignores it) — unless the MessageStore of this process knows it
 *    is stored (it inserted or read it: triage always has), which spares the rewrite.
 *  - `add` writes two rows per recipient (the entry and its bucket), at most ADD_CONCURRENCY in
 *    flight; it is not atomic, but every write is idempotent, so a redelivered `add` completes
 *    it. Re-adding an entry writes only its key, so its delivered / read times stay.
 *  - `list` is newest first by message id, paged by keyset (`before` / `since` exclusive): the
 *    user's buckets newest first, and inside each a range scan on message_id. `unreadOnly`
 *    skips read entries while paging, so it costs the read entries it passes over.
 *  - `mark` keeps the first delivered / read time: it reads each entry, then sets only the
 *    times still unset (a read sets the delivered time too when unset). Two marks of one entry
 *    racing each other may both set a time; the later write wins. Returned ids keep the
 *    request's order, without duplicates.
 *  - `countUnread` has no counter to read (a counter table could not be kept exact beside
 *    idempotent, re-applied writes): it asks each of the user's buckets for `count(*)` and
 *    `count(read_at)` (non-null times) and adds the differences. One request per 30-day bucket;
 *    Cassandra pages through each partition internally, so the cost is a read of that user's
 *    whole inbox, bounded by its size (never anyone else's). It counts the entries `list`
 *    with `unreadOnly` scans; `list` would skip an entry whose message row has no body, which
 *    never happens (`add` writes the message before its entries).
 */
import type { InboxItem, Message } from '../../exchange/types.js';
import type { InboxQuery, InboxStore, MessageStore } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit } from './client.js';
import { inboxBucket } from './schema.js';

/** Rows `add` keeps in flight at once. */
export const ADD_CONCURRENCY = 64;
/** Rows per page while `unreadOnly` skips read entries. */
const UNREAD_FETCH_SIZE = 200;
const MAX_BUCKET = 2_147_483_647;
const MIN_BUCKET = -2_147_483_648;

interface Entry {
  messageId: string;
  deliveredAt: number | null;
  readAt: number | null;
}

export function createCassandraInboxStore(session: CqlSession, messages: Pick<MessageStore, 'get'> & { isStored?(id: string): boolean }): InboxStore {
  const ENSURE_MESSAGE = 'INSERT INTO messages (id, body) VALUES (?, ?)';
  const INSERT_ENTRY = 'INSERT INTO inbox (uid, bucket, message_id) VALUES (?, ?, ?)';
  const INSERT_BUCKET = 'INSERT INTO inbox_buckets (uid, bucket) VALUES (?, ?)';
  const SELECT_ENTRY = 'SELECT delivered_at, read_at FROM inbox WHERE uid = ? AND bucket = ? AND message_id = ?';
  const UPDATE_ENTRY = 'UPDATE inbox SET delivered_at = ?, read_at = ? WHERE uid = ? AND bucket = ? AND message_id = ?';
  const SELECT_BUCKETS = 'SELECT bucket FROM inbox_buckets WHERE uid = ? AND bucket <= ? AND bucket >= ?';
  const SELECT_ALL_BUCKETS = 'SELECT bucket FROM inbox_buckets WHERE uid = ?';
  const COUNT_BUCKET = 'SELECT count(*) AS total, count(read_at) AS read_count FROM inbox WHERE uid = ? AND bucket = ?';

  /** The scan of one bucket: keyset bounds as given, LIMIT unless unread entries are filtered out. */
  const bucketScan = (uid: string, bucket: number, query: InboxQuery, remaining: number) => {
    const conditions = ['uid = ?', 'bucket = ?'];
    const params: unknown[] = [uid, bucket];
    if (query.before !== undefined) {
      conditions.push('message_id < ?');
      params.push(query.before);
    }
    if (query.since !== undefined) {
      conditions.push('message_id > ?');
      params.push(query.since);
    }
    let cql = `SELECT message_id, delivered_at, read_at FROM inbox WHERE ${conditions.join(' AND ')}`;
    if (query.unreadOnly === true) return { cql, params, fetchSize: UNREAD_FETCH_SIZE };
    cql += ' LIMIT ?';
    params.push(remaining);
    return { cql, params, fetchSize: remaining };
  };

  const toItems = async (uid: string, entries: Entry[]): Promise<InboxItem[]> => {
    const stored = await mapLimit(entries, DEFAULT_CONCURRENCY, (entry) => messages.get(entry.messageId));
    const items: InboxItem[] = [];
    for (const [index, entry] of entries.entries()) {
      const message = stored[index]?.message;
      if (message) items.push({ message, uid, deliveredAt: entry.deliveredAt, readAt: entry.readAt });
    }
    return items;
  };

  return {
    add: async (uids: string[], message: Message) => {
      if (uids.length === 0) return;
      if (messages.isStored?.(message.id) !== true) await session.execute(ENSURE_MESSAGE, [message.id, JSON.stringify(message)]);
      const bucket = inboxBucket(message.id);
      const statements = [...new Set(uids)].flatMap((uid) => [
        { query: INSERT_ENTRY, params: [uid, bucket, message.id] },
        { query: INSERT_BUCKET, params: [uid, bucket] },
      ]);
      await session.concurrently(statements, ADD_CONCURRENCY);
    },

    list: async (uid, query) => {
      if (query.limit <= 0) return [];
      const high = query.before !== undefined ? inboxBucket(query.before) : MAX_BUCKET;
      const low = query.since !== undefined ? inboxBucket(query.since) : MIN_BUCKET;
      const entries: Entry[] = [];
      buckets: for await (const bucketRow of session.rows(SELECT_BUCKETS, [uid, high, low], 100)) {
        const scan = bucketScan(uid, Number(bucketRow.get('bucket')), query, query.limit - entries.length);
        for await (const row of session.rows(scan.cql, scan.params, scan.fetchSize)) {
          const readAt = long(row.get('read_at'));
          if (query.unreadOnly === true && readAt !== null) continue;
          entries.push({ messageId: row.get('message_id') as string, deliveredAt: long(row.get('delivered_at')), readAt });
          if (entries.length >= query.limit) break buckets;
        }
      }
      return toItems(uid, entries);
    },

    get: async (uid, messageId) => {
      const row = (await session.execute(SELECT_ENTRY, [uid, inboxBucket(messageId), messageId])).first();
      if (!row) return undefined;
      const [item] = await toItems(uid, [{ messageId, deliveredAt: long(row.get('delivered_at')), readAt: long(row.get('read_at')) }]);
      return item;
    },

    mark: async (uid, messageIds, state, at) => {
      const found = await mapLimit([...new Set(messageIds)], DEFAULT_CONCURRENCY, async (id) => {
        const bucket = inboxBucket(id);
        const row = (await session.execute(SELECT_ENTRY, [uid, bucket, id])).first();
        if (!row) return undefined;
        // undefined is sent as `unset`: a time already set is never written again.
        const deliveredAt = long(row.get('delivered_at')) === null ? at : undefined;
        const readAt = state === 'read' && long(row.get('read_at')) === null ? at : undefined;
        if (deliveredAt !== undefined || readAt !== undefined) await session.execute(UPDATE_ENTRY, [deliveredAt, readAt, uid, bucket, id]);
        return id;
      });
      return found.filter((id): id is string => id !== undefined);
    },

    countUnread: async (uid) => {
      const buckets: number[] = [];
      for await (const row of session.rows(SELECT_ALL_BUCKETS, [uid], 100)) buckets.push(Number(row.get('bucket')));
      const counts = await mapLimit(buckets, DEFAULT_CONCURRENCY, async (bucket) => {
        const row = (await session.execute(COUNT_BUCKET, [uid, bucket])).first();
        return (long(row?.get('total')) ?? 0) - (long(row?.get('read_count')) ?? 0);
      });
      return counts.reduce((sum, n) => sum + n, 0);
    },
  };
}
