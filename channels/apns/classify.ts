/**
 * Classifies one device's failed APNs request into a DeliveryResult, from its HTTP `status`,
 * Apple's JSON body `{reason, timestamp}` and error codes only (never message text):
 *  - 410 Unregistered                                  → invalid-recipient (prune the token),
 *    unless Apple's `timestamp` says it was invalidated before the device registered it again
 *    → failed
 *  - 400 BadDeviceToken / DeviceTokenNotForTopic       → invalid-recipient
 *  - 408, 429 TooManyRequests, 5xx                     → retry
 *  - 403 ExpiredProviderToken (still refused after the channel renewed its provider token and
 *    sent once more, ./provider-token.ts)              → retry
 *  - any other 4xx (PayloadTooLarge, BadTopic, BadCollapseId, InvalidProviderToken…)
 *                                                      → failed `apns-<reason>`
 *  - no answer, an `error` (connection refused or reset, TLS, timeout, a stalled session:
 *    ../http2-session.ts)                              → retry `apns-<code>`: the innermost
 *    error code (ECONNREFUSED…), else `timeout`, `session-stalled` or `connection`
 * 5xx and connection failures are Apple's, not the device's: `unavailable` (they count toward the
 * connection's circuit, ../provider-gate.ts); a 429 is about one device token, so it is not.
 * Retries wait the answer's Retry-After (the `retry-after` header — HTTP/2 header names are
 * lower case; src/retry.ts parseRetryAfter) when it has one above 0, else 30 s × attempt, at
 * most 10 min. `failureOfAnswer` reads an answer into the failure classified here.
 */
import { parseRetryAfter, providerBackoff } from '../../src/retry.js';
import { Http2RequestError } from '../http2-session.js';
import type { DeliveryResult } from '../port.js';

/** 400 reasons that mean the token is not (or no longer) an address of this app. */
const BAD_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic']);
const RETRY_STATUS = new Set([408, 429]);

/** One request's failure, as far as classification reads it: an answer, or an error without one. */
export interface ApnsFailure {
  /** The answer's HTTP status. */
  status?: unknown;
  /** Apple's JSON body. */
  response?: { reason?: unknown; timestamp?: unknown };
  /** Why no answer came (an Http2RequestError from ../http2-session.ts). */
  error?: unknown;
  /** The answer's `retry-after` header. */
  retryAfter?: unknown;
}

/** An answer other than 200 as a failure: its status, its body when it is JSON, its Retry-After. */
export function failureOfAnswer(status: number, headers: Readonly<Record<string, unknown>>, body: string): ApnsFailure {
  let response: ApnsFailure['response'];
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) response = parsed as ApnsFailure['response'];
  } catch {
    // No JSON (a proxy's page, an empty body): the status alone decides.
  }
  const retryAfter = headers['retry-after'];
  return { status, ...(response ? { response } : {}), ...(retryAfter !== undefined ? { retryAfter } : {}) };
}

/** Why a request got no answer, for a failure's reason. */
const TRANSPORT_REASON: Readonly<Record<Http2RequestError['code'], string>> = { timeout: 'timeout', stalled: 'session-stalled', network: 'connection' };

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

/** A `retryAfter` of 0 reads as none: Herald backs off rather than retry at once. */
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
  if (status === 403 && reason === 'ExpiredProviderToken') return retry(reason);
  if (status !== undefined && status >= 400 && status < 500) return { type: 'failed', reason: `apns-${reason ?? String(status)}` };
  if (failure.error !== undefined) {
    const transport = failure.error instanceof Http2RequestError ? TRANSPORT_REASON[failure.error.code] : 'connection';
    return retry(errorCode(failure.error) ?? transport, true);
  }
  return { type: 'failed', reason: status !== undefined ? `apns-${status}` : 'apns-unknown' };
}
