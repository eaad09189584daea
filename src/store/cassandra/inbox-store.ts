/**
 * Cassandra InboxStore (tables: inbox, inbox_buckets, inbox_topics; timeline_state and the
 * timelines of migration 6; schema.ts). Guarantees, beyond the InboxStore port contract — the
 * same as the SQLite adapter's:
 *  - An entry is one (uid, message id) row in the user's 30-day bucket; the message itself is
 *    read from `messages` (stored once however many inboxes hold it). `add` writes the message
 *    body there too, without a status, in case the MessageStore does not have it (it then reads
 *    as 'triaged', so recovery ignores it) — unless the MessageStore of this process knows it
 *    is stored (it inserted or read it: triage always has), which spares the rewrite.
 *  - `add` writes two rows per recipient (the entry and its bucket) in one unlogged batch, with
 *    other plain writes of the turn (`CqlSession.write`: a few recipients a request), at most
 *    ADD_CONCURRENCY recipients in flight; it is not atomic, but every write
 *    is idempotent, so a redelivered `add` completes it. Re-adding an entry writes only its key,
 *    so its delivered / read times stay.
 *  - The inbox is the merge of the user's own entries and the timeline messages the user sees
 *    (timeline-view.ts: the everyone-timeline from users.created_at, each thread period), newest
 *    first by message id, paged by keyset (`before` / `since` exclusive). Each source is a scan
 *    newest first — own entries: the user's buckets newest first, a range scan on message_id in
 *    each; a timeline: its buckets posted in the user's periods, the same range scan, and the
 *    user's state of a page of candidates in one read — merged lazily (inbox-merge.ts), so a
 *    page costs about the rows it passes over. Hidden entries (archived, replaced, and read ones
 *    for `unreadOnly`) are skipped while paging, so they cost the rows passed over too. Every
 *    listed entry's message is read (its status says whether it was recalled). A list also
 *    reads the user's row and thread periods, and each seen timeline's bucket list.
 *  - `get` reads the own entry; without one, the timeline entry of that id in each timeline the
 *    user sees (one `timeline IN ?` read) and the user's state of it.
 *  - `mark` keeps the first delivered / read / archived time: it reads each entry (own, else the
 *    timeline entry and its timeline_state row, written only now), then sets only the times
 *    still unset (a read sets the delivered time too when unset). Two marks of one entry racing
 *    each other may both set a time; the later write wins. Returned ids keep the request's
 *    order, without duplicates.
 *  - Topic collapse of own entries: `add` of a topic message writes its entry into inbox_topics
 *    ((uid, topic)) and reads that partition's newest id: when it is newer, the new entry is
 *    written replaced by it; otherwise the older entries of the topic (at most TOPIC_SCAN,
 *    newest first) get `replaced_by` = the new id. Two more requests per recipient, only for
 *    topic messages. (Timelines collapse their topics once, in timeline-store.ts.) After a
 *    recall, `restoreTopic` drops the recalled ids of the scan from inbox_topics and collapses
 *    the rest around the newest left, again while a newer entry came meanwhile (topic-restore.ts).
 *  - `countUnread` has no counter to read (a counter table could not be kept exact beside
 *    idempotent, re-applied writes): it scans the user's buckets and every timeline entry the
 *    user sees (with the user's state of them, a page at a time), counts the unread listed ones,
 *    and leaves out those whose message is in messages_recalled (read once per count). The cost
 *    is the rows `list` with `unreadOnly` would page through: that user's inbox, and the
 *    timelines' entries posted while the user saw them — never other users' rows. Both start
 *    each timeline at the user's unread floor (timeline_floors; src/store/unread-floors.ts),
 *    which `countUnread` raises (a plain write, at most about once a minute of posts), so the
 *    timelines cost the entries since the user's oldest unread one, not every broadcast since
 *    the user's creation.
 */
import type { InboxItem, Message } from '../../exchange/types.js';
import type { InboxQuery, InboxStore, MessageStore } from '../port.js';
import { raisedFloor } from '../unread-floors.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit } from './client.js';
import { type InboxEntry, keyset, mergeNewestFirst } from './inbox-merge.js';
import { bucketStart, inboxBucket, RECALLED_SHARD } from './schema.js';
import { createTimelineView } from './timeline-view.js';
import { restoreTopic as restoreTopicRounds } from './topic-restore.js';

/** The older entries of a topic a new one marks replaced (newest first): a topic's earlier ones already are. */
const TOPIC_SCAN = 20;
/** Recipients whose rows `add` writes at once. */
export const ADD_CONCURRENCY = 64;
/** Rows per page while `unreadOnly` skips read entries. */
const UNREAD_FETCH_SIZE = 200;
type MarkState = Parameters<InboxStore['mark']>[2];

/** A row of inbox as every scan reads it. */
const entryOf = (row: { get(name: string): unknown }): InboxEntry & { replacedBy: string | null } => ({
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
  const DELETE_TOPIC = 'DELETE FROM inbox_topics WHERE uid = ? AND topic = ? AND message_id = ?';
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
  const UPDATE_SEEN_ARCHIVED = 'UPDATE timeline_state SET archived_at = ? WHERE uid = ? AND message_id = ?';
  const UPDATE_SEEN = 'UPDATE timeline_state SET delivered_at = ?, read_at = ? WHERE uid = ? AND message_id = ?';
  const view = createTimelineView(session);

  /** The user's own listed entries (unread ones for unreadOnly), newest first, inside the query's keyset. */
  async function* ownEntries(uid: string, query: InboxQuery, fetchSize: number): AsyncGenerator<InboxEntry> {
    const range = keyset(query);
    const cql = `SELECT ${COLUMNS} FROM inbox WHERE ${['uid = ?', 'bucket = ?', ...range.conditions].join(' AND ')}`;
    for await (const bucketRow of session.rows(SELECT_BUCKETS, [uid, range.high, range.low], 100)) {
      for await (const row of session.rows(cql, [uid, Number(bucketRow.get('bucket')), ...range.params], fetchSize)) {
        const entry = entryOf(row);
        if (entry.archivedAt !== null || entry.replacedBy !== null) continue;
        if (query.unreadOnly === true && entry.readAt !== null) continue;
        yield entry;
      }
    }
  }

  /** The sources of the user's inbox, each newest first: own entries, then each timeline the user sees. */
  const sourcesOf = async (uid: string, query: InboxQuery, fetchSize: number): Promise<Array<AsyncGenerator<InboxEntry>>> => {
    const range = keyset(query);
    // Nothing before a timeline's unread floor is unread (src/store/unread-floors.ts).
    const windows = query.unreadOnly === true ? (await view.unreadWindowsOf(uid)).windows : await view.windowsOf(uid);
    const timelines = await Promise.all(
      [...windows].map(async ([timeline, periods]) =>
        view.scan(uid, timeline, periods, await view.bucketsOf(timeline, periods, range.high, range.low), query, fetchSize),
      ),
    );
    return [ownEntries(uid, query, fetchSize), ...timelines];
  };

  /** Marks `uid`'s own entry; false when the user has no such entry. */
  const markOwn = async (uid: string, id: string, state: MarkState, at: number): Promise<boolean> => {
    const bucket = inboxBucket(id);
    const row = (await session.execute(SELECT_ENTRY, [uid, bucket, id])).first();
    if (!row) return false;
    const entry = entryOf(row);
    if (state === 'archived') {
      if (entry.archivedAt === null) await session.execute(UPDATE_ARCHIVED, [at, uid, bucket, id]);
      return true;
    }
    // undefined is sent as `unset`: a time already set is never written again.
    const deliveredAt = entry.deliveredAt === null ? at : undefined;
    const readAt = state === 'read' && entry.readAt === null ? at : undefined;
    if (deliveredAt !== undefined || readAt !== undefined) await session.execute(UPDATE_ENTRY, [deliveredAt, readAt, uid, bucket, id]);
    return true;
  };

  /** Marks the timeline messages among `ids` that `uid` sees (timeline_state); returns their ids. */
  const markSeen = async (uid: string, ids: string[], state: MarkState, at: number): Promise<Set<string>> => {
    const seen = await view.seen(await view.windowsOf(uid), ids);
    const states = await view.statesOf(uid, [...seen]);
    await mapLimit([...seen], DEFAULT_CONCURRENCY, async (id) => {
      const entry = states.get(id) ?? { deliveredAt: null, readAt: null, archivedAt: null };
      if (state === 'archived') {
        if (entry.archivedAt === null) await session.execute(UPDATE_SEEN_ARCHIVED, [at, uid, id]);
        return;
      }
      const deliveredAt = entry.deliveredAt === null ? at : undefined;
      const readAt = state === 'read' && entry.readAt === null ? at : undefined;
      if (deliveredAt !== undefined || readAt !== undefined) await session.execute(UPDATE_SEEN, [deliveredAt, readAt, uid, id]);
    });
    return seen;
  };

  /** The entries' items, without those whose message was recalled (or has no body). */
  const toItems = async (uid: string, entries: InboxEntry[]): Promise<InboxItem[]> => {
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
      await session.batch(
        [
          { query: INSERT_TOPIC_ENTRY, params: [uid, bucket, message.id, topic] },
          { query: SET_REPLACED, params: [newest, uid, bucket, message.id] },
          { query: INSERT_BUCKET, params: [uid, bucket] },
        ],
        false,
      );
      return undefined;
    }
    const older = ids.filter((id) => id < message.id);
    await session.batch(
      [
        { query: INSERT_TOPIC_ENTRY, params: [uid, bucket, message.id, topic] },
        { query: INSERT_BUCKET, params: [uid, bucket] },
        ...older.map((id) => ({ query: SET_REPLACED, params: [message.id, uid, inboxBucket(id), id] })),
      ],
      false,
    );
    return older[0];
  };

  /** InboxStore.restoreTopic (topic-restore.ts): the newest entry of the topic not recalled is listed, the older ones of the scan replaced by it. */
  const restoreTopic = (uid: string, topic: string): Promise<void> =>
    restoreTopicRounds({
      session,
      messages,
      read: async () =>
        (await session.execute(SELECT_TOPIC, [uid, topic, TOPIC_SCAN], { fetchSize: TOPIC_SCAN })).rows.map((row) => ({ id: row.get('message_id') as string })),
      forget: ({ id }) => ({ query: DELETE_TOPIC, params: [uid, topic, id] }),
      collapse: (kept) => kept.map(({ id }, i) => ({ query: SET_REPLACED, params: [i === 0 ? null : kept[0]?.id, uid, inboxBucket(id), id] })),
    });

  return {
    restoreTopic,
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
      await mapLimit(unique, ADD_CONCURRENCY, (uid) =>
        session.write([
          { query: INSERT_ENTRY, params: [uid, bucket, message.id] },
          { query: INSERT_BUCKET, params: [uid, bucket] },
        ]),
      );
      return replaced;
    },

    list: async (uid, query) => {
      if (query.limit <= 0) return [];
      const fetchSize = query.unreadOnly === true ? UNREAD_FETCH_SIZE : Math.min(UNREAD_FETCH_SIZE, query.limit + 10);
      const items: InboxItem[] = [];
      let pending: InboxEntry[] = [];
      // Entries are resolved to items a page at a time; a recalled message drops out there, so
      // the merge goes on until the page is full.
      for await (const entry of mergeNewestFirst(await sourcesOf(uid, query, fetchSize))) {
        pending.push(entry);
        if (items.length + pending.length >= query.limit) {
          items.push(...(await toItems(uid, pending)));
          pending = [];
          if (items.length >= query.limit) break;
        }
      }
      items.push(...(await toItems(uid, pending)));
      return items.slice(0, query.limit);
    },

    get: async (uid, messageId) => {
      const row = (await session.execute(SELECT_ENTRY, [uid, inboxBucket(messageId), messageId])).first();
      if (row) return (await toItems(uid, [entryOf(row)]))[0];
      if (!(await view.seen(await view.windowsOf(uid), [messageId])).has(messageId)) return undefined;
      const state = (await view.statesOf(uid, [messageId])).get(messageId);
      return (await toItems(uid, [{ messageId, deliveredAt: null, readAt: null, archivedAt: null, ...state }]))[0];
    },

    mark: async (uid, messageIds, state, at) => {
      const ids = [...new Set(messageIds)];
      const own = await mapLimit(ids, DEFAULT_CONCURRENCY, (id) => markOwn(uid, id, state, at));
      const others = ids.filter((_, index) => !own[index]);
      const seen = others.length === 0 ? new Set<string>() : await markSeen(uid, others, state, at);
      return ids.filter((id, index) => own[index] || seen.has(id));
    },

    countUnread: async (uid) => {
      const setAt = Date.now();
      const everything = keyset({});
      const ownBuckets: number[] = [];
      const [{ windows, floors }] = await Promise.all([
        view.unreadWindowsOf(uid),
        (async () => {
          for await (const row of session.rows(SELECT_ALL_BUCKETS, [uid], 100)) ownBuckets.push(Number(row.get('bucket')));
        })(),
      ]);
      const timelines = await Promise.all(
        [...windows].map(async ([timeline, periods]) => ({
          timeline,
          periods,
          buckets: await view.bucketsOf(timeline, periods, everything.high, everything.low),
        })),
      );
      const buckets = [...ownBuckets, ...timelines.flatMap((source) => source.buckets)];
      if (buckets.length === 0) return 0;
      // Recalled ids from the start of the oldest bucket counted on (ids sort as their bucket does).
      const recalled = new Set<string>();
      for await (const row of session.rows(SELECT_RECALLED, [RECALLED_SHARD, bucketStart(Math.min(...buckets))], 500)) recalled.add(row.get('id') as string);
      const ownCounts = mapLimit(ownBuckets, DEFAULT_CONCURRENCY, async (bucket) => {
        let count = 0;
        for await (const row of session.rows(SCAN_BUCKET, [uid, bucket], UNREAD_FETCH_SIZE)) {
          const entry = entryOf(row);
          if (entry.readAt === null && entry.archivedAt === null && entry.replacedBy === null && !recalled.has(entry.messageId)) count += 1;
        }
        return count;
      });
      const timelineCounts = mapLimit(timelines, DEFAULT_CONCURRENCY, async ({ timeline, periods, buckets }) => {
        let count = 0;
        let newestAt: number | undefined;
        let firstUnreadAt: number | undefined;
        const passed = (postedAt: number) => {
          newestAt = Math.max(newestAt ?? postedAt, postedAt);
        };
        for await (const entry of view.scan(uid, timeline, periods, buckets, { unreadOnly: true }, UNREAD_FETCH_SIZE, passed)) {
          if (recalled.has(entry.messageId)) continue;
          count += 1;
          firstUnreadAt = Math.min(firstUnreadAt ?? entry.postedAt, entry.postedAt);
        }
        return { timeline, count, floorAt: raisedFloor(floors.get(timeline), firstUnreadAt, newestAt, setAt) };
      });
      const counted = await timelineCounts;
      const raised = counted.flatMap(({ timeline, floorAt }) => (floorAt === undefined ? [] : [{ timeline, floorAt }]));
      await view.raiseFloors(uid, raised, setAt);
      return [...(await ownCounts), ...counted.map((c) => c.count)].reduce((sum, n) => sum + n, 0);
    },
  };
}
