/**
 * Recording receipts: the one way every step writes them (triage, delivery, fallback, digest,
 * recovery, client receipts, provider callbacks through src/api). Receipts of a message created
 * before its recipient was erased are dropped first (erasure.ts). Recording means, in order:
 *  1. the receipt store write — awaited: when `recordReceipts` resolves the receipts are durable
 *     (`options` go to the store: what the caller knows of the keys, ReceiptStore.record);
 *  2. `herald_receipts_total{channel, state}` incremented once per receipt given (the store may
 *     still refuse a backward move; the counter counts what was recorded, as it always has);
 *  3. the search index for reports, which groups by the message's urgency: the caller passes it
 *     when it has the message, otherwise it is read from the message store once per message id.
 *     Indexing is fire-and-forget: a failure is logged as a warning, never thrown, and a receipt
 *     whose message is not stored is not indexed.
 * Tallies (`recordTallies`: the sockets a gateway's publish of a timeline message reached, in
 * place of a receipt per user) go the same three ways, the counter by their count.
 */
import type { Receipt, ReceiptTally, Urgency } from '../exchange/types.js';
import type { RecordOptions } from '../store/port.js';
import type { PipelineDeps } from './deps.js';

export type ReceiptDeps = Pick<PipelineDeps, 'stores' | 'metrics' | 'search' | 'log' | 'erasures'>;

export async function recordReceipts(deps: ReceiptDeps, given: Receipt[], urgency?: Urgency, options?: RecordOptions): Promise<void> {
  const erasures = deps.erasures;
  const receipts = erasures ? given.filter((r) => !erasures.covers(r.uid, r.messageId)) : given;
  if (receipts.length === 0) return;
  await deps.stores.receipts.record(receipts, options);
  count(deps, receipts);
  indexForReports(deps, receipts, urgency).catch((error: unknown) => deps.log.warn({ err: error }, 'receipts not indexed'));
}

/** One counter increment per (channel, state) of the batch: a broadcast page records hundreds at once. */
function count(deps: ReceiptDeps, receipts: Receipt[]): void {
  const counts = new Map<string, { channel: string; state: string; n: number }>();
  for (const { channel, state } of receipts) {
    const key = `${channel}|${state}`;
    const seen = counts.get(key);
    if (seen) seen.n += 1;
    else counts.set(key, { channel, state, n: 1 });
  }
  for (const { channel, state, n } of counts.values()) deps.metrics.receipts.inc({ channel, state }, n);
}

async function indexForReports(deps: ReceiptDeps, receipts: Receipt[], urgency: Urgency | undefined): Promise<void> {
  const indexed = urgency !== undefined ? receipts.map((r) => ({ ...r, urgency })) : await withUrgency(deps, receipts);
  if (indexed.length > 0) await deps.search.indexReceipts(indexed);
}

export async function recordTallies(deps: ReceiptDeps, tallies: ReceiptTally[]): Promise<void> {
  if (tallies.length === 0) return;
  await deps.stores.receipts.tally(tallies);
  for (const { channel, state, count } of tallies) deps.metrics.receipts.inc({ channel, state }, count);
  withUrgency(deps, tallies)
    .then((indexed) => (indexed.length > 0 ? deps.search.indexTallies(indexed) : undefined))
    .catch((error: unknown) => deps.log.warn({ err: error }, 'tallies not indexed'));
}

/** `items` with their message's urgency, read once per message id; those of a message not stored are left out. */
async function withUrgency<T extends { messageId: string }>(deps: ReceiptDeps, items: T[]): Promise<Array<T & { urgency: Urgency }>> {
  const ids = [...new Set(items.map((item) => item.messageId))];
  const stored = await Promise.all(ids.map((id) => deps.stores.messages.get(id)));
  const urgencyOf = new Map(ids.flatMap((id, i) => (stored[i] ? [[id, stored[i].message.urgency] as const] : [])));
  return items.flatMap((item) => {
    const urgency = urgencyOf.get(item.messageId);
    return urgency ? [{ ...item, urgency }] : [];
  });
}
