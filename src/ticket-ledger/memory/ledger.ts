/** The in-memory TicketLedger adapter (embedded: one process holds every socket). */
import type { TicketLedger } from '../port.js';

/** Used tickets of this process, forgotten once expired (swept at most once a second). */
export function createMemoryTicketLedger(now: () => number = Date.now): TicketLedger {
  const used = new Map<string, number>();
  let nextSweep = 0;
  const sweep = (t: number) => {
    if (t < nextSweep) return;
    nextSweep = t + 1000;
    for (const [jti, expiresAt] of used) if (expiresAt <= t) used.delete(jti);
  };
  return {
    async claim(jti, expiresAtMs) {
      const t = now();
      sweep(t);
      const known = used.get(jti);
      if (known !== undefined && known > t) return false;
      used.set(jti, expiresAtMs);
      return true;
    },
    async close() {
      used.clear();
    },
  };
}
