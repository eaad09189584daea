/**
 * Classifies a failed web push send into a DeliveryResult, from `WebPushError.statusCode` and
 * headers, or a Node error's `code` — never from message text:
 *  - 404, 410                 → invalid-recipient (the subscription is gone: prune it)
 *  - 429, 408, 5xx            → retry after `Retry-After` (seconds or HTTP date; src/retry.ts)
 *                               when the push service sent one, else 30 s × attempt (at most 10 min);
 *                               a 429 with Retry-After is `throttled` (the origin's gate pauses
 *                               that long); 408, 5xx and a 429 without one are `unavailable`
 *                               (they halve its concurrency and count toward its circuit)
 *  - any other status (400, 401, 403, 413…) → failed `http-<status>`
 *  - network errors (refused, reset, hang up, DNS, timeouts) and TLS errors → retry (backoff),
 *    `unavailable`
 *  - ERR_CRYPTO_* (the subscription's p256dh is not a P-256 point) → invalid-recipient
 *  - ERR_HERALD_EGRESS_REFUSED (the host now resolves to an address the egress policy refuses,
 *    src/egress/lookup.ts) → failed `endpoint-refused`
 *  - an error with neither status nor code → retry: every input web-push validates is checked
 *    before the call (see request.ts), so what is left is its codeless `Socket timeout`
 */
import { EGRESS_REFUSED } from '../../src/egress/lookup.js';
import { parseRetryAfter, providerBackoff } from '../../src/retry.js';
import type { DeliveryResult } from '../port.js';

const GONE = new Set([404, 410]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
]);

/** Certificate and handshake failures: an operator can fix them (trust a CA), so retry. */
const isTlsCode = (code: string): boolean =>
  code.startsWith('ERR_TLS_') ||
  code.startsWith('ERR_SSL_') ||
  code.startsWith('CERT_') ||
  code.startsWith('UNABLE_TO_') ||
  code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
  code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
  code === 'ERR_TLS_CERT_ALTNAME_INVALID';

interface PushErrorFields {
  statusCode?: unknown;
  headers?: unknown;
  code?: unknown;
}

const fieldsOf = (err: unknown): PushErrorFields => (typeof err === 'object' && err !== null ? (err as PushErrorFields) : {});

const headerOf = (headers: unknown, name: string): unknown =>
  typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>)[name] : undefined;

export function classifyPushError(err: unknown, attempt: number, now: number = Date.now()): DeliveryResult {
  const { statusCode, headers, code } = fieldsOf(err);

  if (typeof statusCode === 'number') {
    const reason = `http-${statusCode}`;
    if (GONE.has(statusCode)) return { type: 'invalid-recipient', reason };
    if (statusCode === 429 || statusCode === 408 || (statusCode >= 500 && statusCode < 600)) {
      const asked = parseRetryAfter(headerOf(headers, 'retry-after'), now);
      const cause = statusCode === 429 && asked !== undefined ? 'throttled' : 'unavailable';
      return { type: 'retry', afterMs: asked ?? providerBackoff(attempt), reason, cause };
    }
    return { type: 'failed', reason };
  }

  if (typeof code === 'string') {
    if (code === EGRESS_REFUSED) return { type: 'failed', reason: 'endpoint-refused' };
    if (NETWORK_CODES.has(code)) return { type: 'retry', afterMs: providerBackoff(attempt), reason: `network-${code.toLowerCase()}`, cause: 'unavailable' };
    if (isTlsCode(code)) return { type: 'retry', afterMs: providerBackoff(attempt), reason: `tls-${code.toLowerCase()}`, cause: 'unavailable' };
    if (code.startsWith('ERR_CRYPTO_')) return { type: 'invalid-recipient', reason: 'bad-subscription-keys' };
    return { type: 'failed', reason: `webpush-${code.toLowerCase()}` };
  }

  return { type: 'retry', afterMs: providerBackoff(attempt), reason: 'network-timeout', cause: 'unavailable' };
}
