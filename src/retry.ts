/**
 * Retry delays, written once for channels, schedulers and the bus.
 *
 *  - `backoffDelay(policy, attempt)`: the delay before attempt / retry number `attempt`
 *    (1-based; anything below 1 counts as 1): `firstMs × attempt` (linear) or
 *    `firstMs × 2^(attempt-1)` (doubling), never more than `maxMs`.
 *  - `providerBackoff(attempt)`: what every channel waits when a provider asks nothing itself —
 *    30 s × attempt, at most 10 min.
 *  - `parseRetryAfter(value, now)`: a provider's Retry-After (RFC 9110 §10.2.3) in milliseconds:
 *    delta-seconds (`"120"`, also a number or a decimal, as some SDKs expose it) or an HTTP date
 *    (a date in the past is 0). A header given as a list is read from its first value. Undefined
 *    when absent or unreadable; never more than RETRY_AFTER_MAX_MS — a notification held back
 *    longer than that is stale, and a provider asking for more is retried after an hour.
 */

export interface Backoff {
  /** The delay before the first retry. */
  firstMs: number;
  /** The longest delay. */
  maxMs: number;
  growth: 'linear' | 'doubling';
}

/** Channels: 30 s × attempt, at most 10 min. */
export const PROVIDER_BACKOFF: Backoff = { firstMs: 30_000, maxMs: 10 * 60_000, growth: 'linear' };

/** The longest Retry-After honoured. */
export const RETRY_AFTER_MAX_MS = 60 * 60_000;

export function backoffDelay(policy: Backoff, attempt: number): number {
  const n = Math.max(1, attempt);
  const delay = policy.growth === 'linear' ? policy.firstMs * n : policy.firstMs * 2 ** (n - 1);
  return Math.min(policy.maxMs, delay);
}

export const providerBackoff = (attempt: number): number => backoffDelay(PROVIDER_BACKOFF, attempt);

const DELTA_SECONDS = /^\d+(\.\d+)?$/;

export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  let ms: number | undefined;
  if (typeof first === 'number') {
    ms = Number.isFinite(first) && first >= 0 ? Math.ceil(first * 1000) : undefined;
  } else if (typeof first === 'string') {
    const text = first.trim();
    if (DELTA_SECONDS.test(text)) ms = Math.ceil(Number(text) * 1000);
    else if (text !== '') {
      const at = Date.parse(text);
      ms = Number.isNaN(at) ? undefined : Math.max(0, at - now);
    }
  }
  return ms === undefined ? undefined : Math.min(RETRY_AFTER_MAX_MS, ms);
}
