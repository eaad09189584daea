/**
 * Classifies an FCM failure into a DeliveryResult from the error's `code` only (never its text):
 *  - token gone or malformed (`messaging/registration-token-not-registered`,
 *    `messaging/invalid-registration-token`)                        → invalid-recipient
 *  - rate limits, FCM internal errors, unavailability, FCM refusing the access token
 *    (`messaging/authentication-error`), network errors and timeouts → retry after 30 s × attempt
 *    (at most 10 min; firebase-admin exposes no Retry-After)
 *  - `app/invalid-credential`: firebase-admin gives this code to every failure to get an access
 *    token, whether Google refused the service account or could not be reached. The channel's
 *    credential wrapper records which (`tokenFailure`): refused → failed, else → retry
 *  - anything else with a code (invalid-argument, payload too big, mismatched sender…)
 *                                                                     → failed `fcm-<code>`
 *  - an error without a code                                          → retry (unexpected, not the message's fault)
 */
import { providerBackoff } from '../../src/retry.js';
import type { DeliveryResult } from '../port.js';

/** Why the last access-token request failed: Google answered 4xx (refused), or anything else. */
export type TokenFailure = 'refused' | 'transient';

const INVALID_RECIPIENT = new Set(['messaging/registration-token-not-registered', 'messaging/invalid-registration-token']);

const RETRY = new Set([
  'messaging/message-rate-exceeded',
  'messaging/device-message-rate-exceeded',
  'messaging/topics-message-rate-exceeded',
  'messaging/internal-error',
  'messaging/server-unavailable',
  'messaging/unavailable',
  'messaging/authentication-error',
  'app/network-error',
  'app/network-timeout',
]);

/** `messaging/invalid-argument` → `fcm-invalid-argument`. */
const reasonOf = (code: string): string => `fcm-${code.slice(code.indexOf('/') + 1)}`;

export const errorCode = (err: unknown): string | undefined => {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.length > 0 ? code : undefined;
};

export function classifyFcmError(err: unknown, attempt: number, tokenFailure?: TokenFailure): DeliveryResult {
  const code = errorCode(err);
  if (code === undefined) return { type: 'retry', afterMs: providerBackoff(attempt), reason: 'fcm-error' };
  if (INVALID_RECIPIENT.has(code)) return { type: 'invalid-recipient', reason: reasonOf(code) };
  if (RETRY.has(code)) return { type: 'retry', afterMs: providerBackoff(attempt), reason: reasonOf(code) };
  if (code === 'app/invalid-credential') {
    if (tokenFailure === 'refused') return { type: 'failed', reason: reasonOf(code) };
    return { type: 'retry', afterMs: providerBackoff(attempt), reason: 'fcm-token-unavailable' };
  }
  return { type: 'failed', reason: reasonOf(code) };
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

/**
 * Classifies a whole `sendEach` call that threw (HTTP/2 session lost, project id missing, an
 * unexpected bug): every delivery of the call is retried, except when Google refused the
 * credential — then they fail, since no retry can succeed until the operator fixes it.
 */
export function classifyBatchError(err: unknown, attempt: number, tokenFailure?: TokenFailure): DeliveryResult {
  const code = errorCode(err);
  if (code === 'app/invalid-credential' && tokenFailure === 'refused') return { type: 'failed', reason: reasonOf(code) };
  return { type: 'retry', afterMs: providerBackoff(attempt), reason: code ? reasonOf(code) : 'fcm-error' };
}
