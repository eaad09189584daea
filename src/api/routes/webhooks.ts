/**
 * Provider callbacks. POST /api/v1/webhooks/twilio receives Twilio's SMS status callbacks
 * (application/x-www-form-urlencoded). It is public: the caller is authenticated by its
 * `X-Twilio-Signature` — an HMAC with the account's auth token over the URL Twilio called
 * (HERALD_PUBLIC_URL + path + query) and the form fields — and answers 403 when the signature
 * is missing or wrong, or when SMS callbacks are not configured.
 *
 * The delivery a callback is about comes from the signed URL's query (`m`, `u`: see
 * channels/sms/callback.ts). MessageStatus becomes the sms receipt: delivered → `delivered`;
 * undelivered / failed → `failed`, reason `twilio-<ErrorCode>`; sent → `sent` (reason: the
 * Message SID, as the delivery worker records it); queued, sending and anything else are
 * progress Herald does not track (204, nothing recorded). The receipt store keeps states
 * forward-only, so callbacks arriving out of order (delivered before sent) are harmless.
 */
import twilio from 'twilio';
import { type DeliveryRef, deliveryRefOf, TWILIO_WEBHOOK_PATH, twilioWebhookUrl } from '../../../channels/sms/callback.js';
import { ProblemError } from '../../errors.js';
import type { Receipt } from '../../exchange/types.js';
import type { ApiDeps } from '../deps.js';
import { json, open, type Route, refusals } from '../route.js';

export interface WebhookOptions {
  twilioAuthToken?: string;
  /** The URL at which Twilio reaches this Herald (HERALD_PUBLIC_URL). */
  publicUrl?: string;
}

export function webhookRoutes(deps: ApiDeps, options: WebhookOptions): Route[] {
  const authToken = options.twilioAuthToken;
  const callbackUrl = options.publicUrl ? twilioWebhookUrl(options.publicUrl) : undefined;

  return [
    open(
      'POST',
      TWILIO_WEBHOOK_PATH,
      {
        summary: 'Twilio SMS status callback',
        description:
          'Called by Twilio with the status of an SMS Herald sent, at the URL Herald gave with the message. Authenticated by X-Twilio-Signature (HMAC with HERALD_TWILIO_AUTH_TOKEN over HERALD_PUBLIC_URL + path + query and the form fields).',
        tag: 'webhooks',
        rawBody: { mediaType: 'application/x-www-form-urlencoded', description: "Twilio's status callback fields" },
        headers: { 'x-twilio-signature': { description: "Twilio's signature", required: true } },
        answers: {
          204: { description: 'Accepted (recorded when it changes a receipt)' },
          ...refusals({ HERALD_FORBIDDEN: 'the signature is missing or wrong, or SMS status callbacks are not configured' }),
        },
      },
      async ({ headers, query, body, log }) => {
        if (!authToken || !callbackUrl) {
          throw new ProblemError('HERALD_FORBIDDEN', 'SMS status callbacks are not configured (HERALD_TWILIO_AUTH_TOKEN, HERALD_PUBLIC_URL)');
        }
        const params = formParams(typeof body === 'string' ? body : '');
        const search = query.toString();
        const url = search ? `${callbackUrl}?${search}` : callbackUrl;
        const signature = headers['x-twilio-signature'];
        if (!signature || !twilio.validateRequest(authToken, signature, url, params)) {
          throw new ProblemError('HERALD_FORBIDDEN', 'missing or invalid X-Twilio-Signature');
        }
        const ref = deliveryRefOf(query);
        if (!ref) {
          // Signed by Twilio, but not for a URL Herald handed out with a message: nothing to update.
          log.warn({ sid: params.MessageSid }, 'twilio status callback without a delivery reference');
          return json(204);
        }
        const receipt = receiptOf(params, ref, deps.now());
        if (!receipt) return json(204);
        await deps.stores.receipts.record([receipt]);
        deps.metrics.receipts.inc({ channel: receipt.channel, state: receipt.state });
        void indexForReports(deps, receipt);
        return json(204);
      },
      // Signed by Twilio (checked above), and sent from Twilio's many addresses: not limited per address.
      { body: 'raw', unlimited: true },
    ),
  ];
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
  const base = { messageId: ref.messageId, uid: ref.uid, channel: 'sms' as const, at };
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

/** Reports group receipts by the message's urgency, which the callback does not carry. */
async function indexForReports(deps: ApiDeps, receipt: Receipt): Promise<void> {
  try {
    const stored = await deps.stores.messages.get(receipt.messageId);
    if (stored) await deps.search.indexReceipts([{ ...receipt, urgency: stored.message.urgency }]);
  } catch (error) {
    deps.log.warn({ err: error }, 'sms receipt not indexed');
  }
}
