/**
 * Counting the per-user cap on intrusive channels (HERALD_CAP_PER_HOUR; what counts and what a
 * capped plan becomes: src/exchange/caps.ts). Counted with rate-limiter-flexible in the limiter
 * store (src/limits/limiter-store.ts): in this process when embedded, in Redis when
 * HERALD_REDIS_URL is set, so every triage worker of a cluster counts against one budget per
 * user. The window is an hour from the user's first counted message (rate-limiter-flexible's
 * fixed window per key), not the clock hour.
 *
 * Redelivery never counts a user twice for one message, and never changes a decision:
 *  - The count is keyed by the message: a first limiter, `cap-seen`, one point per
 *    (user, message id) per hour, answers whether this (user, message) was counted already; only
 *    the first time does the user's `cap` counter take a point. So a triage that runs again
 *    (a bus redelivery, a page planned again after a crash) does not count again.
 *  - A (user, message) counted before is decided as it was the first time, read from the
 *    record: over the cap when a receipt of that message for that user has reason `cap`, within
 *    it otherwise. A decision whose receipts were never written (a crash between the count and
 *    the receipt write) is decided "within": the push goes out, nothing is lost, and the
 *    delivery worker's dedupe per (message, user, channel, device) sends it once.
 *  - A message triaged again after the hour (Herald down for longer mid-triage) is counted as a
 *    new one in the new window.
 * Limiter failures are the store's business (Redis down: it counts in this process meanwhile).
 */
import { RateLimiterRes } from 'rate-limiter-flexible';
import { isCapReceipt } from '../exchange/caps.js';
import type { LimiterStore } from '../limits/limiter-store.js';
import type { ReceiptStore } from '../store/port.js';

export interface Caps {
  /** Counts `message` once for each of `uids` (recipients whose plan counts) and answers those over their cap. */
  over(messageId: string, uids: readonly string[]): Promise<Set<string>>;
}

const HOUR_SECONDS = 3600;

/** The cap counter, or none when `perHour` is 0 (no cap). */
export function createCaps(store: LimiterStore, perHour: number, receipts: Pick<ReceiptStore, 'forMessage'>): Caps | undefined {
  if (perHour <= 0) return undefined;
  const seen = store.limiter('cap-seen', 1, HOUR_SECONDS);
  const cap = store.limiter('cap', perHour, HOUR_SECONDS);

  /** Resolves true when the limiter counted the key, false when it refused it. */
  const passes = async (consume: Promise<RateLimiterRes>): Promise<boolean> => {
    try {
      await consume;
      return true;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return false;
      throw refusal;
    }
  };

  const isOver = async (messageId: string, uid: string): Promise<boolean> => {
    if (await passes(seen.consume(JSON.stringify([uid, messageId])))) return !(await passes(cap.consume(uid)));
    const recorded = await receipts.forMessage(messageId, uid);
    return recorded.some(isCapReceipt);
  };

  return {
    async over(messageId, uids) {
      const decisions = await Promise.all(uids.map(async (uid) => [uid, await isOver(messageId, uid)] as const));
      return new Set(decisions.filter(([, over]) => over).map(([uid]) => uid));
    },
  };
}
