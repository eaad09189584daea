/**
 * Twilio's SMS status callbacks: POST /api/v1/webhooks/twilio (application/x-www-form-urlencoded),
 * mounted by src/api as an inbound hook. It is public: the caller is authenticated by its
 * `X-Twilio-Signature` — an HMAC with the account's auth token over the URL Twilio called
 * (HERALD_PUBLIC_URL + path + query) and the form fields, made with the token of either
 * configured account — and answers 403 when the signature is missing or wrong, or when SMS
 * callbacks are not configured.
 *
 * The delivery a callback is about comes from the signed URL's query (`m`, `u`: see
 * callback.ts). MessageStatus becomes the sms receipt: delivered → `delivered`;
 * undelivered / failed → `failed`, reason `twilio-<ErrorCode>`; sent → `sent` (reason: the
 * Message SID, as the delivery worker records it); queued, sending and anything else are
 * progress Herald does not track (204, nothing recorded). The receipt store keeps states
 * forward-only, so callbacks arriving out of order (delivered before sent) are harmless.
 */
import twilio from 'twilio';
import type { Receipt } from '../../src/exchange/types.js';
import type { InboundHook } from '../port.js';
import { type DeliveryRef, deliveryRefOf, TWILIO_WEBHOOK_PATH, twilioWebhookUrl } from './callback.js';

export interface StatusHookOptions {
  /** HERALD_TWILIO_AUTH_TOKEN and HERALD_TWILIO_FALLBACK_AUTH_TOKEN: the keys of Twilio's signatures (one per account). */
  authTokens: readonly string[];
  /** HERALD_PUBLIC_URL: where Twilio reaches this Herald. */
  publicUrl?: string;
}

export function twilioStatusHook({ authTokens, publicUrl }: StatusHookOptions): InboundHook {
  const callbackUrl = publicUrl ? twilioWebhookUrl(publicUrl) : undefined;
  return {
    method: 'POST',
    path: TWILIO_WEBHOOK_PATH,
    summary: 'Twilio SMS status callback',
    description:
      'Called by Twilio with the status of an SMS Herald sent, at the URL Herald gave with the message (HERALD_PUBLIC_URL + this path + the query below). ' +
      'Authenticated by X-Twilio-Signature, an HMAC with HERALD_TWILIO_AUTH_TOKEN over that URL and the form fields. ' +
      'MessageStatus delivered, sent, undelivered and failed update the sms receipt (failed with reason twilio-<ErrorCode>); other statuses are ignored.',
    body: { mediaType: 'application/x-www-form-urlencoded', description: "Twilio's status callback fields (MessageSid, MessageStatus, ErrorCode, ...)" },
    query: { m: 'The id of the message the SMS delivered', u: 'The uid of its recipient' },
    headers: { 'x-twilio-signature': "Twilio's signature of the URL and the form fields" },
    answers: {
      204: 'Accepted (recorded when it changes a receipt, ignored otherwise)',
      403: 'The signature is missing or wrong, or SMS status callbacks are not configured (HERALD_TWILIO_AUTH_TOKEN, HERALD_PUBLIC_URL)',
    },
    async handle({ headers, query, body, log, now }) {
      if (authTokens.length === 0 || !callbackUrl) {
        return { status: 403, text: 'SMS status callbacks are not configured (HERALD_TWILIO_AUTH_TOKEN, HERALD_PUBLIC_URL)' };
      }
      const params = formParams(body ?? '');
      const search = query.toString();
      const url = search ? `${callbackUrl}?${search}` : callbackUrl;
      const signature = headers['x-twilio-signature'];
      if (!signature || !authTokens.some((token) => twilio.validateRequest(token, signature, url, params))) {
        return { status: 403, text: 'missing or invalid X-Twilio-Signature' };
      }
      const ref = deliveryRefOf(query);
      if (!ref) {
        // Signed by Twilio, but not for a URL Herald handed out with a message: nothing to update.
        log.warn({ channel: 'sms', sid: params.MessageSid }, 'twilio status callback without a delivery reference');
        return { status: 204 };
      }
      const receipt = receiptOf(params, ref, now);
      return receipt ? { status: 204, receipts: [receipt] } : { status: 204 };
    },
  };
}

type FormParams = Record<string, string | string[]>;

/** Form fields as twilio.validateRequest expects them: a repeated field becomes a list. */
function formParams(text: string): FormParams {
  const params: FormParams = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = params[name];
    params[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return params;
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

function receiptOf(params: FormParams, ref: DeliveryRef, at: number): Receipt | undefined {
  const status = single(params.MessageStatus);
  const sid = single(params.MessageSid);
  const base = { messageId: ref.messageId, uid: ref.uid, channel: 'sms', at };
  switch (status) {
    case 'delivered':
      return { ...base, state: 'delivered' };
    case 'sent':
      return { ...base, state: 'sent', ...(sid ? { reason: sid } : {}) };
    case 'undelivered':
    case 'failed': {
      const errorCode = single(params.ErrorCode);
      return { ...base, state: 'failed', reason: `twilio-${errorCode && /^\d+$/.test(errorCode) ? errorCode : status}` };
    }
    default:
      return undefined;
  }
}
