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
 *  - One request per insert and per status change: the message row and its index row
 *    (messages_unfinished or messages_scheduled) travel in one unlogged batch, as do the status
 *    update and the index rows it removes (with the other plain writes of the turn:
 *    `CqlSession.write`). Not atomic — a batch that fails may have applied
 *    part of its rows — but its caller then fails too and repeats it: no 202 for an insert, a
 *    redelivered triage for a status change. The one change whose partial failure a repeat
 *    could not repair — a message becoming accepted (a scheduled send whose time came) without
 *    its unfinished row — writes that row first, on its own, as before.
 *  - Idempotency keys are kept per (sender, key) until `message.createdAt + ttlMs` of the
 *    message that took the key, judged by message time. A key is claimed before the message is
 *    written, with a conditional write, so concurrent requests with one key store one message.
 *    A claim whose message was never written (the process died in between) is taken over by
 *    the next request once it is ABANDONED_CLAIM_MS old, so a crash cannot swallow a send.
 *    Without a key an insert involves no conditional write at all.
 *  - `setStatus` without a cursor keeps the stored cursor; an unknown id is ignored. Ids this
 *    process inserted, read or was told of (`remember`) lately (KNOWN_IDS of them) are known
 *    to exist; others cost a read.
 *  - `isStored(id)`: true when this process knows the message is stored (same record): the inbox
 *    store then skips writing the body again.
 *  - `unfinished` lists status 'accepted' only, oldest id first, strictly after `after`. Its rows
 *    are spread over UNFINISHED_SHARDS partitions by a hash of the id (unfinishedShard), so no
 *    one partition takes every accepted message and the tombstone of each; listing reads every
 *    shard and merges them by id. Rows written before the sharding are all in shard 0, which is
 *    one of the shards listed, so they are still found (and, once stale, deleted where they are).
 *  - `recall` writes `recalled_at`, a column of its own that `setStatus` never writes, so a triage
 *    finishing after the recall cannot undo it (no conditional write needed): `get` answers
 *    `recalled` whenever it is set. The id also goes into messages_recalled (one partition of the
 *    recalled ids, a few rows: recalls are rare), which the inbox store reads once per count.
 *  - Crash safety without a transaction: a message has its unfinished row whenever it is
 *    accepted — the row goes in with the accepted insert (a crash before both are written means
 *    no 202), or before a scheduled message becomes accepted — and loses it only in the write
 *    that moves it on, so a crash or a partly applied batch leaves at worst a stale row, which
 *    `unfinished` verifies against `messages` and deletes.
 *  - `scheduled` lists status 'scheduled' only, newest id first, strictly before `before`; its
 *    rows (messages_scheduled) are written with the scheduled insert and deleted when setStatus
 *    makes the message accepted (its time came); any other way out (a cancel) leaves the row,
 *    which listing verifies against `messages` and deletes, as `unfinished` does.
 */
import type { Message } from '../../exchange/types.js';
import type { MessageStatus, MessageStore, StoredMessage } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit, type Statement, text } from './client.js';
import { RECALLED_SHARD, SCHEDULED_SHARD, UNFINISHED_SHARDS, unfinishedShard } from './schema.js';

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
/** A row of an index table (messages_unfinished, messages_scheduled): the partition it is in, and the message id. */
type IndexRow = { shard: number; id: string };

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

  const ALL_UNFINISHED_SHARDS = Array.from({ length: UNFINISHED_SHARDS }, (_, shard) => shard);

  /** The first `limit` unfinished rows after `after`, across every shard, oldest id first. */
  const unfinishedPage = async (after: string | undefined, limit: number): Promise<IndexRow[]> => {
    const pages = await mapLimit(ALL_UNFINISHED_SHARDS, DEFAULT_CONCURRENCY, async (shard) => {
      const result =
        after === undefined
          ? await session.execute(SELECT_UNFINISHED, [shard, limit], { fetchSize: limit })
          : await session.execute(SELECT_UNFINISHED_AFTER, [shard, after, limit], { fetchSize: limit });
      return result.rows.map((row) => ({ shard, id: text(row.get('id')) as string }));
    });
    // Each shard's page is the `limit` oldest of that shard: the oldest `limit` of all are among them.
    return pages
      .flat()
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit);
  };

  const scheduledPage = async (before: string | undefined, limit: number): Promise<IndexRow[]> => {
    const result =
      before === undefined
        ? await session.execute(SELECT_SCHEDULED, [SCHEDULED_SHARD, limit], { fetchSize: limit })
        : await session.execute(SELECT_SCHEDULED_BEFORE, [SCHEDULED_SHARD, before, limit], { fetchSize: limit });
    return result.rows.map((row) => ({ shard: SCHEDULED_SHARD, id: text(row.get('id')) as string }));
  };

  /** Ids from `page`, verified against messages: those in `status` are kept, the others' index rows deleted. */
  const verifiedPage = async (
    page: (cursor: string | undefined, want: number) => Promise<IndexRow[]>,
    status: MessageStatus,
    remove: string,
    limit: number,
    start: string | undefined,
  ): Promise<StoredMessage[]> => {
    const found: StoredMessage[] = [];
    let cursor = start;
    while (found.length < limit) {
      const want = limit - found.length;
      const rows = await page(cursor, want);
      const messages = await mapLimit(rows, DEFAULT_CONCURRENCY, (row) => get(row.id));
      for (const [index, stored] of messages.entries()) {
        const row = rows[index] as IndexRow;
        if (stored?.status === status) found.push(stored);
        else await session.execute(remove, [row.shard, row.id]);
      }
      if (rows.length < want) break;
      cursor = rows[rows.length - 1]?.id;
    }
    return found;
  };

  const unfinishedRow = (id: string): Statement => ({ query: INSERT_UNFINISHED, params: [unfinishedShard(id), id] });
  const noLongerUnfinished = (id: string): Statement => ({ query: DELETE_UNFINISHED, params: [unfinishedShard(id), id] });
  const noLongerScheduled = (id: string): Statement => ({ query: DELETE_SCHEDULED, params: [SCHEDULED_SHARD, id] });

  return {
    insert: async (stored, idempotency) => {
      const { message } = stored;
      if (idempotency) {
        const holder = await claimKey(message, idempotency);
        if (holder) return holder;
      }
      // The message and its index row in one request: the insert resolves (the 202) only when
      // both are durable, and a message row without its unfinished row (a batch applied in part)
      // was never acknowledged.
      const statements: Statement[] = [{ query: INSERT_MESSAGE, params: [message.id, JSON.stringify(message), stored.status, stored.cursor] }];
      if (stored.status === 'accepted') statements.push(unfinishedRow(message.id));
      if (stored.status === 'scheduled') statements.push({ query: INSERT_SCHEDULED, params: [SCHEDULED_SHARD, message.id] });
      await session.batch(statements, false, { timestamp: insertTimestamp(message) });
      remember(message.id);
      return { inserted: true };
    },

    get,

    isStored: (id) => known.has(id),

    remember,

    setStatus: async (id, status, cursor) => {
      if (!known.has(id) && !(await exists(id))) return;
      // Becoming accepted: the unfinished row first, so the message is never accepted without it.
      if (status === 'accepted') {
        const row = unfinishedRow(id);
        await session.execute(row.query, row.params);
      }
      // An undefined cursor is sent as `unset`: the stored cursor stays.
      const statements: Statement[] = [{ query: UPDATE_STATUS, params: [status, cursor, id] }];
      if (status !== 'accepted') statements.push(noLongerUnfinished(id));
      // A scheduled message moves on to accepted when its time comes (src/pipeline/recovery.ts); any
      // other way out leaves a stale row, which `scheduled` drops. So a plain send pays no delete.
      if (status === 'accepted') statements.push(noLongerScheduled(id));
      await session.write(statements);
    },

    recall: async (id, at) => {
      if (!known.has(id) && !(await exists(id))) return;
      await session.batch(
        [{ query: INSERT_RECALLED, params: [RECALLED_SHARD, id] }, { query: RECALL, params: [at, id] }, noLongerUnfinished(id), noLongerScheduled(id)],
        false,
      );
    },

    unfinished: (limit, after) => verifiedPage(unfinishedPage, 'accepted', DELETE_UNFINISHED, limit, after),

    scheduled: (limit, before) => verifiedPage(scheduledPage, 'scheduled', DELETE_SCHEDULED, limit, before),
  };
}
