/**
 * Turns one webpush Delivery into what web-push's `generateRequestDetails` needs, without I/O.
 * Guarantees:
 *  - Every input web-push would reject is checked here first and answered with a classified
 *    result instead: no web device → failed `no-subscription`; an endpoint that is not an
 *    http(s) URL → invalid-recipient `bad-endpoint` (which of those may be called is the egress
 *    policy's decision, transport.ts); p256dh not 65 bytes or auth under 16 bytes →
 *    invalid-recipient `bad-subscription-keys`; a payload that cannot fit one
 *    4096-byte aes128gcm record → failed `payload-too-large`.
 *  - Payload of a message: JSON `{ id, title, body, data, link, urgency, createdAt, sender?, tag,
 *    receipt?, renew? }` (absent values null, createdAt ISO 8601; `sender` only for a user's
 *    message, as in a realtime frame), the same fields a realtime frame carries, plus `tag` (the
 *    message's topic, else its id: the notification tag, so a newer message of a topic replaces
 *    the older) and the delivery's capabilities (src/auth/capabilities.ts): `receipt`, with
 *    which the service worker reports this device's receipts, and `renew`, with which it
 *    replaces the subscription the browser rotates. Built per delivery (the capabilities name
 *    the device); the part common to a message's deliveries is serialised once. When the
 *    payload would not fit, `renew` is left out first.
 *  - Payload of a withdrawal (Delivery.withdraw): `{ type: "close", id, tag, reason }`; the
 *    service worker closes the notification. TTL WITHDRAW_TTL_SECONDS, whatever the message's.
 *  - `Urgency` header = the message's urgency (RFC 8030 names, one to one).
 *  - `TTL` = whole seconds until `expiresAt` (rounded up, never below 0), or 2419200 (four
 *    weeks) when the message has no ttl.
 *  - `Topic` = the message's topic when it is ≤ 32 URL-safe base64 characters (the API enforces
 *    this), else the first 32 characters of its base64url SHA-256, so the same topic still
 *    collapses the same way.
 */
import { createHash } from 'node:crypto';
import type { PushSubscription, Urgency as WebPushUrgency } from 'web-push';
import { visibleSender } from '../../src/exchange/message.js';
import type { Urgency } from '../../src/exchange/types.js';
import type { Delivery, DeliveryResult } from '../port.js';

export const DEFAULT_TTL_SECONDS = 2_419_200;
/** A withdrawal is worth delivering for a day: a browser offline longer shows a stale notification. */
export const WITHDRAW_TTL_SECONDS = 86_400;
/** RFC 8291: 4096 bytes − 86 header bytes − 16 tag − 1 padding delimiter. */
export const MAX_PAYLOAD_BYTES = 3993;

const URGENCY: Record<Urgency, WebPushUrgency> = { 'very-low': 'very-low', low: 'low', normal: 'normal', high: 'high' };
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

export interface PushRequest {
  subscription: PushSubscription;
  /** The push service's origin: the VAPID audience. */
  origin: string;
  payload: string;
  TTL: number;
  urgency: WebPushUrgency;
  topic?: string;
}

export type Prepared = { ok: true; request: PushRequest } | { ok: false; result: DeliveryResult };

export function ttlSeconds(expiresAt: number | undefined, now: number): number {
  if (expiresAt === undefined) return DEFAULT_TTL_SECONDS;
  return Math.max(0, Math.ceil((expiresAt - now) / 1000));
}

export function pushTopic(topic: string | undefined): string | undefined {
  if (topic === undefined || topic === '') return undefined;
  return TOPIC.test(topic) ? topic : createHash('sha256').update(topic).digest('base64url').slice(0, 32);
}

/** The notification tag: the topic (as given, so the worker's tags read like the app's), else the id. */
export const notificationTag = (message: Delivery['message']): string => (message.topic !== undefined && message.topic !== '' ? message.topic : message.id);

/** The JSON members common to every delivery of `message`, without the braces: serialised once per message. */
export function messagePayloadMembers(message: Delivery['message']): string {
  const sender = visibleSender(message);
  return JSON.stringify({
    id: message.id,
    title: message.title ?? null,
    body: message.msg,
    data: message.data ?? null,
    link: message.link ?? null,
    urgency: message.urgency,
    createdAt: new Date(message.createdAt).toISOString(),
    ...(sender !== undefined ? { sender } : {}),
    tag: notificationTag(message),
  }).slice(1, -1);
}

/** The payload of one delivery: the message's members plus this delivery's capabilities; `renew` dropped when it would not fit. */
export function pushPayload(delivery: Pick<Delivery, 'message' | 'capabilities' | 'withdraw'>, members = messagePayloadMembers(delivery.message)): string {
  if (delivery.withdraw) {
    return JSON.stringify({ type: 'close', id: delivery.message.id, tag: notificationTag(delivery.message), reason: delivery.withdraw });
  }
  const capabilities = delivery.capabilities;
  if (!capabilities) return `{${members}}`;
  const withReceipt = `{${members},"receipt":${JSON.stringify(capabilities.receipt)}`;
  const whole = capabilities.renew !== undefined ? `${withReceipt},"renew":${JSON.stringify(capabilities.renew)}}` : `${withReceipt}}`;
  return Buffer.byteLength(whole) <= MAX_PAYLOAD_BYTES ? whole : `${withReceipt}}`;
}

const decodedLength = (text: string): number => (/^[A-Za-z0-9_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64url').length : -1);

const originOf = (endpoint: string): string | undefined => {
  try {
    const url = new URL(endpoint);
    // http: only reaches the egress policy's check, which allows it for emulators (transport.ts).
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
};

/** `membersOf` lets a caller serialise the members common to a message's deliveries once. */
export function preparePush(delivery: Delivery, now: number, membersOf: (message: Delivery['message']) => string = messagePayloadMembers): Prepared {
  const device = delivery.device;
  if (device?.kind !== 'web' || !device.token) return { ok: false, result: { type: 'failed', reason: 'no-subscription' } };
  const origin = originOf(device.token);
  if (origin === undefined) return { ok: false, result: { type: 'invalid-recipient', reason: 'bad-endpoint' } };
  const { p256dh, auth } = device.keys ?? { p256dh: '', auth: '' };
  if (decodedLength(p256dh) !== 65 || decodedLength(auth) < 16) {
    return { ok: false, result: { type: 'invalid-recipient', reason: 'bad-subscription-keys' } };
  }
  const payload = pushPayload(delivery, delivery.withdraw ? '' : membersOf(delivery.message));
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) return { ok: false, result: { type: 'failed', reason: 'payload-too-large' } };

  const request: PushRequest = {
    subscription: { endpoint: device.token, keys: { p256dh, auth }, expirationTime: device.expirationTime },
    origin,
    payload,
    TTL: delivery.withdraw ? WITHDRAW_TTL_SECONDS : ttlSeconds(delivery.message.expiresAt, now),
    urgency: URGENCY[delivery.message.urgency] ?? 'normal',
  };
  // A withdrawal goes without the message's Topic: at the push service it would replace a newer
  // message of that topic still waiting there (the worker closes by id and tag, not by Topic).
  const topic = delivery.withdraw ? undefined : pushTopic(delivery.message.topic);
  if (topic !== undefined) request.topic = topic;
  return { ok: true, request };
}
