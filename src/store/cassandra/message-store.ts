/**
 * Cassandra MessageStore (tables: messages, messages_unfinished, messages_scheduled, idempotency_keys; schema.ts).
 * Guarantees, beyond the MessageStore port contract — the same as the SQLite adapter's:
 *  - Inserting an id that is already stored changes nothing and reports `inserted: true`,
 *    without a read or Paxos: ids are fresh per request (src/ids.ts), so the only duplicate
 *    inserts of an id are replays of one request — the same message with the same status. The
 *    rows are written with the message's own time as write timestamp (createdAt, or now if that
 *    is in the future), so a replay writes the very same cells with the very same timestamp
 *    (a no-op), and any later change (setStatus, the unfinished row's delete), written at its
 *    own later time, wins over a replay that comes after it.
 *  - Idempotency keys are kept per (sender, key) until `message.createdAt + ttlMs` of the
 *    message that took the key, judged by message time. A key is claimed before the message is
 *    written, with a conditional write, so concurrent requests with one key store one message.
 *    A claim whose message was never written (the process died in between) is taken over by
 *    the next request once it is ABANDONED_CLAIM_MS old, so a crash cannot swallow a send.
 *  - `setStatus` without a cursor keeps the stored cursor; an unknown id is ignored. Ids this
 *    process inserted or read lately (KNOWN_IDS of them) are known to exist; others cost a read.
 *  - `isStored(id)`: true when this process knows the message is stored (same record): the inbox
 *    store then skips writing the body again.
 *  - `unfinished` lists status 'accepted' only, oldest id first, strictly after `after`.
 *  - `recall` writes `recalled_at`, a column of its own that `setStatus` never writes, so a triage
 *    finishing after the recall cannot undo it (no conditional write needed): `get` answers
 *    `recalled` whenever it is set. The id also goes into messages_recalled (one partition of the
 *    recalled ids, a few rows: recalls are rare), which the inbox store reads once per count.
 *  - Crash safety without a transaction: the unfinished row is written before a message
 *    becomes accepted and removed after it stops being accepted, so a crash leaves at worst a
 *    stale row, which `unfinished` verifies against `messages` and deletes.
 *  - `scheduled` lists status 'scheduled' only, newest id first, strictly before `before`; its
 *    rows (messages_scheduled) are written with the scheduled insert and deleted when setStatus
 *    makes the message accepted (its time came); any other way out (a cancel) leaves the row,
 *    which listing verifies against `messages` and deletes, as `unfinished` does.
 */
import type { Message } from '../../exchange/types.js';
import type { MessageStatus, MessageStore, StoredMessage } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit, text } from './client.js';
import { RECALLED_SHARD, SCHEDULED_SHARD, UNFINISHED_SHARD } from './schema.js';

/** After this long, a key whose message is not stored is treated as a dead claim. */
export const ABANDONED_CLAIM_MS = 30_000;
/** Keys outlive their expiry by this long (clock skew between message time and wall clock). */
const KEY_GRACE_S = 600;
const MAX_TTL_S = 630_720_000; // Cassandra's limit: 20 years
const CLAIM_ATTEMPTS = 5;
/** Ids this process remembers as stored (inserted or read): a bounded, oldest-out record. */
const KNOWN_IDS = 20_000;

/** The write timestamp (µs) of a message's first rows: its own time, never in the future. */
const insertTimestamp = (message: Message): number => Math.min(message.createdAt, Date.now()) * 1000;

/** A MessageStore that can also say which messages it knows to be stored (for the inbox store). */
export interface CassandraMessageStore extends MessageStore {
  isStored(id: string): boolean;
}

type InsertResult = { inserted: true } | { inserted: false; existingId: string; bodyHash: string };
type Idempotency = { key: string; bodyHash: string; ttlMs: number };

const keyTtlSeconds = (expiresAt: number): number => Math.min(MAX_TTL_S, Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000)) + KEY_GRACE_S);

export function createCassandraMessageStore(session: CqlSession): CassandraMessageStore {
  const SELECT_MESSAGE = 'SELECT body, status, cursor, recalled_at FROM messages WHERE id = ?';
  const RECALL = 'UPDATE messages SET recalled_at = ? WHERE id = ?';
  const INSERT_RECALLED = 'INSERT INTO messages_recalled (shard, id) VALUES (?, ?)';
  const SELECT_EXISTS = 'SELECT id FROM messages WHERE id = ?';
  const INSERT_MESSAGE = 'INSERT INTO messages (id, body, status, cursor) VALUES (?, ?, ?, ?)';
  const UPDATE_STATUS = 'UPDATE messages SET status = ?, cursor = ? WHERE id = ?';
  const INSERT_UNFINISHED = 'INSERT INTO messages_unfinished (shard, id) VALUES (?, ?)';
  const DELETE_UNFINISHED = 'DELETE FROM messages_unfinished WHERE shard = ? AND id = ?';
  const SELECT_UNFINISHED = 'SELECT id FROM messages_unfinished WHERE shard = ? LIMIT ?';
  const SELECT_UNFINISHED_AFTER = 'SELECT id FROM messages_unfinished WHERE shard = ? AND id > ? LIMIT ?';
  const INSERT_SCHEDULED = 'INSERT INTO messages_scheduled (shard, id) VALUES (?, ?)';
  const DELETE_SCHEDULED = 'DELETE FROM messages_scheduled WHERE shard = ? AND id = ?';
  const SELECT_SCHEDULED = 'SELECT id FROM messages_scheduled WHERE shard = ? LIMIT ?';
  const SELECT_SCHEDULED_BEFORE = 'SELECT id FROM messages_scheduled WHERE shard = ? AND id < ? LIMIT ?';
  const CLAIM_KEY = `INSERT INTO idempotency_keys (sender, key, message_id, body_hash, expires_at, claimed_at)
    VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?`;
  const TAKE_OVER_KEY = `UPDATE idempotency_keys USING TTL ?
    SET message_id = ?, body_hash = ?, expires_at = ?, claimed_at = ? WHERE sender = ? AND key = ? IF message_id = ?`;
  const SELECT_KEY = 'SELECT message_id, body_hash, expires_at, claimed_at FROM idempotency_keys WHERE sender = ? AND key = ?';

  const known = new Set<string>();
  const remember = (id: string) => {
    if (known.has(id)) return;
    known.add(id);
    // A Set iterates in insertion order: the first id is the oldest.
    if (known.size > KNOWN_IDS) known.delete(known.values().next().value as string);
  };

  const get = async (id: string): Promise<StoredMessage | undefined> => {
    const row = (await session.execute(SELECT_MESSAGE, [id])).first();
    const body = row ? text(row.get('body')) : null;
    if (!row || body === null) return undefined;
    remember(id);
    const status = long(row.get('recalled_at')) !== null ? 'recalled' : ((text(row.get('status')) ?? 'triaged') as MessageStatus);
    const stored: StoredMessage = { message: JSON.parse(body) as Message, status };
    const cursor = text(row.get('cursor'));
    if (cursor !== null) stored.cursor = cursor;
    return stored;
  };

  const exists = async (id: string) => (await session.execute(SELECT_EXISTS, [id])).rowLength > 0;

  /** Claims the key for `message`; returns the holder when the insert is a replay or a conflict. */
  const claimKey = async (message: Message, idempotency: Idempotency): Promise<InsertResult | undefined> => {
    const expiresAt = message.createdAt + idempotency.ttlMs;
    const ttl = keyTtlSeconds(expiresAt);
    const claimKeyRow = () => session.execute(CLAIM_KEY, [message.sender, idempotency.key, message.id, idempotency.bodyHash, expiresAt, Date.now(), ttl]);
    const inserted = await claimKeyRow();
    if (inserted.wasApplied()) return undefined;
    let holder = inserted.first();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      if (!holder || holder.get('message_id') === null) {
        // The row expired (TTL) between our claim and now: claim it afresh.
        const again = await claimKeyRow();
        if (again.wasApplied()) return undefined;
        holder = again.first();
        continue;
      }
      const holderId = text(holder.get('message_id')) as string;
      const holderExpiresAt = long(holder.get('expires_at')) ?? 0;
      const claimedAt = long(holder.get('claimed_at')) ?? 0;
      const live = message.createdAt < holderExpiresAt;
      const abandoned = live && Date.now() - claimedAt >= ABANDONED_CLAIM_MS && !(await exists(holderId));
      if (live && !abandoned) return { inserted: false, existingId: holderId, bodyHash: text(holder.get('body_hash')) ?? '' };
      const taken = await session.execute(TAKE_OVER_KEY, [
        ttl,
        message.id,
        idempotency.bodyHash,
        expiresAt,
        Date.now(),
        message.sender,
        idempotency.key,
        holderId,
      ]);
      if (taken.wasApplied()) return undefined;
      // Someone else changed the key meanwhile: judge again against the current holder.
      holder = (await session.execute(SELECT_KEY, [message.sender, idempotency.key], { consistency: session.serialConsistency })).first();
    }
    throw new Error(`idempotency key ${JSON.stringify(idempotency.key)} of ${message.sender} kept changing under ${CLAIM_ATTEMPTS} claims`);
  };

  const unfinishedPage = (after: string | undefined, limit: number) =>
    after === undefined
      ? session.execute(SELECT_UNFINISHED, [UNFINISHED_SHARD, limit], { fetchSize: limit })
      : session.execute(SELECT_UNFINISHED_AFTER, [UNFINISHED_SHARD, after, limit], { fetchSize: limit });

  const scheduledPage = (before: string | undefined, limit: number) =>
    before === undefined
      ? session.execute(SELECT_SCHEDULED, [SCHEDULED_SHARD, limit], { fetchSize: limit })
      : session.execute(SELECT_SCHEDULED_BEFORE, [SCHEDULED_SHARD, before, limit], { fetchSize: limit });

  /** Ids from `page`, verified against messages: those in `status` are kept, the others' index rows deleted. */
  const verifiedPage = async (
    page: (cursor: string | undefined, want: number) => Promise<{ rows: Array<{ get(column: string): unknown }> }>,
    status: MessageStatus,
    remove: string,
    shard: number,
    limit: number,
    start: string | undefined,
  ): Promise<StoredMessage[]> => {
    const found: StoredMessage[] = [];
    let cursor = start;
    while (found.length < limit) {
      const want = limit - found.length;
      const ids = (await page(cursor, want)).rows.map((row) => text(row.get('id')) as string);
      const messages = await mapLimit(ids, DEFAULT_CONCURRENCY, get);
      for (const [index, stored] of messages.entries()) {
        if (stored?.status === status) found.push(stored);
        else await session.execute(remove, [shard, ids[index]]);
      }
      if (ids.length < want) break;
      cursor = ids[ids.length - 1];
    }
    return found;
  };

  return {
    insert: async (stored, idempotency) => {
      const { message } = stored;
      if (idempotency) {
        const holder = await claimKey(message, idempotency);
        if (holder) return holder;
      }
      const timestamp = insertTimestamp(message);
      // Both rows at once: the insert resolves (the 202) only when both are durable, and a
      // message row without its unfinished row (a crash in between) was never acknowledged.
      await Promise.all([
        stored.status === 'accepted' ? session.execute(INSERT_UNFINISHED, [UNFINISHED_SHARD, message.id], { timestamp }) : undefined,
        stored.status === 'scheduled' ? session.execute(INSERT_SCHEDULED, [SCHEDULED_SHARD, message.id], { timestamp }) : undefined,
        session.execute(INSERT_MESSAGE, [message.id, JSON.stringify(message), stored.status, stored.cursor], { timestamp }),
      ]);
      remember(message.id);
      return { inserted: true };
    },

    get,

    isStored: (id) => known.has(id),

    setStatus: async (id, status, cursor) => {
      if (!known.has(id) && !(await exists(id))) return;
      if (status === 'accepted') await session.execute(INSERT_UNFINISHED, [UNFINISHED_SHARD, id]);
      // An undefined cursor is sent as `unset`: the stored cursor stays.
      await session.execute(UPDATE_STATUS, [status, cursor, id]);
      if (status !== 'accepted') await session.execute(DELETE_UNFINISHED, [UNFINISHED_SHARD, id]);
      // A scheduled message moves on to accepted when its time comes (src/pipeline/recovery.ts); any
      // other way out leaves a stale row, which `scheduled` drops. So a plain send pays no delete.
      if (status === 'accepted') await session.execute(DELETE_SCHEDULED, [SCHEDULED_SHARD, id]);
    },

    recall: async (id, at) => {
      if (!known.has(id) && !(await exists(id))) return;
      await session.execute(INSERT_RECALLED, [RECALLED_SHARD, id]);
      await session.execute(RECALL, [at, id]);
      await session.execute(DELETE_UNFINISHED, [UNFINISHED_SHARD, id]);
      await session.execute(DELETE_SCHEDULED, [SCHEDULED_SHARD, id]);
    },

    unfinished: (limit, after) => verifiedPage(unfinishedPage, 'accepted', DELETE_UNFINISHED, UNFINISHED_SHARD, limit, after),

    scheduled: (limit, before) => verifiedPage(scheduledPage, 'scheduled', DELETE_SCHEDULED, SCHEDULED_SHARD, limit, before),
  };
}
