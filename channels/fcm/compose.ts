/**
 * Builds the FCM HTTP v1 `message` for one delivery, as the JSON body of
 * `POST /v1/projects/<project>/messages:send` wants it (`{"message": …}`):
 *  - `notification {title, body}` from the message's title and text;
 *  - `data` is a string map, as FCM requires: `id`, `link`, `sender` (a user's message only),
 *    and the app's `data` as JSON text;
 *  - `android`: priority high for urgency high, normal otherwise; `ttl` = time left before
 *    `expiresAt` as a protobuf Duration (`"119.5s"`); `collapse_key` = topic;
 *  - `apns` (for FCM tokens of iOS apps): `apns-priority` 10/5/5/1 by urgency, `apns-expiration`,
 *    `apns-collapse-id` = topic;
 *  - `webpush` (for FCM tokens of web apps): `Urgency`, `TTL`, `Topic` headers, and
 *    `fcmOptions.link` when the link is https (FCM refuses any other);
 *  - `fcmOptions.analyticsLabel` = category, when it fits FCM's label syntax.
 * A withdrawal (Delivery.withdraw, src/pipeline/withdraw.ts) is a data-only message instead: no
 * `notification`, `data {type: "close", id, tag, reason}`, the same `collapse_key` / `apns-collapse-id`,
 * android priority normal, a day's ttl — the app removes the notification of that id (or tag).
 * The body is the one firebase-admin 13's `send`/`sendEach` put on the wire for the same
 * TokenMessage (its `validateMessage` conversion): it renames
 * `android.collapseKey` to `collapse_key` and turns `android.ttl` milliseconds into a Duration
 * string, and leaves `fcmOptions`/`analyticsLabel` in camelCase — the API's proto3 JSON parser
 * takes both spellings of every field. A delivery without an android device, or whose message
 * has already expired, gets a result instead of a message.
 */
import { visibleSender } from '../../src/exchange/message.js';
import type { Urgency } from '../../src/exchange/types.js';
import type { Delivery, DeliveryResult } from '../port.js';

/** The fields of FCM v1's `Message` resource that Herald sets. */
export interface FcmWireMessage {
  token: string;
  notification?: { title?: string; body: string };
  data: Record<string, string>;
  android: { priority: 'high' | 'normal'; ttl?: string; collapse_key?: string };
  apns: { headers: Record<string, string> };
  webpush: { headers: Record<string, string>; fcmOptions?: { link: string } };
  fcmOptions?: { analyticsLabel: string };
}

const APNS_PRIORITY: Record<Urgency, string> = { high: '10', normal: '5', low: '5', 'very-low': '1' };
const ANALYTICS_LABEL = /^[a-zA-Z0-9-_.~%]{1,50}$/;

export type Composed = { ok: true; message: FcmWireMessage } | { ok: false; result: DeliveryResult };

/** Milliseconds as a protobuf Duration: `"120s"`, `"119.001000000s"` (firebase-admin's transformMillisecondsToSecondsString). */
export function durationOf(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.floor((ms - seconds * 1000) * 1_000_000);
  return nanos > 0 ? `${seconds}.${String(nanos).padStart(9, '0')}s` : `${seconds}s`;
}

/** How long a withdrawal is worth delivering. */
const WITHDRAW_TTL_MS = 86_400_000;

function composeWithdrawal(delivery: Delivery & { withdraw: string }, token: string): FcmWireMessage {
  const { message } = delivery;
  const android: FcmWireMessage['android'] = { priority: 'normal', ttl: durationOf(WITHDRAW_TTL_MS) };
  const apnsHeaders: Record<string, string> = { 'apns-priority': '5', 'apns-push-type': 'background' };
  if (message.topic !== undefined) {
    android.collapse_key = message.topic;
    apnsHeaders['apns-collapse-id'] = message.topic;
  }
  return {
    token,
    data: { type: 'close', id: message.id, tag: message.topic ?? message.id, reason: delivery.withdraw },
    android,
    apns: { headers: apnsHeaders },
    webpush: { headers: { Urgency: 'normal', TTL: String(WITHDRAW_TTL_MS / 1000) } },
  };
}

export function composeFcmMessage(delivery: Delivery, now: number): Composed {
  const { message, device } = delivery;
  if (device?.kind !== 'android') return { ok: false, result: { type: 'failed', reason: 'no-device' } };
  if (delivery.withdraw !== undefined) return { ok: true, message: composeWithdrawal({ ...delivery, withdraw: delivery.withdraw }, device.token) };
  const ttlMs = message.expiresAt === undefined ? undefined : message.expiresAt - now;
  if (ttlMs !== undefined && ttlMs <= 0) return { ok: false, result: { type: 'failed', reason: 'expired' } };
  const ttlSeconds = ttlMs === undefined ? undefined : Math.max(1, Math.floor(ttlMs / 1000));

  const data: Record<string, string> = { id: message.id };
  if (message.link !== undefined) data.link = message.link;
  const sender = visibleSender(message);
  if (sender !== undefined) data.sender = sender;
  if (message.data !== undefined) data.data = JSON.stringify(message.data);

  const android: FcmWireMessage['android'] = { priority: message.urgency === 'high' ? 'high' : 'normal' };
  if (ttlMs !== undefined) android.ttl = durationOf(ttlMs);
  if (message.topic !== undefined) android.collapse_key = message.topic;

  const apnsHeaders: Record<string, string> = { 'apns-priority': APNS_PRIORITY[message.urgency] };
  if (message.expiresAt !== undefined) apnsHeaders['apns-expiration'] = String(Math.floor(message.expiresAt / 1000));
  if (message.topic !== undefined) apnsHeaders['apns-collapse-id'] = message.topic;
  const apns: FcmWireMessage['apns'] = { headers: apnsHeaders };

  const webpushHeaders: Record<string, string> = { Urgency: message.urgency };
  if (ttlSeconds !== undefined) webpushHeaders.TTL = String(ttlSeconds);
  if (message.topic !== undefined) webpushHeaders.Topic = message.topic;
  const webpush: FcmWireMessage['webpush'] = { headers: webpushHeaders };
  if (message.link?.startsWith('https://')) webpush.fcmOptions = { link: message.link };

  const fcm: FcmWireMessage = {
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
