/**
 * Ticket ledger port: remembers which WebSocket tickets were used, so a ticket opens one socket
 * only. A ticket is named by its `jti`; the ledger keeps it until the ticket expires (after that
 * the signature check refuses it anyway), so its size is bounded by tickets issued per TTL.
 *
 * Adapters: in memory (one process, embedded) and Redis (`SET NX PX`, shared by every gateway of
 * a cluster: src/auth/redis-ticket-ledger.ts). Both pass test/contract/ticket-ledger.contract.ts.
 */
export interface TicketLedger {
  /** Records `jti` as used until `expiresAtMs` (epoch ms): true the first time, false ever after. */
  claim(jti: string, expiresAtMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The ledger could not answer (Redis down): the upgrade is refused with 503, never let through. */
export class TicketLedgerUnavailableError extends Error {
  override name = 'TicketLedgerUnavailableError';
}

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
