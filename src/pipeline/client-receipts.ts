/**
 * Receipts reported by clients (WebSocket `ack`/`read` frames, POST /api/v1/receipts).
 *
 * A client may only report on messages in its own inbox; ids of other users' messages are
 * ignored, so nothing reveals whether they exist. A `read` or `clicked` from any channel marks
 * the inbox entry read. A broadcast or thread message is in its timeline before any frame of it
 * goes out (triage.ts), so an ack always finds it.
 *
 * "Mark all read" (`recordAllRead`) reads every unread entry of the user that arrived up to the
 * request, a page at a time from the newest, and records each page as a `read` like the above:
 * inbox entries, receipts and cancelled fallbacks. Its cost grows with that user's unread entries
 * only.
 */
import { fallbackJobId } from '../exchange/fallback.js';
import type { ChannelName, Receipt } from '../exchange/types.js';
import type { PipelineDeps } from './deps.js';
import { recordReceipts } from './receipts.js';
import { type WithdrawSource, withdrawCopies } from './withdraw.js';

export type ClientReceiptState = 'delivered' | 'read' | 'clicked';

export type ClientReceiptDeps = Pick<PipelineDeps, 'stores' | 'metrics' | 'search' | 'log' | 'scheduler' | 'bus' | 'traits' | 'channels'>;

/**
 * `source` says who reported: a device (a receipt capability's, whose receipt is then that
 * device's) or a socket. The first read or click of a message withdraws its copies everywhere
 * else (src/pipeline/withdraw.ts); later ones do not again.
 */
export async function recordClientReceipts(
  deps: ClientReceiptDeps,
  uid: string,
  ids: string[],
  state: ClientReceiptState,
  channel: ChannelName | 'inbox',
  at: number,
  source: WithdrawSource = {},
): Promise<string[]> {
  const inboxState = state === 'delivered' ? 'delivered' : 'read';
  const found = await markOwn(deps, uid, ids, inboxState, at);
  if (found.size === 0) return [];
  // "Never email what was read live": a read cancels the message's pending fallback.
  if (state !== 'delivered') for (const id of found) await deps.scheduler.cancel(fallbackJobId(id, uid));
  const device = source.device !== undefined ? { device: source.device } : {};
  const receipts: Receipt[] = [...found].map((messageId) => ({ messageId, uid, channel, ...device, state, at }));
  // The receipt does not carry the message's urgency the reports group by: the recorder reads it.
  await recordReceipts(deps, receipts);
  if (state !== 'delivered') {
    const newlyRead = await readFirstAt(deps, uid, [...found], at);
    if (newlyRead.length > 0) await withdrawCopies(deps, uid, newlyRead, 'read', source);
  }
  return [...found];
}

/**
 * The ids whose inbox entry was first read now (`at`): the stores keep the first read time, so
 * an entry read before keeps an earlier one. Its copies were withdrawn then: reading it again,
 * or clicking it after reading it, sends no second withdrawal.
 */
async function readFirstAt(deps: ClientReceiptDeps, uid: string, ids: string[], at: number): Promise<string[]> {
  const entries = await Promise.all(ids.map((id) => deps.stores.inbox.get(uid, id)));
  return ids.filter((_, i) => entries[i]?.readAt === at);
}

/**
 * Archives messages of `uid`'s inbox: they are no longer listed or counted (InboxStore), their
 * pending fallbacks are cancelled (the user dealt with them), and their receipts stay as they
 * are, so reports still count them. No receipt is recorded: archiving is the inbox's state, not
 * a delivery's.
 */
export async function recordArchived(deps: ClientReceiptDeps, uid: string, ids: string[], at: number): Promise<string[]> {
  const found = await markOwn(deps, uid, ids, 'archived', at);
  for (const id of found) await deps.scheduler.cancel(fallbackJobId(id, uid));
  return [...found];
}

/** Marks the entries of `uid`'s inbox among `ids` (own entries and the timeline messages the user sees); returns the ids found. */
async function markOwn(deps: ClientReceiptDeps, uid: string, ids: string[], state: 'delivered' | 'read' | 'archived', at: number): Promise<Set<string>> {
  return new Set(await deps.stores.inbox.mark(uid, [...new Set(ids)], state, at));
}

/** A page of "mark all read": as many as one POST /api/v1/receipts may name. */
const ALL_READ_PAGE = 200;

/** Marks read every entry of `uid`'s inbox that was unread and created by `at`; returns how many. */
export async function recordAllRead(deps: ClientReceiptDeps, uid: string, channel: ChannelName | 'inbox', at: number): Promise<number> {
  let marked = 0;
  let before: string | undefined;
  for (;;) {
    const page = await deps.stores.inbox.list(uid, { limit: ALL_READ_PAGE, unreadOnly: true, ...(before ? { before } : {}) });
    if (page.length === 0) return marked;
    const ids = page.filter((item) => item.message.createdAt <= at).map((item) => item.message.id);
    if (ids.length > 0) marked += (await recordClientReceipts(deps, uid, ids, 'read', channel, at)).length;
    if (page.length < ALL_READ_PAGE) return marked;
    before = page[page.length - 1]?.message.id;
  }
}
