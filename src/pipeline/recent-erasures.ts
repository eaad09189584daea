/**
 * The erasures a process heard of lately (src/pipeline/erasure.ts): `recordReceipts` asks it
 * whether a late receipt belongs to a user erased after its message was created.
 */
import { idTime } from '../ids.js';

/** The signal every process hears when a user is erased. */
export interface UserErased {
  uid: string;
  at: number;
}

/** Erasures this process heard of lately (at most `limit`, the oldest forgotten first). */
export interface RecentErasures {
  note(erased: UserErased): void;
  /** True when `uid` was erased at or after the creation of message `messageId` (a UUIDv7). */
  covers(uid: string, messageId: string): boolean;
}

export const RECENT_ERASURES_KEPT = 10_000;

export function createRecentErasures(limit = RECENT_ERASURES_KEPT): RecentErasures {
  const erasedAt = new Map<string, number>();
  return {
    note({ uid, at }) {
      erasedAt.delete(uid);
      erasedAt.set(uid, at);
      if (erasedAt.size > limit) erasedAt.delete(erasedAt.keys().next().value as string);
    },
    covers(uid, messageId) {
      const at = erasedAt.get(uid);
      return at !== undefined && idTime(messageId) <= at;
    },
  };
}
