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
 *  - Listed: not archived, not replaced (topic collapse), and the message not recalled. `list`
 *    filters while paging (so it costs the hidden entries it passes over) and reads each listed
 *    entry's message, whose status says whether it was recalled.
 *  - Topic collapse: `add` of a topic message writes its entry into inbox_topics ((uid, topic))
 *    and reads that partition's newest id: when it is newer, the new entry is written replaced by
 *    it; otherwise the older entries of the topic (at most TOPIC_SCAN, newest first) get
 *    `replaced_by` = the new id. Two more requests per recipient, only for topic messages.
 *  - `countUnread` has no counter to read (a counter table could not be kept exact beside
 *    idempotent, re-applied writes): it pages through the user's buckets reading the entries'
 *    state columns, counts the unread listed ones, and leaves out those whose message is in
 *    messages_recalled (read once per count). The cost is a read of that user's whole inbox,
 *    bounded by its size (never anyone else's) — the same rows `list` with `unreadOnly` scans.
 */
import type { InboxItem, Message } from '../../exchange/types.js';
import type { InboxQuery, InboxStore, MessageStore } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit } from './client.js';
import { bucketStart, inboxBucket, RECALLED_SHARD } from './schema.js';

/** The older entries of a topic a new one marks replaced (newest first): a topic's earlier ones already are. */
const TOPIC_SCAN = 20;
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
  archivedAt: number | null;
}

/** A row of inbox as every scan reads it. */
const entryOf = (row: { get(name: string): unknown }): Entry & { replacedBy: string | null } => ({
  messageId: row.get('message_id') as string,
  deliveredAt: long(row.get('delivered_at')),
  readAt: long(row.get('read_at')),
  archivedAt: long(row.get('archived_at')),
  replacedBy: (row.get('replaced_by') as string | null) ?? null,
});

export function createCassandraInboxStore(session: CqlSession, messages: Pick<MessageStore, 'get'> & { isStored?(id: string): boolean }): InboxStore {
  const ENSURE_MESSAGE = 'INSERT INTO messages (id, body) VALUES (?, ?)';
  const INSERT_ENTRY = 'INSERT INTO inbox (uid, bucket, message_id) VALUES (?, ?, ?)';
  const INSERT_TOPIC_ENTRY = 'INSERT INTO inbox (uid, bucket, message_id, topic) VALUES (?, ?, ?, ?)';
  const INSERT_TOPIC = 'INSERT INTO inbox_topics (uid, topic, message_id) VALUES (?, ?, ?)';
  const SELECT_TOPIC = 'SELECT message_id FROM inbox_topics WHERE uid = ? AND topic = ? LIMIT ?';
  const SET_REPLACED = 'UPDATE inbox SET replaced_by = ? WHERE uid = ? AND bucket = ? AND message_id = ?';
  const UPDATE_ARCHIVED = 'UPDATE inbox SET archived_at = ? WHERE uid = ? AND bucket = ? AND message_id = ?';
  const SELECT_RECALLED = 'SELECT id FROM messages_recalled WHERE shard = ? AND id >= ?';
  const COLUMNS = 'message_id, delivered_at, read_at, archived_at, replaced_by';
  const INSERT_BUCKET = 'INSERT INTO inbox_buckets (uid, bucket) VALUES (?, ?)';
  const SELECT_ENTRY = `SELECT ${COLUMNS} FROM inbox WHERE uid = ? AND bucket = ? AND message_id = ?`;
  const UPDATE_ENTRY = 'UPDATE inbox SET delivered_at = ?, read_at = ? WHERE uid = ? AND bucket = ? AND message_id = ?';
  const SELECT_BUCKETS = 'SELECT bucket FROM inbox_buckets WHERE uid = ? AND bucket <= ? AND bucket >= ?';
  const SELECT_ALL_BUCKETS = 'SELECT bucket FROM inbox_buckets WHERE uid = ?';
  const SCAN_BUCKET = `SELECT ${COLUMNS} FROM inbox WHERE uid = ? AND bucket = ?`;

  /** The scan of one bucket, with the keyset bounds given; hidden and read entries are filtered while paging. */
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
    const cql = `SELECT ${COLUMNS} FROM inbox WHERE ${conditions.join(' AND ')}`;
    return { cql, params, fetchSize: query.unreadOnly === true ? UNREAD_FETCH_SIZE : Math.min(UNREAD_FETCH_SIZE, remaining + 10) };
  };

  /** The entries' items, without those whose message was recalled (or has no body). */
  const toItems = async (uid: string, entries: Entry[]): Promise<InboxItem[]> => {
    const stored = await mapLimit(entries, DEFAULT_CONCURRENCY, (entry) => messages.get(entry.messageId));
    const items: InboxItem[] = [];
    for (const [index, entry] of entries.entries()) {
      const found = stored[index];
      if (found && found.status !== 'recalled') {
        items.push({ message: found.message, uid, deliveredAt: entry.deliveredAt, readAt: entry.readAt, archivedAt: entry.archivedAt });
      }
    }
    return items;
  };

  /** Adds `uid`'s entry of a topic message; returns the id it replaces there, if any. */
  const addWithTopic = async (uid: string, message: Message, topic: string): Promise<string | undefined> => {
    const bucket = inboxBucket(message.id);
    await session.execute(INSERT_TOPIC, [uid, topic, message.id]);
    const ids = (await session.execute(SELECT_TOPIC, [uid, topic, TOPIC_SCAN], { fetchSize: TOPIC_SCAN })).rows.map((row) => row.get('message_id') as string);
    const newest = ids[0];
    if (newest !== undefined && newest > message.id) {
      await session.concurrently([
        { query: INSERT_TOPIC_ENTRY, params: [uid, bucket, message.id, topic] },
        { query: SET_REPLACED, params: [newest, uid, bucket, message.id] },
        { query: INSERT_BUCKET, params: [uid, bucket] },
      ]);
      return undefined;
    }
    const older = ids.filter((id) => id < message.id);
    await session.concurrently(
      [
        { query: INSERT_TOPIC_ENTRY, params: [uid, bucket, message.id, topic] },
        { query: INSERT_BUCKET, params: [uid, bucket] },
        ...older.map((id) => ({ query: SET_REPLACED, params: [message.id, uid, inboxBucket(id), id] })),
      ],
      ADD_CONCURRENCY,
    );
    return older[0];
  };

  return {
    add: async (uids: string[], message: Message) => {
      const replaced = new Map<string, string>();
      if (uids.length === 0) return replaced;
      if (messages.isStored?.(message.id) !== true) await session.execute(ENSURE_MESSAGE, [message.id, JSON.stringify(message)]);
      const unique = [...new Set(uids)];
      const { topic } = message;
      if (topic !== undefined) {
        const older = await mapLimit(unique, DEFAULT_CONCURRENCY, (uid) => addWithTopic(uid, message, topic));
        for (const [index, id] of older.entries()) if (id !== undefined) replaced.set(unique[index] as string, id);
        return replaced;
      }
      const bucket = inboxBucket(message.id);
      const statements = unique.flatMap((uid) => [
        { query: INSERT_ENTRY, params: [uid, bucket, message.id] },
        { query: INSERT_BUCKET, params: [uid, bucket] },
      ]);
      await session.concurrently(statements, ADD_CONCURRENCY);
      return replaced;
    },

    list: async (uid, query) => {
      if (query.limit <= 0) return [];
      const high = query.before !== undefined ? inboxBucket(query.before) : MAX_BUCKET;
      const low = query.since !== undefined ? inboxBucket(query.since) : MIN_BUCKET;
      const items: InboxItem[] = [];
      let pending: Entry[] = [];
      // Entries are resolved to items a page at a time; a recalled message drops out there, so
      // the scan goes on until the page is full.
      const resolve = async () => {
        items.push(...(await toItems(uid, pending)));
        pending = [];
      };
      buckets: for await (const bucketRow of session.rows(SELECT_BUCKETS, [uid, high, low], 100)) {
        const scan = bucketScan(uid, Number(bucketRow.get('bucket')), query, query.limit - items.length);
        for await (const row of session.rows(scan.cql, scan.params, scan.fetchSize)) {
          const entry = entryOf(row);
          if (entry.archivedAt !== null || entry.replacedBy !== null) continue;
          if (query.unreadOnly === true && entry.readAt !== null) continue;
          pending.push(entry);
          if (items.length + pending.length >= query.limit) {
            await resolve();
            if (items.length >= query.limit) break buckets;
          }
        }
      }
      await resolve();
      return items.slice(0, query.limit);
    },

    get: async (uid, messageId) => {
      const row = (await session.execute(SELECT_ENTRY, [uid, inboxBucket(messageId), messageId])).first();
      if (!row) return undefined;
      const [item] = await toItems(uid, [entryOf(row)]);
      return item;
    },

    mark: async (uid, messageIds, state, at) => {
      const found = await mapLimit([...new Set(messageIds)], DEFAULT_CONCURRENCY, async (id) => {
        const bucket = inboxBucket(id);
        const row = (await session.execute(SELECT_ENTRY, [uid, bucket, id])).first();
        if (!row) return undefined;
        const entry = entryOf(row);
        if (state === 'archived') {
          if (entry.archivedAt === null) await session.execute(UPDATE_ARCHIVED, [at, uid, bucket, id]);
          return id;
        }
        // undefined is sent as `unset`: a time already set is never written again.
        const deliveredAt = entry.deliveredAt === null ? at : undefined;
        const readAt = state === 'read' && entry.readAt === null ? at : undefined;
        if (deliveredAt !== undefined || readAt !== undefined) await session.execute(UPDATE_ENTRY, [deliveredAt, readAt, uid, bucket, id]);
        return id;
      });
      return found.filter((id): id is string => id !== undefined);
    },

    countUnread: async (uid) => {
      const buckets: number[] = [];
      for await (const row of session.rows(SELECT_ALL_BUCKETS, [uid], 100)) buckets.push(Number(row.get('bucket')));
      if (buckets.length === 0) return 0;
      // Recalled ids from the start of the user's oldest bucket on (ids sort as their bucket does).
      const oldest = bucketStart(Math.min(...buckets));
      const recalled = new Set<string>();
      for await (const row of session.rows(SELECT_RECALLED, [RECALLED_SHARD, oldest], 500)) recalled.add(row.get('id') as string);
      const counts = await mapLimit(buckets, DEFAULT_CONCURRENCY, async (bucket) => {
        let count = 0;
        for await (const row of session.rows(SCAN_BUCKET, [uid, bucket], UNREAD_FETCH_SIZE)) {
          const entry = entryOf(row);
          if (entry.readAt === null && entry.archivedAt === null && entry.replacedBy === null && !recalled.has(entry.messageId)) count += 1;
        }
        return count;
      });
      return counts.reduce((sum, n) => sum + n, 0);
    },
  };
}
