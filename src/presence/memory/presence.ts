/**
 * In-process Presence adapter (embedded mode). A user is online while at least one holder's
 * touch is younger than the TTL that touch gave; `leave` forgets one holder at once. Expired
 * entries are dropped when looked at and, amortised, by a sweep of the whole table, so memory
 * stays proportional to users online recently. The clock is injectable for tests.
 */
import type { Presence } from '../port.js';

export function createMemoryPresence(now: () => number = Date.now): Presence {
  /** uid → holder → expiry (epoch ms). */
  const table = new Map<string, Map<string, number>>();
  let touchesSinceSweep = 0;

  const sweep = (): void => {
    const t = now();
    for (const [uid, holders] of table) {
      for (const [holder, expiresAt] of holders) if (expiresAt <= t) holders.delete(holder);
      if (holders.size === 0) table.delete(uid);
    }
    touchesSinceSweep = 0;
  };

  const isOnline = (uid: string, t: number): boolean => {
    const holders = table.get(uid);
    if (!holders) return false;
    let online = false;
    for (const [holder, expiresAt] of holders) {
      if (expiresAt > t) online = true;
      else holders.delete(holder);
    }
    if (holders.size === 0) table.delete(uid);
    return online;
  };

  const leave = (uid: string, holder: string): void => {
    const holders = table.get(uid);
    if (!holders) return;
    holders.delete(holder);
    if (holders.size === 0) table.delete(uid);
  };

  return {
    async touch(uid, holder, ttlMs) {
      if (!(ttlMs > 0)) {
        leave(uid, holder);
        return;
      }
      let holders = table.get(uid);
      if (!holders) {
        holders = new Map();
        table.set(uid, holders);
      }
      holders.set(holder, now() + ttlMs);
      if (++touchesSinceSweep >= Math.max(1024, table.size)) sweep();
    },

    async leave(uid, holder) {
      leave(uid, holder);
    },

    async onlineAmong(uids) {
      const t = now();
      const online = new Set<string>();
      for (const uid of uids) if (isOnline(uid, t)) online.add(uid);
      return online;
    },

    async close() {
      table.clear();
    },
  };
}
