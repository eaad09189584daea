/**
 * The forward-only rule for receipt states, per (messageId, uid, channel, device). Pure; every
 * ReceiptStore adapter (SQLite, Cassandra) applies exactly this rule.
 *
 *  - Progress states rank queued < sent < delivered < read < clicked; a progress state is
 *    accepted only when it ranks above the current one (equal states are duplicates).
 *  - failed / expired / suppressed are final: once one is current, nothing replaces it.
 *  - A final state is accepted only while the receipt has not reached delivered: once the
 *    recipient has the message (delivered, read, clicked), a late failure or expiry is ignored.
 *  - With no current state, any state is accepted.
 */
import type { ReceiptState } from '../exchange/types.js';

const PROGRESS_RANK: Partial<Record<ReceiptState, number>> = {
  queued: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  clicked: 4,
};

export const isFinalReceiptState = (state: ReceiptState): boolean => PROGRESS_RANK[state] === undefined;

/** True when `next` may replace `current` (undefined: no receipt yet). */
export function receiptMayMove(current: ReceiptState | undefined, next: ReceiptState): boolean {
  if (current === undefined) return true;
  const currentRank = PROGRESS_RANK[current];
  if (currentRank === undefined) return false;
  const nextRank = PROGRESS_RANK[next];
  if (nextRank === undefined) return currentRank < (PROGRESS_RANK.delivered as number);
  return nextRank > currentRank;
}
