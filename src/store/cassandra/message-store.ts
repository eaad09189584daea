/**
 * Cassandra MessageStore (tables: messages, messages_unfinished, idempotency_keys; schema.ts).
 * Guarantees, beyond the MessageStore port contract — the same as the SQLite adapter's:
 *  - Inserting an id that is already stored changes nothing and reports `inserted: true`. It is
 *    a read before the write (no Paxos on the hot path): the only duplicate inserts of an id
 *    are redeliveries of one request, which do not race each other.
 *  - Idempotency keys are kept per (sender, key) until `message.createdAt + ttlMs` of the
 *    message that took the key, judged by message time. A key is claimed before the message is
 *    written, with a conditional write, so concurrent requests with one key store one message.
 *    A claim whose message was never written (the process died in between) is taken over by
 *    the next request once it is ABANDONED_CLAIM_MS old, so a crash cannot swallow a send.
 *  - `setStatus` without a cursor keeps the stored cursor; an unknown id is ignored.
 *  - `unfinished` lists status 'accepted' only, oldest id first, strictly after `after`.
 *  - Crash safety without a transaction: the unfinished row is written before a message
 *    becomes accepted and removed after it stops being accepted, so a crash leaves at worst a
 *    stale row, which `unfinished` verifies against `messages` and deletes.
 */
import type { Message } from '../../exchange/types.js';
import type { MessageStatus, MessageStore, StoredMessage } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit, text } from './client.js';
import { UNFINISHED_SHARD } from './schema.js';

/** After this long, a key whose message is not stored is treated as a dead claim. */
export const ABANDONED_CLAIM_MS = 30_000;
/** Keys outlive their expiry by this long (clock skew between message time and wall clock). */
const KEY_GRACE_S = 600;
const MAX_TTL_S = 630_720_000; // Cassandra's limit: 20 years
const CLAIM_ATTEMPTS = 5;

type InsertResult = { inserted: true } | { inserted: false; existingId: string; bodyHash: string };
type Idempotency = { key: string; bodyHash: string; ttlMs: number };

const keyTtlSeconds = (expiresAt: number): number => Math.min(MAX_TTL_S, Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000)) + KEY_GRACE_S);

export function createCassandraMessageStore(session: CqlSession): MessageStore {
  const SELECT_MESSAGE = 'SELECT body, status, cursor FROM messages WHERE id = ?';
  const SELECT_EXISTS = 'SELECT id FROM messages WHERE id = ?';
  const INSERT_MESSAGE = 'INSERT INTO messages (id, body, status, cursor) VALUES (?, ?, ?, ?)';
  const UPDATE_STATUS = 'UPDATE messages SET status = ?, cursor = ? WHERE id = ?';
  const INSERT_UNFINISHED = 'INSERT INTO messages_unfinished (shard, id) VALUES (?, ?)';
  const DELETE_UNFINISHED = 'DELETE FROM messages_unfinished WHERE shard = ? AND id = ?';
  const SELECT_UNFINISHED = 'SELECT id FROM messages_unfinished WHERE shard = ? LIMIT ?';
  const SELECT_UNFINISHED_AFTER = 'SELECT id FROM messages_unfinished WHERE shard = ? AND id > ? LIMIT ?';
  const CLAIM_KEY = `INSERT INTO idempotency_keys (sender, key, message_id, body_hash, expires_at, claimed_at)
    VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?`;
  const TAKE_OVER_KEY = `UPDATE idempotency_keys USING TTL ?
    SET message_id = ?, body_hash = ?, expires_at = ?, claimed_at = ? WHERE sender = ? AND key = ? IF message_id = ?`;
  const SELECT_KEY = 'SELECT message_id, body_hash, expires_at, claimed_at FROM idempotency_keys WHERE sender = ? AND key = ?';

  const get = async (id: string): Promise<StoredMessage | undefined> => {
    const row = (await session.execute(SELECT_MESSAGE, [id])).first();
    const body = row ? text(row.get('body')) : null;
    if (!row || body === null) return undefined;
    const stored: StoredMessage = { message: JSON.parse(body) as Message, status: (text(row.get('status')) ?? 'triaged') as MessageStatus };
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

  return {
    insert: async (stored, idempotency) => {
      const { message } = stored;
      if (idempotency) {
        const holder = await claimKey(message, idempotency);
        if (holder) return holder;
      }
      if (await exists(message.id)) return { inserted: true };
      if (stored.status === 'accepted') await session.execute(INSERT_UNFINISHED, [UNFINISHED_SHARD, message.id]);
      await session.execute(INSERT_MESSAGE, [message.id, JSON.stringify(message), stored.status, stored.cursor]);
      return { inserted: true };
    },

    get,

    setStatus: async (id, status, cursor) => {
      if (!(await exists(id))) return;
      if (status === 'accepted') await session.execute(INSERT_UNFINISHED, [UNFINISHED_SHARD, id]);
      // An undefined cursor is sent as `unset`: the stored cursor stays.
      await session.execute(UPDATE_STATUS, [status, cursor, id]);
      if (status !== 'accepted') await session.execute(DELETE_UNFINISHED, [UNFINISHED_SHARD, id]);
    },

    unfinished: async (limit, after) => {
      const found: StoredMessage[] = [];
      let cursor = after;
      while (found.length < limit) {
        const want = limit - found.length;
        const ids = (await unfinishedPage(cursor, want)).rows.map((row) => text(row.get('id')) as string);
        const messages = await mapLimit(ids, DEFAULT_CONCURRENCY, get);
        for (const [index, stored] of messages.entries()) {
          if (stored?.status === 'accepted') found.push(stored);
          else await session.execute(DELETE_UNFINISHED, [UNFINISHED_SHARD, ids[index]]);
        }
        if (ids.length < want) break;
        cursor = ids[ids.length - 1];
      }
      return found;
    },
  };
}
