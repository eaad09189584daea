/**
 * The outbox: receipts taken (markRead, markClicked, markAllRead, archive) that Herald has not
 * accepted yet, sent oldest first. Each is removed only once Herald answered 2xx, so one sent
 * just before the page closed may be sent again by the next page: receipts are idempotent (a
 * read stays read). One that cannot be sent now (no answer, 429, 5xx) stops the flush and stays
 * first, and so does one refused for its token (401: expired or revoked, a fault of the caller's
 * credentials, not of the receipt), which the next flush sends with the token it has then. One
 * Herald refuses for itself (another 4xx) is dropped and reported, so it cannot block the rest.
 */
import { HeraldError } from './errors.js';
import type { InboxOp } from './inbox.js';
import type { OfflineStore, ReceiptBody } from './store.js';

export interface FlushOutcome {
  /** The outbox is empty. */
  done: boolean;
  sent: Set<number>;
  /** Entries Herald refused, dropped. */
  failed: Map<number, HeraldError>;
  /** Why it stopped before the end. */
  error?: Error;
}

export async function flushOutbox(
  store: OfflineStore,
  scope: string,
  send: (body: ReceiptBody) => Promise<unknown>,
  refused: (error: HeraldError, key: number) => void,
): Promise<FlushOutcome> {
  const outcome: FlushOutcome = { done: false, sent: new Set(), failed: new Map() };
  try {
    for (;;) {
      const [entry] = await store.queued(scope);
      if (!entry) {
        outcome.done = true;
        return outcome;
      }
      try {
        await send(entry.body);
        outcome.sent.add(entry.key);
      } catch (error) {
        if (!(error instanceof HeraldError) || error.transient || error.status === 401) throw error;
        outcome.failed.set(entry.key, error);
        refused(error, entry.key);
      }
      await store.dequeue(entry.key);
    }
  } catch (error) {
    outcome.error = error as Error;
    return outcome;
  }
}

/** Receipt bodies for `ids`, at most `per` ids each. */
export function receiptBodies(ids: string[], state: 'read' | 'archived', per: number): ReceiptBody[] {
  const bodies: ReceiptBody[] = [];
  for (let i = 0; i < ids.length; i += per) bodies.push({ ids: ids.slice(i, i + per), state });
  return bodies;
}

/** What a queued receipt does to the inbox (applied again over a fresh page until it is sent). */
export function opOf(body: ReceiptBody): InboxOp {
  if ('all' in body) return { kind: 'all-read', at: new Date().toISOString() };
  if (body.state === 'archived') return { kind: 'remove', ids: body.ids, why: 'archived' };
  return { kind: 'read', ids: body.ids, at: new Date().toISOString() };
}
