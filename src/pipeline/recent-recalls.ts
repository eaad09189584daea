/**
 * The recalls a triage process heard of (src/pipeline/recall.ts emits one on
 * `herald.messages.recalled` after each recall's write), so that the first triage of a just
 * accepted message can trust the copy its event carries instead of reading it back (triage.ts).
 *
 * The copy can be trusted when every recall of the message would have been heard: the process
 * has listened without a gap since before the message was created, and has forgotten no recall
 * since. A message is recalled only after it is created, so that holds when the message's id
 * time (its creation, by the accepting process's clock) is at least `clockSkewMs` past the
 * moment the listening began (by this process's clock): `clockSkewMs` is how far ahead another
 * process's clock may run. A gap in the listening (the bus lost its connection: signals sent
 * meanwhile are gone) or a recall forgotten to stay within `limit` moves that moment to now.
 * Any other message is read back, as before.
 */
import { idTime } from '../ids.js';

/** The signal every triage process hears when a message is recalled. */
export interface MessageRecalled {
  id: string;
}

export interface RecentRecalls {
  note(recalled: MessageRecalled): void;
  /** Signals may have been missed (the bus connection was lost or restored). */
  gap(): void;
  /**
   * What is known of message `id` without a read: `recalled` (heard of), `not-recalled` (it
   * would have been heard of), or `unknown` (read it).
   */
  status(id: string): 'recalled' | 'not-recalled' | 'unknown';
}

/** Recalls remembered, the newest. Recalls are rare: this holds hours of them. */
export const RECENT_RECALLS_KEPT = 100_000;
/** How far ahead of this process's clock another process's may run, on a cluster bus (NTP keeps it to milliseconds). */
export const CLUSTER_CLOCK_SKEW_MS = 5_000;

export function createRecentRecalls(options: { clockSkewMs: number; limit?: number; now?: () => number }): RecentRecalls {
  const limit = options.limit ?? RECENT_RECALLS_KEPT;
  const now = options.now ?? Date.now;
  const recalled = new Set<string>();
  let listeningSince = now();
  return {
    note({ id }) {
      if (typeof id !== 'string' || recalled.has(id)) return;
      recalled.add(id);
      if (recalled.size > limit) {
        recalled.delete(recalled.values().next().value as string);
        // The forgotten recall was of a message created before now.
        listeningSince = now();
      }
    },
    gap() {
      listeningSince = now();
    },
    status(id) {
      if (recalled.has(id)) return 'recalled';
      return idTime(id) >= listeningSince + options.clockSkewMs ? 'not-recalled' : 'unknown';
    },
  };
}
