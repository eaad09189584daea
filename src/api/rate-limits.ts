/**
 * Herald's rate limits (HERALD_RATE_*), counted with rate-limiter-flexible in the store of
 * src/limits/limiter-store.ts (this process, or Redis shared by a cluster). Each limit is a number
 * per minute; 0 turns it off.
 *
 * - sends per sender (`send`, default 60/min) and its burst (`sendBurst`, default 20): a sender
 *   may send at most `sendBurst` messages in a row within `60·sendBurst/send` seconds (20 s by
 *   default), and at most `send` within a minute, so a client that sends 20 at once then waits
 *   for the burst window, and its sustained rate is `send` per minute.
 * - sends to one recipient from non-admin senders (`recipient`, default 30/min, whoever sends).
 * - WebSocket tickets per user (`wsTicket`, default 30/min).
 * - requests without a valid token per client address (`unauthenticated`, default 120/min).
 *
 * Admin callers are not counted unless `admins` is true. Over a limit: 429 HERALD_RATE_LIMITED
 * with Retry-After (whole seconds, at least 1) and RateLimit-Limit / -Remaining / -Reset
 * (draft-ietf-httpapi-ratelimit-headers: the limit that refused, 0, seconds until it resets).
 * Accepted sends and tickets carry the same three headers for the limit closest to refusing.
 */
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Caller } from '../auth/tokens.js';
import { ProblemError } from '../errors.js';
import type { Limiter, LimiterStore } from '../limits/limiter-store.js';

export interface RateLimitSettings {
  /** Sends per minute per sender; 0: off. */
  send: number;
  /** Sends in a row per sender (see above); 0: no burst limit beyond `send`. */
  sendBurst: number;
  /** Sends per minute to one recipient from non-admin senders; 0: off. */
  recipient: number;
  /** WebSocket tickets per minute per user; 0: off. */
  wsTicket: number;
  /** Requests per minute per client address without a valid token; 0: off. */
  unauthenticated: number;
  /** Whether admin callers are counted too (sender, recipient and ticket limits). */
  admins: boolean;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = { send: 60, sendBurst: 20, recipient: 30, wsTicket: 30, unauthenticated: 120, admins: false };

export type RateLimitHeaders = Record<string, string>;

export interface RateLimits {
  /** Counts one send by `caller` to `recipient`; throws the 429 when over, else the headers to answer with. */
  send(caller: Caller, recipient: string): Promise<RateLimitHeaders | undefined>;
  /** Counts one WebSocket ticket for `caller`; throws the 429 when over. */
  ticket(caller: Caller): Promise<RateLimitHeaders | undefined>;
  /** Counts one request without a valid token from `ip`; throws the 429 when over. */
  unauthenticated(ip: string): Promise<void>;
  close(): Promise<void>;
}

interface Passed {
  limiter: Limiter;
  remaining: number;
  msBeforeNext: number;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

const headersOf = (limit: number, remaining: number, msBeforeNext: number): RateLimitHeaders => ({
  'ratelimit-limit': String(limit),
  'ratelimit-remaining': String(Math.max(0, remaining)),
  'ratelimit-reset': String(seconds(msBeforeNext)),
});

/** Counts one against `limiter` for `key`; throws the 429 naming `what` when refused. */
async function count(limiter: Limiter, key: string, what: string): Promise<Passed> {
  let res: RateLimiterRes;
  try {
    res = await limiter.consume(key);
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) {
      const ms = refusal.msBeforeNext;
      throw new ProblemError('HERALD_RATE_LIMITED', `rate limit exceeded: ${what}; retry in ${seconds(ms)} s`, {
        retryAfterSeconds: seconds(ms),
        headers: headersOf(limiter.points, 0, ms),
      });
    }
    throw refusal;
  }
  return { limiter, remaining: res.remainingPoints, msBeforeNext: res.msBeforeNext };
}

const closest = (passed: Passed[]): RateLimitHeaders | undefined => {
  const tightest = passed.reduce<Passed | undefined>((a, b) => (a === undefined || b.remaining < a.remaining ? b : a), undefined);
  return tightest && headersOf(tightest.limiter.points, tightest.remaining, tightest.msBeforeNext);
};

export function createRateLimits(store: LimiterStore, settings: RateLimitSettings): RateLimits {
  const perMinute = (name: string, points: number) => (points > 0 ? store.limiter(name, points, 60) : undefined);
  const sendMinute = perMinute('send', settings.send);
  const burstWindow = settings.send > 0 ? Math.max(1, Math.ceil((60 * settings.sendBurst) / settings.send)) : 60;
  const sendBurst =
    settings.sendBurst > 0 && (settings.send === 0 || settings.sendBurst < settings.send)
      ? store.limiter('send-burst', settings.sendBurst, burstWindow)
      : undefined;
  const recipient = perMinute('recipient', settings.recipient);
  const ticket = perMinute('ws-ticket', settings.wsTicket);
  const unauthenticated = perMinute('unauthenticated', settings.unauthenticated);
  const exempt = (caller: Caller) => caller.admin && !settings.admins;

  return {
    async send(caller, to) {
      if (exempt(caller)) return undefined;
      const passed: Passed[] = [];
      if (sendBurst) passed.push(await count(sendBurst, caller.uid, `sends in a row by ${caller.uid} (HERALD_RATE_SEND_BURST)`));
      if (sendMinute) passed.push(await count(sendMinute, caller.uid, `sends per minute by ${caller.uid} (HERALD_RATE_SEND)`));
      if (recipient) passed.push(await count(recipient, to, 'sends per minute to this recipient (HERALD_RATE_RECIPIENT)'));
      return closest(passed);
    },
    async ticket(caller) {
      if (exempt(caller) || !ticket) return undefined;
      return closest([await count(ticket, caller.uid, `WebSocket tickets per minute for ${caller.uid} (HERALD_RATE_WS_TICKET)`)]);
    },
    async unauthenticated(ip) {
      if (unauthenticated) await count(unauthenticated, ip, 'requests without a valid token from this address (HERALD_RATE_UNAUTHENTICATED)');
    },
    close: () => store.close(),
  };
}
