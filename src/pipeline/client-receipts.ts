/**
 * Receipts reported by clients (WebSocket `ack`/`read` frames, POST /api/v1/receipts).
 *
 * A client may only report on messages in its own inbox; ids of other users' messages are
 * ignored, so nothing reveals whether they exist. A `read` or `clicked` from any channel marks
 * the inbox entry read. A broadcast reaches live sockets before triage has written every inbox
 * entry, so an ack for a broadcast the user has no entry for yet adds the entry first.
 */
import { fallbackJobId } from '../exchange/fallback.js';
import type { ChannelName, Receipt } from '../exchange/types.js';
import type { PipelineDeps } from './deps.js';
import { recordReceipts } from './receipts.js';

export type ClientReceiptState = 'delivered' | 'read' | 'clicked';

export async function recordClientReceipts(
  deps: Pick<PipelineDeps, 'stores' | 'metrics' | 'search' | 'log' | 'scheduler'>,
  uid: string,
  ids: string[],
  state: ClientReceiptState,
  channel: ChannelName | 'inbox',
  at: number,
): Promise<string[]> {
  const inboxState = state === 'delivered' ? 'delivered' : 'read';
  const unique = [...new Set(ids)];
  const found = new Set(await deps.stores.inbox.mark(uid, unique, inboxState, at));
  for (const id of unique) {
    if (found.has(id)) continue;
    const stored = await deps.stores.messages.get(id);
    if (stored?.message.target.kind === 'everyone' && stored.status !== 'scheduled') {
      await deps.stores.inbox.add([uid], stored.message);
      if ((await deps.stores.inbox.mark(uid, [id], inboxState, at)).length > 0) found.add(id);
    }
  }
  if (found.size === 0) return [];
  // "Never email what was read live": a read cancels the message's pending fallback.
  if (state !== 'delivered') for (const id of found) await deps.scheduler.cancel(fallbackJobId(id, uid));
  const receipts: Receipt[] = [...found].map((messageId) => ({ messageId, uid, channel, state, at }));
  // The receipt does not carry the message's urgency the reports group by: the recorder reads it.
  await recordReceipts(deps, receipts);
  return [...found];
}
