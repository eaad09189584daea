/**
 * The reason a receipt shows to the user it belongs to: a stable code from a fixed vocabulary,
 * never a provider's text. The stored reason keeps the details (a provider's message id or
 * Location, its status, its error code) for logs and the admin view; a user could otherwise
 * read a push service's headers and statuses back — a scanning oracle for any URL they register.
 *
 * Codes:
 *  - Herald's own decisions, shown as stored: `ttl`, `fallback`, `preference`, `quiet-hours`,
 *    `cap` (the user's hourly cap on intrusive channels, src/exchange/caps.ts),
 *    `category:<name>` (the message's own category), `in-app-only`, `channel-not-configured`,
 *    `no-device`, `no-email-address`, `no-phone-number`, `device-removed`, `no-subscription`,
 *    `bad-endpoint`, `bad-subscription-keys`, `payload-too-large`, `endpoint-refused`, `recalled`
 *    (the sender took the message back before this delivery went out); any other
 *    reason of a `suppressed` or `expired` receipt (those are never a provider's) that is a
 *    plain lower-case code.
 *  - Delivery outcomes, mapped: a failure after every retry → `retries-exhausted`; the provider
 *    says the address is gone → `invalid-recipient`; a template problem → `template-error`;
 *    a digest email that failed → `digest-failed`; any other provider refusal →
 *    `provider-rejected`.
 *  - Progress (queued, sent, delivered, read, clicked): no reason, except `fallback` and
 *    `digest` (the message went out in a digest email).
 */
import type { Receipt } from './types.js';

const HERALD_CODES: ReadonlySet<string> = new Set([
  'ttl',
  'fallback',
  'preference',
  'quiet-hours',
  'cap',
  'in-app-only',
  'channel-not-configured',
  'no-device',
  'no-email-address',
  'no-phone-number',
  'device-removed',
  'no-subscription',
  'bad-endpoint',
  'bad-subscription-keys',
  'payload-too-large',
  'endpoint-refused',
  'recalled',
]);

const PLAIN_CODE = /^[a-z][a-z0-9-]{0,63}$/;
const CATEGORY = /^category:.{1,200}$/s;

export const RECEIPT_REASON_CODES = [
  ...HERALD_CODES,
  'retries-exhausted',
  'invalid-recipient',
  'template-error',
  'digest-failed',
  'provider-rejected',
  'digest',
] as const;

/** The stable code a receipt shows its user (see above); null when it has none. */
export function publicReason(receipt: Pick<Receipt, 'state' | 'reason'>): string | null {
  const { state, reason } = receipt;
  if (reason === undefined || reason === '') return null;
  if (HERALD_CODES.has(reason) || CATEGORY.test(reason)) return reason;
  switch (state) {
    case 'suppressed':
    case 'expired':
      return PLAIN_CODE.test(reason) ? reason : state;
    case 'failed':
      if (reason.startsWith('retries exhausted')) return 'retries-exhausted';
      if (reason.startsWith('invalid-recipient')) return 'invalid-recipient';
      if (reason.startsWith('digest')) return 'digest-failed';
      if (reason.startsWith('template-error') || reason.startsWith('unknown-template')) return 'template-error';
      return 'provider-rejected';
    default:
      return reason.startsWith('digest:') ? 'digest' : null;
  }
}

/**
 * The stored reason of a `sent` receipt: the provider's id, after `via:<provider>` when the
 * channel has several providers and names the one that sent it (channels/failover.ts).
 */
export const sentReason = (providerId: string | undefined, provider: string | undefined): string | undefined =>
  provider === undefined ? providerId : providerId === undefined ? `via:${provider}` : `via:${provider} ${providerId}`;

/** The provider a sent receipt names (see sentReason), if any. */
export function sentVia(receipt: Pick<Receipt, 'state' | 'reason'>): string | undefined {
  if (receipt.state !== 'sent' || !receipt.reason?.startsWith('via:')) return undefined;
  const provider = receipt.reason.slice(4).split(' ', 1)[0];
  return provider === '' ? undefined : provider;
}
