/**
 * Ticket ledger port: remembers which WebSocket tickets were used, so a ticket opens one socket
 * only. A ticket is named by its `jti`; the ledger keeps it until the ticket expires (after that
 * the signature check refuses it anyway), so its size is bounded by tickets issued per TTL.
 * It also remembers the web push renewals used (`renew:<device>:<endpoint hash>`,
 * src/auth/capabilities.ts), so a subscription is replaced once.
 *
 * Adapters: in memory (one process, embedded: src/ticket-ledger/memory/) and Redis (`SET NX PX`,
 * shared by every gateway of a cluster: src/ticket-ledger/redis/). Both pass test/contract/ticket-ledger.contract.ts.
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
