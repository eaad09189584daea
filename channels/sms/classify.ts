/**
 * Classifies a failed Twilio send into a DeliveryResult, from the error's `status` (HTTP) and
 * `code` (Twilio error code, or Node's error code for a transport failure) only — never its
 * message text. Both of twilio's error classes (RestException, TwilioServiceException) carry
 * `status` and `code`.
 *  - 20003 / HTTP 401 (credentials refused)            → failed `twilio-auth`
 *  - 21211 invalid To, 21614 not a mobile number,
 *    21610 recipient unsubscribed (STOP), other 4xx    → failed `twilio-<code>`
 *    (the address is the user's phone number, not a token Herald could prune: `failed`, not
 *    `invalid-recipient`, which would only delete device tokens)
 *  - 20429 / HTTP 429                                  → retry after Retry-After when the
 *    response had one (src/retry.ts parseRetryAfter), else 30 s × attempt (at most 10 min)
 *  - HTTP 5xx                                          → retry, same backoff
 *  - no HTTP status and a string code (ECONNREFUSED,
 *    ECONNRESET, ETIMEDOUT, ECONNABORTED, TLS errors…)  → retry `twilio-<code>`
 *  - anything else                                     → failed `twilio-error`
 * A 429 with Retry-After is `throttled` (the account's gate pauses that long); a 429 without one,
 * 5xx and transport failures are `unavailable` (they count toward its circuit): channels/provider-gate.ts.
 */
import { providerBackoff } from '../../src/retry.js';
import type { DeliveryResult } from '../port.js';

export const TWILIO_AUTH_FAILED = 20003;
export const TWILIO_TOO_MANY_REQUESTS = 20429;

interface TwilioErrorFields {
  status?: unknown;
  code?: unknown;
}

const fieldsOf = (err: unknown): TwilioErrorFields => (typeof err === 'object' && err !== null ? (err as TwilioErrorFields) : {});

/**
 * @param retryAfterMs what the failed response's Retry-After asked for, when it had one
 *   (RestException does not expose headers; the channel captures them from the response).
 */
export function classifyTwilioError(err: unknown, attempt: number, retryAfterMs?: number): DeliveryResult {
  const { status, code } = fieldsOf(err);
  const httpStatus = typeof status === 'number' ? status : undefined;
  const twilioCode = typeof code === 'number' ? code : undefined;

  if (httpStatus !== undefined) {
    const reason = `twilio-${twilioCode ?? httpStatus}`;
    if (twilioCode === TWILIO_AUTH_FAILED || httpStatus === 401) return { type: 'failed', reason: 'twilio-auth' };
    if (twilioCode === TWILIO_TOO_MANY_REQUESTS || httpStatus === 429) {
      return { type: 'retry', afterMs: retryAfterMs ?? providerBackoff(attempt), reason, cause: retryAfterMs !== undefined ? 'throttled' : 'unavailable' };
    }
    if (httpStatus >= 500) return { type: 'retry', afterMs: retryAfterMs ?? providerBackoff(attempt), reason, cause: 'unavailable' };
    return { type: 'failed', reason };
  }
  if (typeof code === 'string' && code.length > 0) {
    return { type: 'retry', afterMs: providerBackoff(attempt), reason: `twilio-${code.toLowerCase()}`, cause: 'unavailable' };
  }
  return { type: 'failed', reason: 'twilio-error' };
}
