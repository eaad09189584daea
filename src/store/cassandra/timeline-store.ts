/**
 * Cassandra TimelineStore (tables of migration 6: timeline_entries, timeline_buckets,
 * timeline_topics, thread_members, thread_periods; schema.ts). Guarantees, beyond the
 * TimelineStore port contract — the same as the SQLite adapter's:
 *  - `post` is one entry however many users see the message: `INSERT … IF NOT EXISTS` (one Paxos
 *    round per post, not per user), so a repeated post keeps the first post time. It stores the
 *    message body too, as the inbox does, unless this process's MessageStore knows it is stored.
 *    Then, idempotently, the bucket row (timeline_buckets) and, for a topic message, the topic row;
 *    a repeated post redoes these with the first post time, so a post interrupted half-way is
 *    completed by its redelivery.
 *  - Topic collapse reads the newest TOPIC_SCAN entries of the topic (timeline_topics, with their
 *    post times). The newest of them marks the others replaced (replaced_by = its id, replaced_at
 *    = the earliest post time of the newer ones, when the entry first stopped being the newest);
 *    a message posted after a newer one of its topic is written replaced by that newest one.
 *    Every value is computed from the topic rows read, so repeating a post writes the same.
 *    After a recall, `restoreTopic` drops the recalled rows from timeline_topics and collapses
 *    the rows left the same way around the newest, again while a newer post came meanwhile
 *    (topic-restore.ts), and holds the users' unread floors of the timeline (timeline_restores).
 *  - Membership: thread_members is the authority, changed only by conditional writes (join
 *    `IF NOT EXISTS`, leave `IF joined_at = <read>`), so of concurrent joins one wins. The user's
 *    copy, thread_periods, follows: join opens the period after winning, leave closes it before
 *    removing the member. A join interrupted in between is repaired by the next join of that
 *    uid (which answers false): it writes the period's key without touching left_at, so it can
 *    never reopen a period a leave closed. A leave keeps the first left_at when repeated.
 *  - `members` pages thread_members by uid; `threadsOf` reads the user's periods by thread and
 *    keeps the open ones, so its cost is that user's membership history (a row per period).
 */
import type { Message } from '../../exchange/types.js';
import { type MessageStore, type ThreadMembership, type TimelineId, type TimelineStore, threadTimeline } from '../port.js';
import { RESTORE_HOLD_MS } from '../unread-floors.js';
import { type CqlSession, long, text } from './client.js';
import { inboxBucket, postedBucket } from './schema.js';
import { restoreTopic as restoreTopicRounds } from './topic-restore.js';

/** The newest entries of a topic a post reads: older ones were replaced by an earlier post already. */
const TOPIC_SCAN = 20;

interface TopicRow {
  id: string;
  postedAt: number;
}

/**
 * The replacement writes of a topic after `id` was posted, from the topic's newest rows (newest
 * first, `id` among them), and the id `id` replaces (undefined when a newer one replaces it).
 */
export function collapse(rows: readonly TopicRow[], id: string): { replaces: string | undefined; replaced: Array<{ id: string; by: string; at: number }> } {
  const newest = rows[0];
  if (newest === undefined) return { replaces: undefined, replaced: [] };
  // The earliest post time of the rows newer than each row: when that row stopped being the newest.
  const replaced: Array<{ id: string; by: string; at: number }> = [];
  let earliest = newest.postedAt;
  for (const row of rows.slice(1)) {
    if (newest.id > id ? row.id === id : row.id < id) replaced.push({ id: row.id, by: newest.id, at: earliest });
    earliest = Math.min(earliest, row.postedAt);
  }
  if (newest.id > id) {
    // Posted late, and older than every row read: still replaced by the newest.
    if (!rows.some((row) => row.id === id)) replaced.push({ id, by: newest.id, at: earliest });
    return { replaces: undefined, replaced };
  }
  return { replaces: rows.find((row) => row.id < id)?.id, replaced };
}

export function createCassandraTimelineStore(session: CqlSession, messages: Pick<MessageStore, 'get'> & { isStored?(id: string): boolean }): TimelineStore {
  const ENSURE_MESSAGE = 'INSERT INTO messages (id, body) VALUES (?, ?)';
  const INSERT_ENTRY = 'INSERT INTO timeline_entries (timeline, bucket, message_id, posted_at, topic) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS';
  const SELECT_ENTRY = 'SELECT posted_at FROM timeline_entries WHERE timeline = ? AND bucket = ? AND message_id = ?';
  const INSERT_BUCKET = 'INSERT INTO timeline_buckets (timeline, bucket, posted_bucket) VALUES (?, ?, ?)';
  const INSERT_TOPIC = 'INSERT INTO timeline_topics (timeline, topic, message_id, posted_at) VALUES (?, ?, ?, ?)';
  const SELECT_TOPIC = 'SELECT message_id, posted_at FROM timeline_topics WHERE timeline = ? AND topic = ? LIMIT ?';
  const SET_REPLACED = 'UPDATE timeline_entries SET replaced_by = ?, replaced_at = ? WHERE timeline = ? AND bucket = ? AND message_id = ?';
  const DELETE_TOPIC = 'DELETE FROM timeline_topics WHERE timeline = ? AND topic = ? AND message_id = ?';
  const HOLD_FLOORS = 'UPDATE timeline_restores SET restored_until = ? WHERE timeline = ?';

  const JOIN = 'INSERT INTO thread_members (thread, uid, joined_at) VALUES (?, ?, ?) IF NOT EXISTS';
  const OPEN_PERIOD = 'INSERT INTO thread_periods (uid, thread, joined_at, left_at) VALUES (?, ?, ?, null)';
  const REPAIR_PERIOD = 'INSERT INTO thread_periods (uid, thread, joined_at) VALUES (?, ?, ?)';
  const SELECT_MEMBER = 'SELECT joined_at FROM thread_members WHERE thread = ? AND uid = ?';
  const SELECT_PERIOD = 'SELECT left_at FROM thread_periods WHERE uid = ? AND thread = ? AND joined_at = ?';
  const CLOSE_PERIOD = 'UPDATE thread_periods SET left_at = ? WHERE uid = ? AND thread = ? AND joined_at = ?';
  const LEAVE = 'DELETE FROM thread_members WHERE thread = ? AND uid = ? IF joined_at = ?';
  const SELECT_MEMBERS = 'SELECT uid, joined_at FROM thread_members WHERE thread = ? LIMIT ?';
  const SELECT_MEMBERS_AFTER = 'SELECT uid, joined_at FROM thread_members WHERE thread = ? AND uid > ? LIMIT ?';
  const SELECT_PERIODS = 'SELECT thread, joined_at, left_at FROM thread_periods WHERE uid = ?';
  const SELECT_PERIODS_AFTER = 'SELECT thread, joined_at, left_at FROM thread_periods WHERE uid = ? AND thread > ?';

  /** The newest TOPIC_SCAN rows of the topic, newest first; a row without a post time takes `fallback`. */
  const topicRows = async (timeline: TimelineId, topic: string, fallback: number): Promise<TopicRow[]> =>
    (await session.execute(SELECT_TOPIC, [timeline, topic, TOPIC_SCAN], { fetchSize: TOPIC_SCAN })).rows.map((row) => ({
      id: text(row.get('message_id')) as string,
      postedAt: long(row.get('posted_at')) ?? fallback,
    }));

  /** Topic collapse of `message` in `timeline`, posted (first) at `postedAt`; returns the id it replaces. */
  const collapseTopic = async (timeline: TimelineId, message: Message, topic: string, postedAt: number): Promise<string | undefined> => {
    await session.execute(INSERT_TOPIC, [timeline, topic, message.id, postedAt]);
    const rows = await topicRows(timeline, topic, postedAt);
    const { replaces, replaced } = collapse(rows, message.id);
    await session.concurrently(replaced.map((entry) => ({ query: SET_REPLACED, params: [entry.by, entry.at, timeline, inboxBucket(entry.id), entry.id] })));
    return replaces;
  };

  /** Holds the unread floors of `timeline` (timeline_restores): an older entry may be listed again. */
  const holdFloors = (timeline: TimelineId) => session.execute(HOLD_FLOORS, [Date.now() + RESTORE_HOLD_MS, timeline]);

  /** TimelineStore.restoreTopic (topic-restore.ts), collapsing the rows left as a post does. */
  const restoreTopic = async (timeline: TimelineId, topic: string): Promise<void> => {
    // An older entry may be listed again: the users' unread floors of the timeline wait, from
    // before the first change until a while after the last (src/store/unread-floors.ts).
    const hold = () => holdFloors(timeline);
    await hold();
    await restoreTopicRounds({
      session,
      messages,
      read: () => topicRows(timeline, topic, Date.now()),
      forget: ({ id }) => ({ query: DELETE_TOPIC, params: [timeline, topic, id] }),
      collapse: (kept) => {
        const newest = kept[0] as TopicRow;
        return [
          { query: SET_REPLACED, params: [null, null, timeline, inboxBucket(newest.id), newest.id] },
          ...collapse(kept, newest.id).replaced.map((entry) => ({
            query: SET_REPLACED,
            params: [entry.by, entry.at, timeline, inboxBucket(entry.id), entry.id],
          })),
        ];
      },
    });
    await hold();
  };

  return {
    restoreTopic,
    post: async (timeline, message, at) => {
      if (messages.isStored?.(message.id) !== true) await session.execute(ENSURE_MESSAGE, [message.id, JSON.stringify(message)]);
      const bucket = inboxBucket(message.id);
      // The bucket row first: an entry is listed as soon as it exists (an unread floor counts on
      // it), also when a crash comes between the two and the entry is written on a retry.
      await session.execute(INSERT_BUCKET, [timeline, bucket, postedBucket(at)]);
      const inserted = await session.execute(INSERT_ENTRY, [timeline, bucket, message.id, at, message.topic ?? null]);
      const postedAt = inserted.wasApplied() ? at : (long(inserted.first()?.get('posted_at')) ?? at);
      if (postedBucket(postedAt) !== postedBucket(at)) await session.execute(INSERT_BUCKET, [timeline, bucket, postedBucket(postedAt)]);
      const replaces = message.topic === undefined ? undefined : await collapseTopic(timeline, message, message.topic, postedAt);
      return replaces === undefined ? { postedAt } : { postedAt, replaces };
    },

    posted: async (timeline, messageId) => (await session.execute(SELECT_ENTRY, [timeline, inboxBucket(messageId), messageId])).first() !== null,

    join: async (thread, uid, at) => {
      const joined = await session.execute(JOIN, [thread, uid, at]);
      if (joined.wasApplied()) {
        await session.execute(OPEN_PERIOD, [uid, thread, at]);
        return true;
      }
      const joinedAt = long(joined.first()?.get('joined_at'));
      if (joinedAt !== null) await session.execute(REPAIR_PERIOD, [uid, thread, joinedAt]);
      return false;
    },

    leave: async (thread, uid, at) => {
      const member = (await session.execute(SELECT_MEMBER, [thread, uid], { consistency: session.serialConsistency })).first();
      const joinedAt = member ? long(member.get('joined_at')) : null;
      if (joinedAt === null) return false;
      const period = (await session.execute(SELECT_PERIOD, [uid, thread, joinedAt])).first();
      if (!period || long(period.get('left_at')) === null) {
        // Closing the period may list again an older entry that a newer one posted since `at`
        // hid: the thread's unread floors wait (src/store/unread-floors.ts).
        await holdFloors(threadTimeline(thread));
        await session.execute(CLOSE_PERIOD, [Math.max(at, joinedAt), uid, thread, joinedAt]);
        await holdFloors(threadTimeline(thread));
      }
      return (await session.execute(LEAVE, [thread, uid, joinedAt])).wasApplied();
    },

    threadsOf: async (uid, limit, after) => {
      const found: ThreadMembership[] = [];
      if (limit <= 0) return found;
      const [query, params] = after === undefined ? [SELECT_PERIODS, [uid]] : [SELECT_PERIODS_AFTER, [uid, after]];
      for await (const row of session.rows(query, params)) {
        const thread = text(row.get('thread')) as string;
        if (long(row.get('left_at')) !== null || found.at(-1)?.thread === thread) continue;
        found.push({ thread, uid, joinedAt: long(row.get('joined_at')) ?? 0 });
        if (found.length >= limit) break;
      }
      return found;
    },

    members: async (thread, limit, after) => {
      if (limit <= 0) return [];
      const [query, params] = after === undefined ? [SELECT_MEMBERS, [thread, limit]] : [SELECT_MEMBERS_AFTER, [thread, after, limit]];
      const result = await session.execute(query, params, { fetchSize: limit });
      return result.rows.map((row) => ({ thread, uid: text(row.get('uid')) as string, joinedAt: long(row.get('joined_at')) ?? 0 }));
    },
  };
}
