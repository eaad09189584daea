/**
 * Cassandra ErasureStore (the right to erasure; tables: erased_users, receipt_messages_by_user
 * of migration 3, and every table holding a user's rows; schema.ts). Guarantees, beyond the
 * ErasureStore port contract:
 *  - The erasure is recorded in `erased_users` (and recipient_facts, recipient-store.ts) first, so triage skips the uid for messages
 *    addressed before it while the rows are being deleted (src/pipeline/erasure.ts).
 *  - Receipts are partitioned by message, so the user's receipts are found from the messages
 *    the user has receipts for: `receipt_messages_by_user` (uid → message_id, written by the
 *    ReceiptStore with every receipt since migration 3), joined with the message ids of the
 *    user's inbox entries (which covers receipts written before migration 3). No table is
 *    scanned: the cost is, per message id found, one read of the user's current receipts and
 *    of its legacy (migration 1) receipts, and range deletes on (message_id, uid) in the
 *    receipt tables, plus one delete per queued-index row; per inbox bucket one partition
 *    delete; per device two deletes. Bounded by what that user holds, at most
 *    DEFAULT_CONCURRENCY requests in flight.
 *  - Not atomic (Cassandra has no transaction across partitions), but every step is an
 *    idempotent delete and the index partition goes last: an erasure interrupted half-way
 *    (the API answered 503) finds everything again when it is repeated.
 *  - Timelines (migration 6): the user's thread memberships — each thread_members row of a
 *    thread named in the user's thread_periods, deleted with `IF EXISTS` (membership changes
 *    are conditional writes: timeline-store.ts) — then the user's thread_periods and
 *    timeline_state partitions. Timeline entries are the messages' and stay; with the user row
 *    gone the everyone-timeline is no longer seen, and a uid created again starts anew.
 *  - The user's reachable_users row (migration 8) goes before the user row; its
 *    recipient_facts row (migration 9) keeps only the erasure time.
 *  - Messages stay (the sender's records): `messages` is not touched.
 */
import type { ErasureStore } from '../port.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, long, mapLimit, type Statement, text } from './client.js';
import { recipientFacts } from './recipient-store.js';
import { reachableShard } from './schema.js';

export function createCassandraErasureStore(session: CqlSession): ErasureStore {
  const RECORD_ERASURE = 'INSERT INTO erased_users (uid, erased_at) VALUES (?, ?)';
  const SELECT_ERASED = 'SELECT uid, erased_at FROM erased_users WHERE uid IN ?';
  const SELECT_RECEIPT_MESSAGES = 'SELECT message_id FROM receipt_messages_by_user WHERE uid = ?';
  const SELECT_BUCKETS = 'SELECT bucket FROM inbox_buckets WHERE uid = ?';
  const SELECT_INBOX_IDS = 'SELECT message_id FROM inbox WHERE uid = ? AND bucket = ?';
  const SELECT_INBOX_TOPICS = 'SELECT topic FROM inbox WHERE uid = ? AND bucket = ?';
  const SELECT_RECEIPTS = 'SELECT channel, device, state FROM delivery_receipts WHERE message_id = ? AND uid = ?';
  const SELECT_LEGACY_RECEIPTS = 'SELECT channel, state FROM receipts WHERE message_id = ? AND uid = ?';
  const SELECT_DEVICES = 'SELECT kind, push_token FROM devices_by_user WHERE uid = ?';
  const SELECT_TOKEN_HOLDER = 'SELECT uid FROM devices_by_token WHERE kind = ? AND push_token = ?';
  const SELECT_THREADS = 'SELECT thread FROM thread_periods WHERE uid = ?';

  /** Every message id the user has receipts or inbox entries for, each once. */
  const messagesOf = async (uid: string): Promise<string[]> => {
    const ids = new Set<string>();
    for await (const row of session.rows(SELECT_RECEIPT_MESSAGES, [uid])) ids.add(text(row.get('message_id')) as string);
    const buckets: number[] = [];
    for await (const row of session.rows(SELECT_BUCKETS, [uid])) buckets.push(row.get('bucket') as number);
    for (const bucket of buckets) {
      for await (const row of session.rows(SELECT_INBOX_IDS, [uid, bucket])) ids.add(text(row.get('message_id')) as string);
    }
    return [...ids];
  };

  const eraseReceipts = async (uid: string, messageId: string): Promise<void> => {
    const [current, legacy] = await Promise.all([
      session.execute(SELECT_RECEIPTS, [messageId, uid]),
      session.execute(SELECT_LEGACY_RECEIPTS, [messageId, uid]),
    ]);
    const statements: Statement[] = [
      { query: 'DELETE FROM delivery_receipts WHERE message_id = ? AND uid = ?', params: [messageId, uid] },
      { query: 'DELETE FROM delivery_receipt_events WHERE message_id = ? AND uid = ?', params: [messageId, uid] },
      { query: 'DELETE FROM receipts WHERE message_id = ? AND uid = ?', params: [messageId, uid] },
      { query: 'DELETE FROM receipt_events WHERE message_id = ? AND uid = ?', params: [messageId, uid] },
    ];
    for (const row of current.rows) {
      if (text(row.get('state')) !== 'queued') continue;
      statements.push({
        query: 'DELETE FROM delivery_receipts_queued WHERE channel = ? AND message_id = ? AND uid = ? AND device = ?',
        params: [text(row.get('channel')), messageId, uid, text(row.get('device')) ?? ''],
      });
    }
    for (const row of legacy.rows) {
      if (text(row.get('state')) !== 'queued') continue;
      statements.push({
        query: 'DELETE FROM receipts_queued WHERE channel = ? AND message_id = ? AND uid = ?',
        params: [text(row.get('channel')), messageId, uid],
      });
    }
    await session.concurrently(statements);
  };

  const eraseDevices = async (uid: string): Promise<void> => {
    const devices: Array<{ kind: string; token: string }> = [];
    for await (const row of session.rows(SELECT_DEVICES, [uid]))
      devices.push({ kind: text(row.get('kind')) as string, token: text(row.get('push_token')) as string });
    await mapLimit(devices, DEFAULT_CONCURRENCY, async ({ kind, token }) => {
      // A token that moved to another user since stays theirs.
      const holder = (await session.execute(SELECT_TOKEN_HOLDER, [kind, token])).first();
      if (holder && text(holder.get('uid')) === uid) await session.execute('DELETE FROM devices_by_token WHERE kind = ? AND push_token = ?', [kind, token]);
    });
    await session.execute('DELETE FROM devices_by_user WHERE uid = ?', [uid]);
  };

  const eraseInbox = async (uid: string): Promise<void> => {
    const buckets: number[] = [];
    for await (const row of session.rows(SELECT_BUCKETS, [uid])) buckets.push(row.get('bucket') as number);
    // The user's topic partitions (inbox_topics, topic collapse) are named by the topics of its entries.
    const topics = new Set<string>();
    for (const bucket of buckets) {
      for await (const row of session.rows(SELECT_INBOX_TOPICS, [uid, bucket])) {
        const topic = text(row.get('topic'));
        if (topic !== null) topics.add(topic);
      }
    }
    await session.concurrently([...topics].map((topic) => ({ query: 'DELETE FROM inbox_topics WHERE uid = ? AND topic = ?', params: [uid, topic] })));
    await session.concurrently(buckets.map((bucket) => ({ query: 'DELETE FROM inbox WHERE uid = ? AND bucket = ?', params: [uid, bucket] })));
    await session.execute('DELETE FROM inbox_buckets WHERE uid = ?', [uid]);
  };

  const eraseTimelines = async (uid: string): Promise<void> => {
    const threads = new Set<string>();
    for await (const row of session.rows(SELECT_THREADS, [uid])) threads.add(text(row.get('thread')) as string);
    await mapLimit([...threads], DEFAULT_CONCURRENCY, (thread) =>
      session.execute('DELETE FROM thread_members WHERE thread = ? AND uid = ? IF EXISTS', [thread, uid]),
    );
    // The periods go after the memberships they name, so a repeated erasure finds those again.
    await session.concurrently([
      { query: 'DELETE FROM thread_periods WHERE uid = ?', params: [uid] },
      { query: 'DELETE FROM timeline_state WHERE uid = ?', params: [uid] },
      { query: 'DELETE FROM timeline_floors WHERE uid = ?', params: [uid] },
    ]);
  };

  return {
    eraseUser: async (uid, at) => {
      // Logged: triage reads the copy, the API's unsubscribe and late deliveries the record.
      await session.batch([{ query: RECORD_ERASURE, params: [uid, at] }, recipientFacts.erasedAt(uid, at)], true);
      const messageIds = await messagesOf(uid);
      await mapLimit(messageIds, DEFAULT_CONCURRENCY, (messageId) => eraseReceipts(uid, messageId));
      await eraseInbox(uid);
      await eraseDevices(uid);
      await eraseTimelines(uid);
      await session.execute('DELETE FROM reachable_users WHERE shard = ? AND uid = ?', [reachableShard(uid), uid]);
      await session.concurrently([
        { query: 'DELETE FROM users WHERE uid = ?', params: [uid] },
        { query: 'DELETE FROM preferences WHERE uid = ?', params: [uid] },
        recipientFacts.erase(uid),
      ]);
      // Last: until here, a repeated erasure finds every receipt again through it.
      await session.execute('DELETE FROM receipt_messages_by_user WHERE uid = ?', [uid]);
    },
    erasedAt: async (uids) => {
      const found = new Map<string, number>();
      for (const keys of chunks([...new Set(uids)], IN_KEYS)) {
        for await (const row of session.rows(SELECT_ERASED, [keys])) found.set(text(row.get('uid')) as string, long(row.get('erased_at')) ?? 0);
      }
      return found;
    },
  };
}
