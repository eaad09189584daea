/**
 * SQLite Search (embedded): FTS5 over message title + text, audiences over the users / devices /
 * user_attributes tables the UserStore and DeviceStore keep, reports over `receipt_events` and
 * the ReceiptStore's `receipt_tallies`.
 * It shares the stores' database and reads their tables directly, so:
 *  - `indexUser` is a no-op: audiences see a user as soon as the UserStore / DeviceStore commit.
 *  - `indexMessage` adds the message's words and recipients to the index; results are read
 *    from the messages table, so a message is found once it is both stored and indexed.
 *  - `indexReceipts` records the urgency on the history rows the ReceiptStore wrote (and adds
 *    the rows it did not write). Reports count distinct (message, uid, channel, state) facts.
 *  - `indexMessage` and `indexReceipts` only queue (src/search/sqlite/index-queue.ts): the queue
 *    is written in one transaction per batch, off the request's path. `flush()` writes it before
 *    resolving, and so does every query first, so a query sees everything indexed before it.
 *    `close()` writes it too. A crash loses what is still queued (at most ~50 ms of indexing).
 *
 *  - `eraseUser` writes the queue first, then deletes the user's `receipt_events` rows and
 *    its `message_index_uids` rows (the uid filter); the user's audience rows are the
 *    UserStore's and DeviceStore's, deleted by the ErasureStore (src/store/sqlite/erase-user.ts).
 *
 * Query semantics:
 *  - `q` is split on white space; every word must occur (in title or text; case and diacritics
 *    ignored). FTS syntax in `q` is treated as plain words. An empty `q` matches every message.
 *  - `from` is inclusive and `to` exclusive, on `createdAt`. `uid` selects messages *sent to*
 *    that uid by a `user` / `users` target (audience and everyone messages are not matched).
 *  - Audience `where`: equality on the attribute's JSON value, type included ("1" ≠ 1); a list
 *    in the query means any of its values; a list attribute matches when any element does.
 *  - Report rows are ordered by key; events whose message urgency is unknown group as 'unknown'.
 */
import type { Audience, Message, Receipt } from '../../exchange/types.js';
import type { SqliteDatabase, SqliteStatement as Statement } from '../../sqlite/database.js';
import { sqlite } from '../../sqlite/unavailable.js';
import { encodeAttributeValue } from '../../sqlite/user-attributes.js';
import type { MessageSearchQuery, ReportGroup, Search } from '../port.js';
import { createIndexQueue, type IndexQueueOptions } from './index-queue.js';

const REPORT_COLUMN: Record<ReportGroup, string> = { channel: 'channel', urgency: 'urgency', state: 'state' };

/** Each white-space separated word of `q` as a quoted FTS5 string, all required. */
export function toFtsQuery(q: string): string {
  return q
    .split(/\s+/u)
    .filter((word) => word.length > 0)
    .map((word) => `"${word.replaceAll('"', '""')}"`)
    .join(' ');
}

const recipientsOf = (message: Message): string[] => {
  switch (message.target.kind) {
    case 'user':
      return [message.target.uid];
    case 'users':
      return [...new Set(message.target.uids)];
    default:
      return [];
  }
};

type IndexedReceipt = Receipt & { urgency: Message['urgency'] };
type Indexing = { message: Message; receipts?: undefined } | { message?: undefined; receipts: IndexedReceipt[] };

const RESOLVED = Promise.resolve();

export function createSqliteSearch(db: SqliteDatabase, options: IndexQueueOptions = {}): Search {
  const cache = new Map<string, Statement>();
  const cached = (key: string, build: () => string): Statement => {
    let statement = cache.get(key);
    if (!statement) {
      statement = db.prepare<unknown[], unknown>(build());
      cache.set(key, statement);
    }
    return statement;
  };

  const insertIndex = db.prepare('INSERT INTO message_index (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
  const insertFts = db.prepare('INSERT INTO message_fts (rowid, title, msg) VALUES (?, ?, ?)');
  const insertRecipient = db.prepare('INSERT INTO message_index_uids (uid, seq) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const upsertEvent = db.prepare(
    `INSERT INTO receipt_events (message_id, uid, channel, device, state, reason, at, urgency)
     VALUES (@messageId, @uid, @channel, @device, @state, @reason, @at, @urgency)
     ON CONFLICT (message_id, uid, channel, device, state) DO UPDATE SET urgency = excluded.urgency
     WHERE receipt_events.urgency IS NULL`,
  );
  const ping = db.prepare('SELECT 1');
  const deleteUserEvents = db.prepare('DELETE FROM receipt_events WHERE uid = ?');
  const deleteUserRecipients = db.prepare('DELETE FROM message_index_uids WHERE uid = ?');
  const eraseUserTx = db.transaction((uid: string) => {
    deleteUserEvents.run(uid);
    deleteUserRecipients.run(uid);
  });

  const indexMessage = (message: Message) => {
    const { changes, lastInsertRowid } = insertIndex.run(message.id, message.createdAt);
    if (changes === 0) return;
    insertFts.run(lastInsertRowid, message.title ?? '', message.msg);
    for (const uid of recipientsOf(message)) insertRecipient.run(uid, lastInsertRowid);
  };

  const indexReceipts = (receipts: IndexedReceipt[]) => {
    for (const r of receipts) {
      upsertEvent.run({
        messageId: r.messageId,
        uid: r.uid,
        channel: r.channel,
        device: r.device ?? '',
        state: r.state,
        reason: r.reason ?? null,
        at: r.at,
        urgency: r.urgency,
      });
    }
  };

  const writeBatchTx = db.transaction((batch: Indexing[]) => {
    for (const item of batch) {
      if (item.message) indexMessage(item.message);
      else indexReceipts(item.receipts);
    }
  });
  const queue = createIndexQueue<Indexing>((batch) => {
    // Whoever opened the database closed it before this adapter: nothing can be written any more.
    if (!db.open) options.log?.warn({ dropped: batch.length }, 'search: database closed; queued indexing dropped');
    else writeBatchTx.immediate(batch);
  }, options);
  /** Queries read what was indexed before them: the queue is written first. */
  const afterIndexing = <T>(read: () => T): Promise<T> =>
    sqlite(() => {
      queue.writeNow();
      return read();
    });

  const searchStatement = (query: MessageSearchQuery, match: boolean): Statement => {
    const parts = [match, query.from !== undefined, query.to !== undefined, query.uid !== undefined, query.before !== undefined];
    return cached(`messages|${parts.map(Number).join('')}`, () => {
      const conditions: string[] = [];
      if (match) conditions.push('message_fts MATCH @q');
      if (query.from !== undefined) conditions.push('i.created_at >= @from');
      if (query.to !== undefined) conditions.push('i.created_at < @to');
      if (query.before !== undefined) conditions.push('i.id < @before');
      if (query.uid !== undefined) {
        conditions.push('EXISTS (SELECT 1 FROM message_index_uids r WHERE r.uid = @uid AND r.seq = i.seq)');
      }
      const from = match ? 'message_fts JOIN message_index i ON i.seq = message_fts.rowid' : 'message_index i';
      const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
      return `SELECT m.body FROM ${from} JOIN messages m ON m.id = i.id ${where} ORDER BY i.id DESC LIMIT @limit`;
    });
  };

  const audienceStatement = (whereCount: number, has: Audience['has'], after: boolean, among: boolean): Statement =>
    cached(`audience|${whereCount}|${has ?? ''}|${after}|${among}`, () => {
      const conditions: string[] = [];
      if (among) conditions.push('u.uid IN (SELECT value FROM json_each(?))');
      for (let i = 1; i < whereCount; i++) {
        conditions.push(
          `EXISTS (SELECT 1 FROM user_attributes a${i} WHERE a${i}.uid = u.uid AND a${i}.name = ?
             AND a${i}.value IN (SELECT value FROM json_each(?)))`,
        );
      }
      if (has === 'email' || has === 'phone') conditions.push(`u.${has} IS NOT NULL AND u.${has} <> ''`);
      else if (has !== undefined) conditions.push('EXISTS (SELECT 1 FROM devices d WHERE d.uid = u.uid AND d.kind = ?)');
      if (whereCount > 0) {
        // Driven by the first condition's index (name, value, uid): pages come in uid order.
        const driving = ['a0.name = ?', 'a0.value IN (SELECT value FROM json_each(?))'];
        if (after) driving.push('a0.uid > ?');
        return `SELECT DISTINCT a0.uid AS uid FROM user_attributes a0 JOIN users u ON u.uid = a0.uid
          WHERE ${[...driving, ...conditions].join(' AND ')} ORDER BY a0.uid LIMIT ?`;
      }
      if (after) conditions.unshift('u.uid > ?');
      const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
      return `SELECT u.uid AS uid FROM users u ${where} ORDER BY u.uid LIMIT ?`;
    });

  // Indexing is batched, so a crash can lose the last batch: at start-up, messages newer than
  // the newest indexed one (ids are time-ordered) are indexed again.
  const newestIndexed = db.prepare<[], { id: string | null }>('SELECT max(id) AS id FROM message_index');
  const storedAfter = db.prepare<[string], { body: string }>('SELECT body FROM messages WHERE id > ? ORDER BY id');
  const missed = storedAfter.all(newestIndexed.get()?.id ?? '').map((row): Indexing => ({ message: JSON.parse(row.body) as Message }));
  if (missed.length > 0) writeBatchTx.immediate(missed);

  return {
    indexMessage: (message) => {
      queue.add({ message });
      return RESOLVED;
    },
    indexUser: async () => {},
    // The ReceiptStore wrote the tallies to receipt_tallies, in this database: reports read them there.
    indexTallies: async () => {},
    indexReceipts: (receipts) => {
      if (receipts.length > 0) queue.add({ receipts });
      return RESOLVED;
    },
    searchMessages: (query) =>
      afterIndexing(() => {
        const q = toFtsQuery(query.q);
        const rows = searchStatement(query, q.length > 0)
          .pluck()
          .all({ q, from: query.from, to: query.to, uid: query.uid, before: query.before, limit: query.limit }) as string[];
        return rows.map((body) => JSON.parse(body) as Message);
      }),
    audience: (audience, after, limit, among) =>
      afterIndexing(() => {
        const where = Object.entries(audience.where ?? {}).map(([name, value]) => {
          const values = (Array.isArray(value) ? value : [value]).map(encodeAttributeValue);
          return [name, JSON.stringify(values.filter((v) => v !== undefined))] as const;
        });
        const [first, ...rest] = where;
        const params: Array<string | number> = [];
        if (first) {
          params.push(first[0], first[1]);
          if (after !== undefined) params.push(after);
        } else if (after !== undefined) {
          params.push(after);
        }
        if (among !== undefined) params.push(JSON.stringify(among));
        for (const [name, values] of rest) params.push(name, values);
        if (audience.has !== undefined && audience.has !== 'email' && audience.has !== 'phone') params.push(audience.has);
        params.push(limit);
        return audienceStatement(where.length, audience.has, after !== undefined, among !== undefined)
          .pluck()
          .all(...params) as string[];
      }),
    report: (query) =>
      afterIndexing(() => {
        const column = REPORT_COLUMN[query.groupBy];
        if (column === undefined) throw new RangeError(`unknown report group: ${String(query.groupBy)}`);
        const tallied = query.groupBy === 'urgency' ? "json_extract(m.body, '$.urgency')" : `t.${column}`;
        return cached(
          `report|${column}`,
          () => `SELECT coalesce(key, 'unknown') AS key, sum(n) AS count FROM (
              SELECT ${column} AS key, 1 AS n FROM receipt_events WHERE at >= @from AND at < @to
              UNION ALL
              SELECT ${tallied} AS key, t.count AS n FROM receipt_tallies t LEFT JOIN messages m ON m.id = t.message_id
              WHERE t.at >= @from AND t.at < @to)
            GROUP BY 1 ORDER BY 1`,
        ).all({ from: query.from, to: query.to }) as Array<{ key: string; count: number }>;
      }),
    eraseUser: (uid) =>
      afterIndexing(() => {
        eraseUserTx.immediate(uid);
      }),
    flush: () => sqlite(() => queue.writeNow()),
    healthy: () => sqlite(() => db.open && ping.get() !== undefined).catch(() => false),
    close: () => sqlite(() => queue.close()),
  };
}
