/**
 * SQLite ReceiptStore. Guarantees, beyond the ReceiptStore port contract:
 *  - A receipt's key is (messageId, uid, channel, device); a channel-wide receipt (no device)
 *    is stored with device ''.
 *  - The current state per key follows `receiptMayMove` (../receipt-rule.ts): progress only
 *    moves forward, final states (failed / expired / suppressed) are never replaced, and a
 *    final state never replaces delivered / read / clicked.
 *  - A batch is applied in order in one transaction, so a batch holding several receipts of one
 *    key behaves as if they had been recorded one by one.
 *  - Every accepted change is appended to `receipt_events` (one row per state reached per key),
 *    with the message's urgency when the message is stored; Search.report counts these rows.
 *  - `forMessage` is ordered by uid, channel, device; `queued` by message id, uid, device
 *    (oldest first), resuming strictly after `after`.
 *  - Tallies are rows of `receipt_tallies` (migration 9), one per source, replaced by a later
 *    write of the same source; Search.report adds their counts to the events'.
 */
import type { ChannelName, Receipt, ReceiptState, ReceiptTally } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { ReceiptStore } from '../port.js';
import { receiptMayMove } from '../receipt-rule.js';

interface ReceiptRow {
  message_id: string;
  uid: string;
  channel: Receipt['channel'];
  device: string;
  state: ReceiptState;
  reason: string | null;
  at: number;
}

const toReceipt = (row: ReceiptRow): Receipt => {
  const receipt: Receipt = { messageId: row.message_id, uid: row.uid, channel: row.channel, state: row.state, at: row.at };
  if (row.device !== '') receipt.device = row.device;
  if (row.reason !== null) receipt.reason = row.reason;
  return receipt;
};

const COLUMNS = 'message_id, uid, channel, device, state, reason, at';

export function createSqliteReceiptStore(db: SqliteDatabase): ReceiptStore {
  const selectState = db.prepare<[string, string, string, string], ReceiptState>(
    'SELECT state FROM receipts WHERE message_id = ? AND uid = ? AND channel = ? AND device = ?',
  );
  selectState.pluck();
  const upsertReceipt = db.prepare(
    `INSERT INTO receipts (${COLUMNS}) VALUES (@messageId, @uid, @channel, @device, @state, @reason, @at)
     ON CONFLICT (message_id, uid, channel, device) DO UPDATE SET
       state = excluded.state, reason = excluded.reason, at = excluded.at`,
  );
  const insertEvent = db.prepare(
    `INSERT INTO receipt_events (${COLUMNS}, urgency)
     VALUES (@messageId, @uid, @channel, @device, @state, @reason, @at, (SELECT urgency FROM messages WHERE id = @messageId))
     ON CONFLICT (message_id, uid, channel, device, state) DO NOTHING`,
  );
  const selectForMessage = db.prepare<[string], ReceiptRow>(`SELECT ${COLUMNS} FROM receipts WHERE message_id = ? ORDER BY uid, channel, device`);
  const selectForMessageUid = db.prepare<[string, string], ReceiptRow>(
    `SELECT ${COLUMNS} FROM receipts WHERE message_id = ? AND uid = ? ORDER BY channel, device`,
  );
  const selectQueued = db.prepare<[string, number], ReceiptRow>(
    `SELECT ${COLUMNS} FROM receipts WHERE channel = ? AND state = 'queued' ORDER BY message_id, uid, device LIMIT ?`,
  );
  const selectQueuedAfter = db.prepare<[string, string, string, string, number], ReceiptRow>(
    `SELECT ${COLUMNS} FROM receipts WHERE channel = ? AND state = 'queued' AND (message_id, uid, device) > (?, ?, ?)
     ORDER BY message_id, uid, device LIMIT ?`,
  );

  const upsertTally = db.prepare(
    `INSERT INTO receipt_tallies (message_id, channel, state, source, count, at) VALUES (@messageId, @channel, @state, @source, @count, @at)
     ON CONFLICT (message_id, channel, state, source) DO UPDATE SET count = excluded.count, at = min(at, excluded.at)`,
  );
  const selectTallies = db.prepare<[string], { channel: ChannelName; state: ReceiptState; count: number; at: number }>(
    `SELECT channel, state, sum(count) AS count, min(at) AS at FROM receipt_tallies WHERE message_id = ?
     GROUP BY channel, state ORDER BY channel, state`,
  );
  const tallyTx = db.transaction((tallies: ReceiptTally[]) => {
    for (const tally of tallies) upsertTally.run(tally);
  });

  const recordTx = db.transaction((receipts: Receipt[]) => {
    for (const receipt of receipts) {
      const device = receipt.device ?? '';
      const current = selectState.get(receipt.messageId, receipt.uid, receipt.channel, device);
      if (!receiptMayMove(current, receipt.state)) continue;
      const row = {
        messageId: receipt.messageId,
        uid: receipt.uid,
        channel: receipt.channel,
        device,
        state: receipt.state,
        reason: receipt.reason ?? null,
        at: receipt.at,
      };
      upsertReceipt.run(row);
      insertEvent.run(row);
    }
  });

  return {
    record: (receipts) =>
      sqlite(() => {
        if (receipts.length > 0) recordTx.immediate(receipts);
      }),
    forMessage: (messageId, uid) =>
      sqlite(() => (uid === undefined ? selectForMessage.all(messageId) : selectForMessageUid.all(messageId, uid)).map(toReceipt)),
    tally: (tallies) => sqlite(() => tallyTx.immediate(tallies)),
    talliesOf: (messageId) =>
      sqlite(() => selectTallies.all(messageId).map((row) => ({ messageId, channel: row.channel, state: row.state, count: row.count, at: row.at }))),
    queued: (channel: ChannelName, limit, after) =>
      sqlite(() =>
        (after === undefined ? selectQueued.all(channel, limit) : selectQueuedAfter.all(channel, after.messageId, after.uid, after.device ?? '', limit)).map(
          toReceipt,
        ),
      ),
  };
}
