/**
 * SQLite MessageStore. Guarantees, beyond the MessageStore port contract:
 *  - A message is stored as JSON with its status, cursor, sender, urgency and creation time as
 *    columns. Inserting an id that is already stored changes nothing and reports `inserted: true`
 *    (a redelivered insert is not a conflict).
 *  - Idempotency keys are kept per (sender, key) until `message.createdAt + ttlMs` of the message
 *    that took the key. A later insert whose `message.createdAt` is before that time is a replay
 *    (nothing stored; the first id and body hash returned); at or after it, the key is taken
 *    over by the new message. Expiry is judged by message time, not the wall clock, so the
 *    answer is deterministic. Expired keys are pruned a few at a time on later keyed inserts.
 *  - `setStatus` without a cursor keeps the stored cursor; an unknown id is ignored, and so is a
 *    recalled one: `recall` writes the status `recalled`, which nothing moves afterwards (the
 *    update and the check are one statement, so a triage finishing meanwhile cannot undo it).
 *  - `unfinished` lists status 'accepted' only (not 'scheduled', not 'triaged'), oldest id first.
 *  - `scheduled` lists status 'scheduled' only, newest id first, through the partial index
 *    messages_scheduled (a page costs the same however many messages were ever sent).
 *  - `insert` and `setStatus` go through the group commit (group-commit.ts): calls made in the
 *    same turn of the event loop share one transaction, and each resolves only once that
 *    transaction committed, so a resolved insert is as durable as before (a 202 means stored).
 *    Inserts of one batch run in call order, so idempotency keys behave as with sequential calls.
 */
import type { Message } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import { createGroupCommit, type GroupCommit } from '../../sqlite/group-commit.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { MessageStatus, MessageStore, StoredMessage } from '../port.js';

interface MessageRow {
  body: string;
  status: MessageStatus;
  cursor: string | null;
}

interface KeyRow {
  message_id: string;
  body_hash: string;
  expires_at: number;
}

const PRUNE_BATCH = 100;
/** Sorts after every id (UUIDv7 text): the upper bound of a first page. */
const AFTER_EVERY_ID = '\uffff';

export function toStoredMessage(row: MessageRow): StoredMessage {
  const stored: StoredMessage = { message: JSON.parse(row.body) as Message, status: row.status };
  if (row.cursor !== null) stored.cursor = row.cursor;
  return stored;
}

export function createSqliteMessageStore(db: SqliteDatabase, group: GroupCommit = createGroupCommit(db)): MessageStore {
  const insertMessage = db.prepare(
    `INSERT INTO messages (id, sender, status, cursor, urgency, created_at, body)
     VALUES (@id, @sender, @status, @cursor, @urgency, @createdAt, @body)
     ON CONFLICT (id) DO NOTHING`,
  );
  const selectMessage = db.prepare<[string], MessageRow>('SELECT body, status, cursor FROM messages WHERE id = ?');
  const updateStatus = db.prepare("UPDATE messages SET status = @status, cursor = coalesce(@cursor, cursor) WHERE id = @id AND status != 'recalled'");
  const recall = db.prepare("UPDATE messages SET status = 'recalled' WHERE id = ?");
  const selectUnfinished = db.prepare<[string, number], MessageRow>(
    `SELECT body, status, cursor FROM messages WHERE status = 'accepted' AND id > ? ORDER BY id LIMIT ?`,
  );
  const selectScheduled = db.prepare<[string, number], MessageRow>(
    `SELECT body, status, cursor FROM messages WHERE status = 'scheduled' AND id < ? ORDER BY id DESC LIMIT ?`,
  );
  const selectKey = db.prepare<[string, string], KeyRow>('SELECT message_id, body_hash, expires_at FROM idempotency_keys WHERE sender = ? AND key = ?');
  const upsertKey = db.prepare(
    `INSERT INTO idempotency_keys (sender, key, message_id, body_hash, expires_at)
     VALUES (@sender, @key, @messageId, @bodyHash, @expiresAt)
     ON CONFLICT (sender, key) DO UPDATE SET
       message_id = excluded.message_id, body_hash = excluded.body_hash, expires_at = excluded.expires_at`,
  );
  const pruneKeys = db.prepare(
    `DELETE FROM idempotency_keys WHERE (sender, key) IN (
       SELECT sender, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
  );

  // Runs inside a group-commit transaction.
  const insertOne = (
    stored: StoredMessage,
    idempotency: { key: string; bodyHash: string; ttlMs: number } | undefined,
  ): { inserted: true } | { inserted: false; existingId: string; bodyHash: string } => {
    const { message } = stored;
    if (idempotency) {
      const existing = selectKey.get(message.sender, idempotency.key);
      if (existing && message.createdAt < existing.expires_at) {
        return { inserted: false, existingId: existing.message_id, bodyHash: existing.body_hash };
      }
      pruneKeys.run(message.createdAt);
      upsertKey.run({
        sender: message.sender,
        key: idempotency.key,
        messageId: message.id,
        bodyHash: idempotency.bodyHash,
        expiresAt: message.createdAt + idempotency.ttlMs,
      });
    }
    insertMessage.run({
      id: message.id,
      sender: message.sender,
      status: stored.status,
      cursor: stored.cursor ?? null,
      urgency: message.urgency,
      createdAt: message.createdAt,
      body: JSON.stringify(message),
    });
    return { inserted: true };
  };

  return {
    insert: (stored, idempotency) => group.run(() => insertOne(stored, idempotency)),
    get: (id) =>
      sqlite(() => {
        const row = selectMessage.get(id);
        return row ? toStoredMessage(row) : undefined;
      }),
    setStatus: (id, status, cursor) =>
      group.run(() => {
        updateStatus.run({ id, status, cursor: cursor ?? null });
      }),
    recall: (id) =>
      group.run(() => {
        recall.run(id);
      }),
    unfinished: (limit, after) => sqlite(() => selectUnfinished.all(after ?? '', limit).map(toStoredMessage)),
    scheduled: (limit, before) => sqlite(() => selectScheduled.all(before ?? AFTER_EVERY_ID, limit).map(toStoredMessage)),
  };
}
