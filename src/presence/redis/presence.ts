/**
 * Redis Presence adapter (distributed mode), on ioredis.
 *
 * Why Redis and not NATS KV: presence needs a TTL per (user, holder) entry, given by each touch.
 * NATS 2.9 KV has only a bucket-wide max age (per-message TTL came in 2.11), and it answers one key
 * per request, so `onlineAmong` over a page of 500 recipients would be 500 requests. Redis has
 * per-key expiry and answers a whole page in one pipelined round trip.
 *
 * Layout: one sorted set per user, `<prefix>:<uid>`, member = holder (gateway process id),
 * score = that holder's expiry in Redis server time (epoch ms). Guarantees:
 *  - A user is online while at least one holder's expiry is in the future: `onlineAmong` sends one
 *    pipeline (`TIME` plus `ZRANGE key -1 -1 WITHSCORES` per distinct uid, i.e. the latest expiry)
 *    and compares on the Redis clock. Every comparison uses the Redis clock, so clock skew between
 *    gateways and workers cannot make users look online or offline.
 *  - `touch` is one Lua script (atomic): drops the user's expired holders, sets this holder's
 *    expiry to now + ttl (a later touch replaces an earlier one, shorter or longer), and sets the
 *    key to expire with its latest holder, so Redis reclaims users nobody holds any more.
 *    A non-positive TTL counts as leaving, as in the memory adapter.
 *  - `leave` removes one holder (the key goes when its last holder does).
 *  - Redis failures reject with `PresenceUnavailableError` (cause attached); commands wait at
 *    most `commandTimeoutMs`. One Redis (or a primary), not Redis Cluster: the pipeline spans slots.
 */
import { createRedisClient, redisHost } from '../../redis-client.js';
import type { Presence } from '../port.js';

export class PresenceUnavailableError extends Error {
  override name = 'PresenceUnavailableError';
}

export interface RedisPresenceOptions {
  /** e.g. `redis://127.0.0.1:6379` */
  url: string;
  /** Key prefix. Default `herald:presence`. */
  prefix?: string;
  /** Longest a presence command may take before it rejects. Default 2 000. */
  commandTimeoutMs?: number;
}

const TOUCH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
if ttl <= 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[1])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(latest[2])))
return 1
`;

interface PresenceScripts {
  heraldPresenceTouch(key: string, holder: string, ttlMs: string): Promise<number>;
}

export function createRedisPresence(options: RedisPresenceOptions): Presence {
  const prefix = options.prefix ?? 'herald:presence';
  const redis = createRedisClient(options.url, { name: 'herald-presence', commandTimeoutMs: options.commandTimeoutMs ?? 2_000, maxRetriesPerRequest: 2 });
  redis.defineCommand('heraldPresenceTouch', { numberOfKeys: 1, lua: TOUCH });
  const scripts = redis as unknown as PresenceScripts;
  const key = (uid: string): string => `${prefix}:${uid}`;

  const unavailable = (what: string, err: unknown): PresenceUnavailableError =>
    new PresenceUnavailableError(`presence ${what} failed: Redis at ${redisHost(options.url)} did not answer`, { cause: err });

  return {
    async touch(uid, holder, ttlMs) {
      const ttl = Number.isFinite(ttlMs) && ttlMs > 0 ? Math.ceil(ttlMs) : 0;
      try {
        await scripts.heraldPresenceTouch(key(uid), holder, String(ttl));
      } catch (err) {
        throw unavailable('touch', err);
      }
    },

    async leave(uid, holder) {
      try {
        await redis.zrem(key(uid), holder);
      } catch (err) {
        throw unavailable('leave', err);
      }
    },

    async onlineAmong(uids) {
      const distinct = [...new Set(uids)];
      const online = new Set<string>();
      if (distinct.length === 0) return online;
      const pipeline = redis.pipeline().time();
      for (const uid of distinct) pipeline.zrange(key(uid), -1, -1, 'WITHSCORES');
      let replies: Array<[Error | null, unknown]> | null;
      try {
        replies = await pipeline.exec();
      } catch (err) {
        throw unavailable('lookup', err);
      }
      if (!replies) throw unavailable('lookup', new Error('pipeline discarded'));
      const failed = replies.find(([err]) => err);
      if (failed) throw unavailable('lookup', failed[0]);
      const [time, ...latest] = replies.map(([, reply]) => reply as string[]);
      const now = Number(time?.[0]) * 1000 + Math.floor(Number(time?.[1]) / 1000);
      distinct.forEach((uid, i) => {
        const expiry = latest[i]?.[1];
        if (expiry !== undefined && Number(expiry) > now) online.add(uid);
      });
      return online;
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
