/**
 * Classifies one device's failure from `provider.send` into a DeliveryResult, from its HTTP
 * `status`, Apple's `response.reason` and error codes only (never message text):
 *  - 410 Unregistered                                  → invalid-recipient (prune the token),
 *    unless Apple's `timestamp` says it was invalidated before the device registered it again
 *    → failed
 *  - 400 BadDeviceToken / DeviceTokenNotForTopic       → invalid-recipient
 *  - 408, 429 TooManyRequests, 5xx                     → retry
 *  - 403 without Apple's reason (the library turned ExpiredProviderToken into an error after
 *    regenerating the token)                           → retry
 *  - any other 4xx (PayloadTooLarge, BadTopic, BadCollapseId, InvalidProviderToken…)
 *                                                      → failed `apns-<reason>`
 *  - no status, an `error` (connection refused or reset, timeout, stream cancelled) → retry
 * 5xx and connection failures are Apple's, not the device's: `unavailable` (they count toward the
 * connection's circuit, ../provider-gate.ts); a 429 is about one device token, so it is not.
 * Retries wait 30 s × attempt, at most 10 min — the library retries immediately and ignores
 * Retry-After, so Herald backs off itself — or the failure's `retryAfter` (seconds) when a
 * library version exposes it (8.1 never does; read as src/retry.ts parseRetryAfter reads it).
 */
import { parseRetryAfter, providerBackoff } from '../../src/retry.js';
import type { DeliveryResult } from '../port.js';
import type { ProviderSignal } from '../provider-gate.js';

/** 400 reasons that mean the token is not (or no longer) an address of this app. */
const BAD_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic']);
const RETRY_STATUS = new Set([408, 429]);

/** One entry of `provider.send(...).failed`, as far as classification reads it. */
export interface ApnsFailure {
  device?: string;
  status?: unknown;
  response?: { reason?: unknown; timestamp?: unknown };
  error?: unknown;
  retryAfter?: unknown;
}

export interface FailureContext {
  attempt: number;
  /** When Herald registered the device token (epoch ms). */
  registeredAt?: number;
}

/** Apple's reasons are CamelCase words; anything else is cut down to that shape. */
const reasonText = (value: unknown): string | undefined => {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
  return clean === '' ? undefined : clean;
};

/** The innermost `code` in an error's cause chain (VError's `cause()` or Error's `cause`). */
export function errorCode(err: unknown): string | undefined {
  let found: string | undefined;
  let current: unknown = err;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const fields = current as { code?: unknown; cause?: unknown };
    if (typeof fields.code === 'string' && /^[A-Z0-9_]{2,64}$/.test(fields.code)) found = fields.code;
    current = typeof fields.cause === 'function' ? (fields.cause as () => unknown).call(current) : fields.cause;
  }
  return found;
}

/** A `retryAfter` of 0 reads as none: the library would retry at once, so Herald backs off. */
const backoff = (failure: ApnsFailure, attempt: number): number => {
  const asked = parseRetryAfter(failure.retryAfter);
  return asked !== undefined && asked > 0 ? asked : providerBackoff(attempt);
};

export function classifyFailure(failure: ApnsFailure, context: FailureContext): DeliveryResult {
  const status = typeof failure.status === 'number' ? failure.status : undefined;
  const reason = reasonText(failure.response?.reason);
  const retry = (why: string, unavailable = false): DeliveryResult => ({
    type: 'retry',
    afterMs: backoff(failure, context.attempt),
    reason: `apns-${why}`,
    ...(unavailable ? { cause: 'unavailable' as const } : {}),
  });

  if (status === 410) {
    const invalidSince = failure.response?.timestamp;
    const since = typeof invalidSince === 'number' ? invalidSince : typeof invalidSince === 'string' ? Number(invalidSince) : Number.NaN;
    const why = `apns-${reason ?? 'Unregistered'}`;
    if (Number.isFinite(since) && context.registeredAt !== undefined && context.registeredAt > since) return { type: 'failed', reason: why };
    return { type: 'invalid-recipient', reason: why };
  }
  if (status === 400 && reason !== undefined && BAD_TOKEN_REASONS.has(reason)) return { type: 'invalid-recipient', reason: `apns-${reason}` };
  if (status !== undefined && status >= 500 && status < 600) return retry(reason ?? String(status), true);
  if (status !== undefined && RETRY_STATUS.has(status)) return retry(reason ?? String(status));
  if (status === 403 && reason === undefined && failure.error !== undefined) return retry('403');
  if (status !== undefined && status >= 400 && status < 500) return { type: 'failed', reason: `apns-${reason ?? String(status)}` };
  if (failure.error !== undefined) return retry(errorCode(failure.error) ?? 'connection', true);
  return { type: 'failed', reason: status !== undefined ? `apns-${status}` : 'apns-unknown' };
}

/** What one `provider.send` showed of Apple (../provider-gate.ts): unavailable when any token failed for a 5xx or the connection. */
export function signalOfFailures(failures: readonly ApnsFailure[]): ProviderSignal {
  const down = failures.some((f) => (typeof f.status === 'number' ? f.status >= 500 : f.error !== undefined && f.status === undefined));
  return down ? { type: 'unavailable' } : { type: 'ok' };
}
