/**
 * Builds the FCM v1 message for one delivery (firebase-admin `TokenMessage`):
 *  - `notification {title, body}` from the message's title and text;
 *  - `data` is a string map, as FCM requires: `id`, `link`, `sender` (a user's message only),
 *    and the app's `data` as JSON text;
 *  - `android`: priority high for urgency high, normal otherwise; `ttl` = time left before
 *    `expiresAt`; `collapseKey` = topic;
 *  - `apns` (for FCM tokens of iOS apps): `apns-priority` 10/5/5/1 by urgency, `apns-expiration`,
 *    `apns-collapse-id` = topic;
 *  - `webpush` (for FCM tokens of web apps): `Urgency`, `TTL`, `Topic` headers, and
 *    `fcmOptions.link` when the link is https (FCM refuses any other);
 *  - `fcmOptions.analyticsLabel` = category, when it fits FCM's label syntax.
 * A delivery without an android device, or whose message has already expired, gets a result
 * instead of a message.
 */
import type { AndroidConfig, ApnsConfig, TokenMessage, WebpushConfig } from 'firebase-admin/messaging';
import { visibleSender } from '../../src/exchange/message.js';
import type { Urgency } from '../../src/exchange/types.js';
import type { Delivery, DeliveryResult } from '../port.js';

const APNS_PRIORITY: Record<Urgency, string> = { high: '10', normal: '5', low: '5', 'very-low': '1' };
const ANALYTICS_LABEL = /^[a-zA-Z0-9-_.~%]{1,50}$/;

export type Composed = { ok: true; message: TokenMessage } | { ok: false; result: DeliveryResult };

export function composeFcmMessage(delivery: Delivery, now: number): Composed {
  const { message, device } = delivery;
  if (device?.kind !== 'android') return { ok: false, result: { type: 'failed', reason: 'no-device' } };
  const ttlMs = message.expiresAt === undefined ? undefined : message.expiresAt - now;
  if (ttlMs !== undefined && ttlMs <= 0) return { ok: false, result: { type: 'failed', reason: 'expired' } };
  const ttlSeconds = ttlMs === undefined ? undefined : Math.max(1, Math.floor(ttlMs / 1000));

  const data: Record<string, string> = { id: message.id };
  if (message.link !== undefined) data.link = message.link;
  const sender = visibleSender(message);
  if (sender !== undefined) data.sender = sender;
  if (message.data !== undefined) data.data = JSON.stringify(message.data);

  const android: AndroidConfig = { priority: message.urgency === 'high' ? 'high' : 'normal' };
  if (ttlMs !== undefined) android.ttl = ttlMs;
  if (message.topic !== undefined) android.collapseKey = message.topic;

  const apnsHeaders: Record<string, string> = { 'apns-priority': APNS_PRIORITY[message.urgency] };
  if (message.expiresAt !== undefined) apnsHeaders['apns-expiration'] = String(Math.floor(message.expiresAt / 1000));
  if (message.topic !== undefined) apnsHeaders['apns-collapse-id'] = message.topic;
  const apns: ApnsConfig = { headers: apnsHeaders };

  const webpushHeaders: Record<string, string> = { Urgency: message.urgency };
  if (ttlSeconds !== undefined) webpushHeaders.TTL = String(ttlSeconds);
  if (message.topic !== undefined) webpushHeaders.Topic = message.topic;
  const webpush: WebpushConfig = { headers: webpushHeaders };
  if (message.link?.startsWith('https://')) webpush.fcmOptions = { link: message.link };

  const fcm: TokenMessage = {
    token: device.token,
    notification: message.title === undefined ? { body: message.msg } : { title: message.title, body: message.msg },
    data,
    android,
    apns,
    webpush,
  };
  if (message.category !== undefined && ANALYTICS_LABEL.test(message.category)) fcm.fcmOptions = { analyticsLabel: message.category };
  return { ok: true, message: fcm };
}
