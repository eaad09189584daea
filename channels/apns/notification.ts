/**
 * Turns a Message into the one APNs request (headers and JSON body) sent to every iOS device it
 * is for, `POST /3/device/<token>` (./apns-channel.ts), without I/O. Guarantees:
 *  - Payload: `{ aps: { alert: { title?, body: msg } }, id, data?, link?, sender? }` — the message
 *    id for client-side dedupe, its data, its link (a universal link the app opens) and, for a
 *    user's message, the sending uid, as custom keys.
 *  - Headers: `apns-topic` = the app's bundle id, `apns-push-type: alert`,
 *    `apns-collapse-id` = message.topic (≤ 32 URL-safe characters, within Apple's 64 bytes),
 *    `apns-expiration` from message.expiresAt, `apns-priority` from urgency.
 *  - Urgency → apns-priority (Apple: 10 = send at once, may wake the device; 5 = send when it
 *    conserves the device's power; 1 = prioritise power over everything, never wake it):
 *        high → 10,  normal → 5,  low → 5,  very-low → 1
 *  - A withdrawal (Delivery.withdraw: read elsewhere or recalled, src/pipeline/withdraw.ts) is a
 *    background update instead: `apns-push-type: background`, `apns-priority: 5` (what Apple
 *    requires of one), the same `apns-collapse-id`, expiring a day after it is sent, payload
 *    `{ aps: { "content-available": 1 }, herald: { type: "close", id, tag, reason } }` — the app
 *    removes the delivered notification of that id (or, by `tag`, of that collapse id).
 *  - Expiration: no ttl → no header (APNs stores and retries by its own policy); ttl 0 → 0 (try
 *    once, do not store); otherwise expiresAt in epoch seconds, rounded up.
 */
import { visibleSender } from '../../src/exchange/message.js';
import type { Message, Urgency } from '../../src/exchange/types.js';

/** Apple's limit for an alert notification's JSON payload, in bytes. */
export const MAX_PAYLOAD_BYTES = 4096;

export const PRIORITY: Readonly<Record<Urgency, 10 | 5 | 1>> = { high: 10, normal: 5, low: 5, 'very-low': 1 };

export interface ApnsPayload {
  aps: { alert: { title?: string; body: string } };
  id: string;
  data?: Record<string, unknown>;
  link?: string;
  sender?: string;
}

export function apnsPayload(message: Message): ApnsPayload {
  const alert: ApnsPayload['aps']['alert'] = message.title !== undefined ? { title: message.title, body: message.msg } : { body: message.msg };
  const payload: ApnsPayload = { aps: { alert }, id: message.id };
  if (message.data !== undefined) payload.data = message.data;
  if (message.link !== undefined) payload.link = message.link;
  const sender = visibleSender(message);
  if (sender !== undefined) payload.sender = sender;
  return payload;
}

/** `apns-expiration`: undefined (no header), 0 (ttl 0: deliver once, don't store), or epoch seconds. */
export function apnsExpiration(message: Message): number | undefined {
  if (message.expiresAt === undefined) return undefined;
  if (message.expiresAt <= (message.notBefore ?? message.createdAt)) return 0;
  return Math.ceil(message.expiresAt / 1000);
}

export interface ApnsRequest {
  /** The APNs headers of the request (authorization and apns-id are the channel's). */
  headers: Record<string, string>;
  /** The JSON payload. */
  body: string;
  /** Its length in bytes (what Apple's 4 KB limit counts). */
  bytes: number;
}

/** How long a withdrawal is worth delivering, in seconds. */
export const WITHDRAW_EXPIRATION_SECONDS = 86_400;

/** The background update that withdraws `message`'s notification (see above), sent at `now` (epoch ms). */
export function apnsWithdrawRequest(message: Message, topic: string, reason: string, now: number): ApnsRequest {
  const body = JSON.stringify({
    aps: { 'content-available': 1 },
    herald: { type: 'close', id: message.id, tag: message.topic ?? message.id, reason },
  });
  const headers: Record<string, string> = {
    'apns-topic': topic,
    'apns-push-type': 'background',
    'apns-priority': '5',
    'apns-expiration': String(Math.ceil(now / 1000) + WITHDRAW_EXPIRATION_SECONDS),
  };
  if (message.topic !== undefined) headers['apns-collapse-id'] = message.topic;
  return { headers, body, bytes: Buffer.byteLength(body, 'utf8') };
}

/** The headers and JSON payload of `message`'s notification for the app `topic`. */
export function apnsRequest(message: Message, topic: string): ApnsRequest {
  const body = JSON.stringify(apnsPayload(message));
  const headers: Record<string, string> = {
    'apns-topic': topic,
    'apns-push-type': 'alert',
    'apns-priority': String(PRIORITY[message.urgency]),
  };
  const expiration = apnsExpiration(message);
  if (expiration !== undefined) headers['apns-expiration'] = String(expiration);
  if (message.topic !== undefined) headers['apns-collapse-id'] = message.topic;
  return { headers, body, bytes: Buffer.byteLength(body, 'utf8') };
}
