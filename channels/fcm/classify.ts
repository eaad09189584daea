/**
 * Classifies what FCM HTTP v1 answered one `messages:send` into a DeliveryResult, from codes
 * only (never the error text). The code is read as firebase-admin reads it: the `errorCode` of
 * the `google.firebase.fcm.v1.FcmError` entry of `error.details`, else `error.status`; it is
 * then named as firebase-admin names it (UNREGISTERED → `registration-token-not-registered`,
 * QUOTA_EXCEEDED → `message-rate-exceeded`…), so reasons read as before, `fcm-<name>`:
 *  - token gone or malformed (UNREGISTERED, NOT_FOUND; legacy InvalidRegistration)
 *                                                          → invalid-recipient
 *  - rate limits (QUOTA_EXCEEDED, RESOURCE_EXHAUSTED), INTERNAL, UNAVAILABLE, and any answer
 *    with status 429 or 5xx whose code is unknown or unreadable (a proxy's 502 page)
 *                                                          → retry
 *  - 401 without an FcmError detail: FCM refused the access token. The channel fetches a new
 *    token and sends once more; a second such 401 → retry `fcm-authentication-error`
 *  - everything else: INVALID_ARGUMENT, SENDER_ID_MISMATCH / PERMISSION_DENIED
 *    (`mismatched-credential`), THIRD_PARTY_AUTH_ERROR (APNs/web push credentials of the
 *    Firebase project), payload too big…                   → failed
 * A retry waits the answer's Retry-After (src/retry.ts parseRetryAfter) when it has one, else
 * 30 s × attempt (at most 10 min). A 429 with Retry-After is `throttled` (the project's gate
 * pauses that long, ../provider-gate.ts); a 429 without one, a 5xx and every failure without an
 * answer are `unavailable` (they count toward the project's circuit).
 *
 * Without an answer: the access token could not be had (`classifyTokenError`: Google refused the
 * service account, 4xx → failed `fcm-invalid-credential`; unreachable or 408/429/5xx → retry
 * `fcm-token-unavailable`), or the HTTP/2 request failed (`classifyTransportError`, always retry:
 * `fcm-network-timeout`, `fcm-session-stalled`, `fcm-network-error`; ../http2-session.ts).
 */
import { parseRetryAfter, providerBackoff } from '../../src/retry.js';
import { Http2RequestError } from '../http2-session.js';
import type { DeliveryResult } from '../port.js';

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

/** Server code → firebase-admin's client code (its MESSAGING_SERVER_TO_CLIENT_CODE), without the `messaging/` prefix. */
const CLIENT_CODE: Readonly<Record<string, string>> = {
  // FCM v1 error codes (FcmError.errorCode)
  UNREGISTERED: 'registration-token-not-registered',
  INVALID_ARGUMENT: 'invalid-argument',
  QUOTA_EXCEEDED: 'message-rate-exceeded',
  SENDER_ID_MISMATCH: 'mismatched-credential',
  THIRD_PARTY_AUTH_ERROR: 'third-party-auth-error',
  APNS_AUTH_ERROR: 'third-party-auth-error',
  UNAVAILABLE: 'server-unavailable',
  INTERNAL: 'internal-error',
  UNSPECIFIED_ERROR: 'unknown-error',
  // Canonical statuses (error.status) when there is no FcmError detail
  NOT_FOUND: 'registration-token-not-registered',
  PERMISSION_DENIED: 'mismatched-credential',
  RESOURCE_EXHAUSTED: 'message-rate-exceeded',
  UNAUTHENTICATED: 'third-party-auth-error',
  // Legacy codes some proxies and old backends still answer
  InvalidRegistration: 'invalid-registration-token',
  NotRegistered: 'registration-token-not-registered',
  MismatchSenderId: 'mismatched-credential',
  MessageTooBig: 'payload-size-limit-exceeded',
  InvalidParameters: 'invalid-argument',
  Unavailable: 'server-unavailable',
  InternalServerError: 'internal-error',
  DeviceMessageRateExceeded: 'device-message-rate-exceeded',
  TopicsMessageRateExceeded: 'topics-message-rate-exceeded',
};

/** firebase-admin's names for answers that are not JSON, by status. */
const CLIENT_CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid-argument',
  401: 'authentication-error',
  403: 'authentication-error',
  500: 'internal-error',
  503: 'server-unavailable',
};

const INVALID_RECIPIENT = new Set(['registration-token-not-registered', 'invalid-registration-token']);

const RETRY = new Set([
  'message-rate-exceeded',
  'device-message-rate-exceeded',
  'topics-message-rate-exceeded',
  'internal-error',
  'server-unavailable',
  'authentication-error',
]);

/** Why the last access-token request failed: Google answered 4xx (refused), or anything else. */
export type TokenFailure = 'refused' | 'transient';

interface ErrorBody {
  status?: unknown;
  details?: unknown;
}

const errorOf = (body: string): ErrorBody | string | undefined => {
  try {
    const json = JSON.parse(body) as { error?: unknown };
    if (typeof json !== 'object' || json === null) return undefined;
    if (typeof json.error === 'string') return json.error;
    return typeof json.error === 'object' && json.error !== null ? (json.error as ErrorBody) : undefined;
  } catch {
    return undefined;
  }
};

/** The FcmError `errorCode` of an error answer's details, if it has one. */
export function fcmErrorCode(body: string): string | undefined {
  const error = errorOf(body);
  if (typeof error !== 'object' || !Array.isArray(error.details)) return undefined;
  for (const detail of error.details as Array<Record<string, unknown>>) {
    if (detail?.['@type'] === FCM_ERROR_TYPE && typeof detail.errorCode === 'string') return detail.errorCode;
  }
  return undefined;
}

/** The server's code of an error answer: FcmError errorCode, else `error.status` (or `error` itself when a string). */
export function serverCode(body: string): string | undefined {
  const error = errorOf(body);
  if (typeof error === 'string') return error;
  if (error === undefined) return undefined;
  return fcmErrorCode(body) ?? (typeof error.status === 'string' ? error.status : undefined);
}

/** FCM refused the access token itself (401 without an FcmError detail): worth one new token. */
export const accessTokenRefused = (status: number, body: string): boolean => status === 401 && fcmErrorCode(body) === undefined;

/** The firebase-admin-style name of an error answer (`registration-token-not-registered`…). */
export function clientCodeOf(status: number, body: string): string {
  if (accessTokenRefused(status, body)) return 'authentication-error';
  const code = serverCode(body);
  if (code === undefined) return CLIENT_CODE_BY_STATUS[status] ?? 'unknown-error';
  return CLIENT_CODE[code] ?? 'unknown-error';
}

/** Classifies a non-200 answer of `messages:send`. */
export function classifyFcmAnswer(answer: { status: number; body: string; retryAfter?: unknown }, attempt: number, now: number = Date.now()): DeliveryResult {
  const code = clientCodeOf(answer.status, answer.body);
  const reason = `fcm-${code}`;
  if (INVALID_RECIPIENT.has(code)) return { type: 'invalid-recipient', reason };
  const transient = RETRY.has(code) || (code === 'unknown-error' && (answer.status === 429 || answer.status >= 500));
  if (!transient) return { type: 'failed', reason };
  const asked = parseRetryAfter(answer.retryAfter, now);
  const cause = answer.status === 429 && asked !== undefined ? 'throttled' : answer.status === 429 || answer.status >= 500 ? 'unavailable' : undefined;
  return { type: 'retry', afterMs: asked ?? providerBackoff(attempt), reason, ...(cause ? { cause } : {}) };
}

/**
 * Sorts a failed access-token request by its HTTP `status` (TokenRequestError): 4xx other than
 * 408/429 means Google refused the credential; no status (network, TLS, timeout) or 408/429/5xx
 * means it may work later.
 */
export function tokenFailureOf(err: unknown): TokenFailure {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  if (typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429) return 'refused';
  return 'transient';
}

/** No access token: refused → failed (no retry can succeed until the operator fixes it), else retry. */
export function classifyTokenError(err: unknown, attempt: number): DeliveryResult {
  if (tokenFailureOf(err) === 'refused') return { type: 'failed', reason: 'fcm-invalid-credential' };
  return { type: 'retry', afterMs: providerBackoff(attempt), reason: 'fcm-token-unavailable', cause: 'unavailable' };
}

const TRANSPORT_REASON = { timeout: 'fcm-network-timeout', stalled: 'fcm-session-stalled', network: 'fcm-network-error' } as const;

/** The HTTP/2 request failed without an answer: always retried. */
export function classifyTransportError(err: unknown, attempt: number): DeliveryResult {
  const reason = err instanceof Http2RequestError ? TRANSPORT_REASON[err.code] : 'fcm-error';
  return { type: 'retry', afterMs: providerBackoff(attempt), reason, cause: 'unavailable' };
}
