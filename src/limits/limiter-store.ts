/**
 * Where the counters of the rate limits (src/api/rate-limits.ts) and of the caps
 * (src/pipeline/caps.ts) live (rate-limiter-flexible): in this process (RateLimiterMemory) when
 * embedded, in Redis (RateLimiterRedis on ioredis) when HERALD_REDIS_URL is set, so every process
 * of a cluster counts against one budget. Keys are `<clusterName>:rl:<limit>:<key>`.
 *
 * Redis down: a counter that cannot be reached must not turn requests into 500s. Each Redis
 * limiter carries an in-memory twin with the same points and window; while Redis does not answer
 * (not connected, or a command takes longer than `commandTimeoutMs`) the process counts on its
 * twin, so a cluster of N processes then allows at most N times each limit, and a warning is
 * logged (at most once per 30 s). Counting returns to Redis as soon as it answers again.
 */

import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../observability/log.js';
import { createRedisClient, redisHost } from '../redis-client.js';

/** One counter: `points` per `durationSeconds` window per key. */
export interface Limiter {
  readonly points: number;
  /** Counts one; resolves with what is left, or rejects with the RateLimiterRes of a refusal. */
  consume(key: string): Promise<RateLimiterRes>;
}

export interface LimiterStore {
  limiter(name: string, points: number, durationSeconds: number): Limiter;
  close(): Promise<void>;
}

export interface LimiterStoreOptions {
  /** Redis URL; unset: counters in this process. */
  redisUrl?: string;
  /** Namespace of the keys (HERALD_CLUSTER_NAME). */
  prefix: string;
  log: Logger;
  /** Longest a Redis command may take before the in-memory twin counts instead. Default 500. */
  commandTimeoutMs?: number;
}

const WARN_EVERY_MS = 30_000;

/** Longest start-up waits for Redis before counting in this process until it connects. */
const CONNECT_WAIT_MS = 3_000;

/** Resolves once Redis is connected (or after CONNECT_WAIT_MS, with a warning: start-up does not depend on it). */
export async function createLimiterStore(options: LimiterStoreOptions): Promise<LimiterStore> {
  const keyPrefix = (name: string) => `${options.prefix}:rl:${name}`;
  if (!options.redisUrl) {
    return {
      limiter(name, points, durationSeconds) {
        const memory = new RateLimiterMemory({ keyPrefix: keyPrefix(name), points, duration: durationSeconds });
        return { points, consume: (key) => memory.consume(key) };
      },
      async close() {},
    };
  }

  const url = options.redisUrl;
  // Fail at once while disconnected instead of queueing: the in-memory twin counts meanwhile.
  const redis = createRedisClient(url, {
    name: 'herald-limits',
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    maxRetriesPerRequest: 1,
    failWhileDisconnected: true,
  });
  // Never the URL itself in logs: it may carry a password.
  const where = redisHost(url);
  let warnedAt = 0;
  const warn = (err: unknown) => {
    const now = Date.now();
    if (now - warnedAt < WARN_EVERY_MS) return;
    warnedAt = now;
    options.log.warn({ err, redis: where }, 'limits: Redis did not answer; counting in this process until it does');
  };
  const connected = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), CONNECT_WAIT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!connected) warn(new Error(`not connected after ${CONNECT_WAIT_MS} ms`));

  return {
    limiter(name, points, durationSeconds) {
      const shared = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: keyPrefix(name),
        points,
        duration: durationSeconds,
        rejectIfRedisNotReady: true,
      });
      const twin = new RateLimiterMemory({ keyPrefix: keyPrefix(name), points, duration: durationSeconds });
      return {
        points,
        async consume(key) {
          try {
            return await shared.consume(key);
          } catch (err) {
            if (err instanceof RateLimiterRes) throw err;
            warn(err);
            return twin.consume(key);
          }
        },
      };
    },
    async close() {
      redis.disconnect();
    },
  };
}
