/**
 * Twilio status callbacks, both ends: the URL Herald asks Twilio to call per message, and how
 * the webhook reads it back. Each message's StatusCallback carries the delivery it belongs to in
 * its query (`?m=<messageId>&u=<uid>`), so a callback needs no provider-id lookup. Twilio signs
 * the full URL, query included, so the reference cannot be forged without the auth token.
 *
 * URLs are built with the WHATWG URL API, whose query serialisation (application/x-www-form-
 * urlencoded) is stable under parse + re-serialise: the webhook can rebuild the exact signed URL
 * from its parsed query.
 */

/** Where Twilio POSTs status callbacks on this Herald. */
export const TWILIO_WEBHOOK_PATH = '/api/v1/webhooks/twilio';

/** The status callback URL of a Herald reachable at `publicUrl` (a path prefix in it is kept). */
export function twilioWebhookUrl(publicUrl: string): string {
  const url = new URL(publicUrl);
  url.pathname = url.pathname.replace(/\/+$/, '') + TWILIO_WEBHOOK_PATH;
  url.search = '';
  url.hash = '';
  return url.toString();
}

export interface DeliveryRef {
  messageId: string;
  uid: string;
}

/** `callbackUrl` with the delivery it reports on added to its query. */
export function withDeliveryRef(callbackUrl: string, ref: DeliveryRef): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('m', ref.messageId);
  url.searchParams.set('u', ref.uid);
  return url.toString();
}

/** The delivery a status callback reports on, from the query of the URL Twilio called. */
export function deliveryRefOf(query: URLSearchParams): DeliveryRef | undefined {
  const messageId = query.get('m');
  const uid = query.get('u');
  return messageId && uid ? { messageId, uid } : undefined;
}
