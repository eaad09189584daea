/**
 * Cassandra ReceiptStore (tables: delivery_receipts, delivery_receipt_events,
 * delivery_receipts_queued; schema.ts). Guarantees, beyond the ReceiptStore port contract —
 * the same as the SQLite adapter's:
 *  - A receipt's key is (messageId, uid, channel, device); a channel-wide receipt (no device)
 *    is stored with device ''.
 *  - The current state per key follows `receiptMayMove` (../receipt-rule.ts).
 *    Each change is a compare-and-set on the state that was read (`IF NOT EXISTS` for the first
 *    receipt, `IF state = ?` after), so two writers racing on one receipt (a provider webhook
 *    and a channel worker) never move it backwards: the loser re-reads and re-applies the rule.
 *    Receipts that the rule rejects (duplicates, late states) cost one read and no write —
 *    except keys whose first receipt in the call is `queued` or `sent` (FIRST_STATES), which
 *    are usually new: those try the `IF NOT EXISTS` insert straight away (no read); when the
 *    receipt exists, the failed insert returns its state and the rule is applied to that.
 *  - A `sent` recorded with `neverQueued` (a socket delivery's: the key is never queued, so no
 *    queued row can need removing), alone for its key in the call and without a reason, is one
 *    plain write — no read, no Paxos — in one unlogged batch with its history row and its
 *    erasure-index row, sent with the other plain writes of the turn (`CqlSession.write`): the receipt is written at SENT_BEFORE_ANY_WRITE, a write timestamp
 *    below that of any other write (they use the real time), so whatever else is recorded for
 *    the key (a client's delivered or read, an expiry, an erasure's delete) wins over it
 *    whichever lands first — the forward-only rule, kept by Cassandra's last-write-wins. The
 *    timestamp falls as the receipt's `at` grows, so of two copies of one `sent` (a redelivered
 *    batch) the first stays, as the rule keeps it.
 *  - Receipts of one key in one call are applied in order, as if recorded one by one; different
 *    keys are written in parallel.
 *  - Every accepted change is appended to `delivery_receipt_events` (one row per state reached).
 *  - `delivery_receipts_queued` mirrors the receipts currently 'queued': the row is written before the
 *    receipt becomes queued and deleted after it leaves queued, so a crash leaves at worst a
 *    stale row, which `queued` checks against `delivery_receipts` and removes.
 *  - Each (uid, message) a call records receipts for gets its row in `receipt_messages_by_user`
 *    (the erasure's index, erase-user.ts) before the receipts are written (a plain `sent`: in
 *    its own batch) — one plain write per pair, skipped for pairs this process wrote lately
 *    (INDEXED_PAIRS_KEPT), so the later receipts of a delivery (sent, delivered, read) cost
 *    nothing more.
 *  - `forMessage` is ordered by uid, channel, device; `queued` by message id, uid, device
 *    (oldest first), resuming strictly after `after`.
 *  - Tallies are rows of `receipt_tallies` (migration 7), one per (message, channel, state,
 *    source), plain writes: a source's later count replaces its earlier one, while its time is
 *    written with a timestamp that falls as the time grows, so the first time stays;
 *    `talliesOf` sums one partition.
 */
import type { ChannelName, Receipt, ReceiptState, ReceiptTally } from '../../exchange/types.js';
import type { ReceiptStore, RecordOptions } from '../port.js';
import { receiptMayMove } from '../receipt-rule.js';
import { type CqlSession, DEFAULT_CONCURRENCY, long, mapLimit, type Statement, text } from './client.js';

/** (uid, message) pairs whose erasure-index row this process remembers writing; forgotten all at once past this. */
const INDEXED_PAIRS_KEPT = 50_000;

/** Compare-and-set attempts per receipt key before giving up (only under heavy contention). */
const CAS_ATTEMPTS = 5;

const COLUMNS = 'message_id, uid, channel, device, state, reason, at';
const INSERT_TALLY_COUNT = 'INSERT INTO receipt_tallies (message_id, channel, state, source, count) VALUES (?, ?, ?, ?, ?)';
/** Written with a timestamp that is higher for an earlier `at` (SENT_BEFORE_ANY_WRITE): the first time given stays. */
const SET_TALLY_AT = 'UPDATE receipt_tallies USING TIMESTAMP ? SET at = ? WHERE message_id = ? AND channel = ? AND state = ? AND source = ?';
/** In clustering order: channel, then state, then source. */
const SELECT_TALLIES = 'SELECT channel, state, count, at FROM receipt_tallies WHERE message_id = ?';
/**
 * States a receipt's history usually starts with: `queued` (triage, for provider channels) and
 * `sent` (realtime, recorded once the frame is out). Recording one of these first skips the read.
 */
const FIRST_STATES: ReadonlySet<ReceiptState> = new Set(['queued', 'sent']);

/**
 * The write timestamp (µs) of a plain `sent` recorded at `at` (ms): 10^15 µs after the epoch
 * (September 2001) less `at`, so below any real write time, and lower for a later `at`.
 */
const SENT_BEFORE_ANY_WRITE = (at: number): number => 1e15 - Math.max(0, Math.min(at, 1e14));

/** Whether `receipts` (one key's, in one call) can be recorded as one plain `sent` (see the header). */
const plainSent = (receipts: Receipt[], options: RecordOptions): boolean =>
  options.neverQueued === true && receipts.length === 1 && receipts[0]?.state === 'sent' && receipts[0].reason === undefined;

type Row = { get(name: string): unknown };

const toReceipt = (row: Row): Receipt => {
  const receipt: Receipt = {
    messageId: text(row.get('message_id')) as string,
    uid: text(row.get('uid')) as string,
    channel: text(row.get('channel')) as Receipt['channel'],
    state: text(row.get('state')) as ReceiptState,
    at: long(row.get('at')) ?? 0,
  };
  const device = text(row.get('device'));
  if (device) receipt.device = device;
  const reason = text(row.get('reason'));
  if (reason !== null) receipt.reason = reason;
  return receipt;
};

export function createCassandraReceiptStore(session: CqlSession): ReceiptStore {
  const KEY = 'message_id = ? AND uid = ? AND channel = ? AND device = ?';
  const SELECT_STATE = `SELECT state FROM delivery_receipts WHERE ${KEY}`;
  const SELECT_ONE = `SELECT ${COLUMNS} FROM delivery_receipts WHERE ${KEY}`;
  const INSERT_RECEIPT = `INSERT INTO delivery_receipts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`;
  const UPDATE_RECEIPT = `UPDATE delivery_receipts SET state = ?, reason = ?, at = ? WHERE ${KEY} IF state = ?`;
  const INSERT_EVENT = `INSERT INTO delivery_receipt_events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`;
  const INSERT_SENT = 'INSERT INTO delivery_receipts (message_id, uid, channel, device, state, at) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?';
  const INSERT_QUEUED = 'INSERT INTO delivery_receipts_queued (channel, message_id, uid, device, at) VALUES (?, ?, ?, ?, ?)';
  const DELETE_QUEUED = 'DELETE FROM delivery_receipts_queued WHERE channel = ? AND message_id = ? AND uid = ? AND device = ?';
  const SELECT_FOR_MESSAGE = `SELECT ${COLUMNS} FROM delivery_receipts WHERE message_id = ?`;
  const SELECT_FOR_MESSAGE_UID = `SELECT ${COLUMNS} FROM delivery_receipts WHERE message_id = ? AND uid = ?`;
  const SELECT_QUEUED = 'SELECT message_id, uid, device FROM delivery_receipts_queued WHERE channel = ? LIMIT ?';
  const INSERT_USER_MESSAGE = 'INSERT INTO receipt_messages_by_user (uid, message_id) VALUES (?, ?)';
  const indexedPairs = new Set<string>();
  /** The erasure-index rows of the pairs in `receipts` this process has not written lately. */
  const freshPairs = (receipts: Receipt[]): Map<string, Statement> => {
    const fresh = new Map<string, Statement>();
    for (const { uid, messageId } of receipts) {
      const pair = `${uid}\u0000${messageId}`;
      if (!indexedPairs.has(pair)) fresh.set(pair, { query: INSERT_USER_MESSAGE, params: [uid, messageId] });
    }
    return fresh;
  };
  const markIndexed = (pairs: Iterable<string>): void => {
    const list = [...pairs];
    if (indexedPairs.size + list.length > INDEXED_PAIRS_KEPT) indexedPairs.clear();
    for (const pair of list) indexedPairs.add(pair);
  };
  /** Writes the erasure-index rows of the pairs in `receipts` this process has not written lately. */
  const indexPairs = async (receipts: Receipt[]): Promise<void> => {
    const fresh = freshPairs(receipts);
    if (fresh.size === 0) return;
    await session.concurrently([...fresh.values()]);
    markIndexed(fresh.keys());
  };

  /** One plain `sent` (plainSent): the receipt, its history row and its erasure-index row in one request. */
  const recordSent = async (receipt: Receipt): Promise<void> => {
    const { messageId, uid, channel, at } = receipt;
    const device = receipt.device ?? '';
    const fresh = freshPairs([receipt]);
    await session.write([
      ...fresh.values(),
      { query: INSERT_SENT, params: [messageId, uid, channel, device, 'sent', at, SENT_BEFORE_ANY_WRITE(at)] },
      { query: INSERT_EVENT, params: [messageId, uid, channel, device, 'sent', undefined, at] },
    ]);
    markIndexed(fresh.keys());
  };

  const SELECT_QUEUED_AFTER =
    'SELECT message_id, uid, device FROM delivery_receipts_queued WHERE channel = ? AND (message_id, uid, device) > (?, ?, ?) LIMIT ?';

  /** Applies the receipts of one (messageId, uid, channel, device), in order. */
  const recordKey = async (receipts: Receipt[]): Promise<void> => {
    const { messageId, uid, channel } = receipts[0] as Receipt;
    const device = (receipts[0] as Receipt).device ?? '';
    // A key whose first receipt is one a receipt usually starts with is assumed new: the
    // `IF NOT EXISTS` insert is tried without reading first, and when a receipt is there after
    // all, the failed insert answers with its state and the rule is applied to that — the
    // same outcome as reading first, one request less in the common case.
    let current = FIRST_STATES.has((receipts[0] as Receipt).state)
      ? null
      : (text((await session.execute(SELECT_STATE, [messageId, uid, channel, device])).first()?.get('state')) as ReceiptState | null);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const accepted: Receipt[] = [];
      let state = current ?? undefined;
      for (const receipt of receipts) {
        if (!receiptMayMove(state, receipt.state)) continue;
        accepted.push(receipt);
        state = receipt.state;
      }
      const last = accepted[accepted.length - 1];
      if (!last) return;

      if (last.state === 'queued') await session.execute(INSERT_QUEUED, [channel, messageId, uid, device, last.at]);
      // A first receipt leaves an absent reason unset; a change clears the previous one (null).
      const result =
        current === null
          ? await session.execute(INSERT_RECEIPT, [messageId, uid, channel, device, last.state, last.reason, last.at])
          : await session.execute(UPDATE_RECEIPT, [last.state, last.reason ?? null, last.at, messageId, uid, channel, device, current]);
      if (result.wasApplied()) {
        const followUps: Statement[] = accepted.map((r) => ({ query: INSERT_EVENT, params: [messageId, uid, channel, device, r.state, r.reason, r.at] }));
        if (current === 'queued' && last.state !== 'queued') followUps.push({ query: DELETE_QUEUED, params: [channel, messageId, uid, device] });
        await session.concurrently(followUps);
        return;
      }
      // Lost the race: the conditional write answers with the state it found.
      current = text(result.first()?.get('state')) as ReceiptState | null;
    }
    throw new Error(`receipt ${messageId}/${uid}/${channel}/${device} kept changing under ${CAS_ATTEMPTS} compare-and-set attempts`);
  };

  return {
    record: async (receipts, options = {}) => {
      const byKey = new Map<string, Receipt[]>();
      for (const receipt of receipts) {
        const key = JSON.stringify([receipt.messageId, receipt.uid, receipt.channel, receipt.device ?? '']);
        const list = byKey.get(key);
        if (list) list.push(receipt);
        else byKey.set(key, [receipt]);
      }
      const plain: Receipt[] = [];
      const compared: Receipt[][] = [];
      for (const list of byKey.values()) {
        if (plainSent(list, options)) plain.push(list[0] as Receipt);
        else compared.push(list);
      }
      // The compared keys' index rows go first; a plain sent carries its own in its batch.
      if (compared.length > 0) await indexPairs(compared.flat());
      await Promise.all([mapLimit(plain, DEFAULT_CONCURRENCY, recordSent), mapLimit(compared, DEFAULT_CONCURRENCY, recordKey)]);
    },

    forMessage: async (messageId, uid) => {
      const receipts: Receipt[] = [];
      const rows = uid === undefined ? session.rows(SELECT_FOR_MESSAGE, [messageId]) : session.rows(SELECT_FOR_MESSAGE_UID, [messageId, uid]);
      for await (const row of rows) receipts.push(toReceipt(row));
      return receipts;
    },

    tally: async (tallies) => {
      await mapLimit(tallies, DEFAULT_CONCURRENCY, (t) =>
        session.batch(
          [
            { query: INSERT_TALLY_COUNT, params: [t.messageId, t.channel, t.state, t.source, t.count] },
            { query: SET_TALLY_AT, params: [SENT_BEFORE_ANY_WRITE(t.at), t.at, t.messageId, t.channel, t.state, t.source] },
          ],
          false,
        ),
      );
    },

    talliesOf: async (messageId) => {
      const sums = new Map<string, Omit<ReceiptTally, 'source'>>();
      for await (const row of session.rows(SELECT_TALLIES, [messageId])) {
        const channel = text(row.get('channel')) as ChannelName;
        const state = text(row.get('state')) as ReceiptState;
        const count = long(row.get('count')) ?? 0;
        const at = long(row.get('at')) ?? 0;
        const key = `${channel}|${state}`;
        const sum = sums.get(key);
        if (sum) {
          sum.count += count;
          sum.at = Math.min(sum.at, at);
        } else sums.set(key, { messageId, channel, state, count, at });
      }
      return [...sums.values()];
    },

    queued: async (channel: ChannelName, limit, after) => {
      const found: Receipt[] = [];
      let cursor = after;
      while (found.length < limit) {
        const want = limit - found.length;
        const page = cursor
          ? await session.execute(SELECT_QUEUED_AFTER, [channel, cursor.messageId, cursor.uid, cursor.device ?? '', want], { fetchSize: want })
          : await session.execute(SELECT_QUEUED, [channel, want], { fetchSize: want });
        const keys = page.rows.map((row) => ({
          messageId: text(row.get('message_id')) as string,
          uid: text(row.get('uid')) as string,
          device: text(row.get('device')) ?? '',
        }));
        const currents = await mapLimit(keys, DEFAULT_CONCURRENCY, async (key) =>
          (await session.execute(SELECT_ONE, [key.messageId, key.uid, channel, key.device])).first(),
        );
        for (const [index, row] of currents.entries()) {
          const key = keys[index] as { messageId: string; uid: string; device: string };
          if (row && text(row.get('state')) === 'queued') found.push(toReceipt(row));
          else await session.execute(DELETE_QUEUED, [channel, key.messageId, key.uid, key.device]);
        }
        if (keys.length < want) break;
        cursor = keys[keys.length - 1];
      }
      return found;
    },
  };
}
