/**
 * Redis TicketLedger adapter (distributed mode), on ioredis: one `SET <prefix>:<jti> 1 NX PX <ttl>`
 * per upgrade, atomic across every gateway of the cluster. The key lives until the ticket expires
 * plus a margin for clock skew between the issuing API process and Redis; Redis reclaims it then.
 * Redis failures reject with TicketLedgerUnavailableError; a command waits at most
 * `commandTimeoutMs`.
 */
import { createRedisClient, redisHost } from '../../redis-client.js';
import { type TicketLedger, TicketLedgerUnavailableError } from '../port.js';

export interface RedisTicketLedgerOptions {
  /** e.g. `redis://127.0.0.1:6379` */
  url: string;
  /** Key prefix. Default `herald:tickets`. */
  prefix?: string;
  commandTimeoutMs?: number;
}

/** Kept this much longer than the ticket's own expiry, for clock skew between processes. */
const SKEW_MARGIN_MS = 30_000;

export function createRedisTicketLedger(options: RedisTicketLedgerOptions): TicketLedger {
  const prefix = options.prefix ?? 'herald:tickets';
  const redis = createRedisClient(options.url, { name: 'herald-tickets', commandTimeoutMs: options.commandTimeoutMs ?? 2_000, maxRetriesPerRequest: 2 });
  return {
    async claim(jti, expiresAtMs) {
      const ttl = Math.max(1, Math.ceil(expiresAtMs - Date.now())) + SKEW_MARGIN_MS;
      try {
        return (await redis.set(`${prefix}:${jti}`, '1', 'PX', ttl, 'NX')) === 'OK';
      } catch (err) {
        throw new TicketLedgerUnavailableError(`ticket ledger: Redis at ${redisHost(options.url)} did not answer`, { cause: err });
      }
    },
    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
