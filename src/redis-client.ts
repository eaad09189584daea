/**
 * The ioredis clients of Herald's Redis adapters (presence, the ticket ledger, the rate limits):
 * one way to open them — a connection name, a bound on each command, failures surfacing through
 * the commands that fail (without an `error` listener ioredis would report every reconnect
 * attempt as an unhandled error) — and one way to name the server in errors and logs: its host,
 * never the URL, which may carry a password.
 */
import { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** CLIENT SETNAME, e.g. `herald-presence`. */
  name: string;
  /** A command not answered this long fails. */
  commandTimeoutMs: number;
  /** Reconnections a command waits through before it fails. */
  maxRetriesPerRequest: number;
  /** Fail at once while disconnected instead of queueing commands (default: queue). */
  failWhileDisconnected?: boolean;
}

export function createRedisClient(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    ...(options.failWhileDisconnected === true ? { enableOfflineQueue: false } : {}),
  });
  redis.on('error', () => {});
  return redis;
}

/** The server of a Redis URL as errors and logs may name it: `host:port`, without credentials. */
export function redisHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable URL)';
  }
}
