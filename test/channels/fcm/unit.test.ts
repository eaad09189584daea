/**
 * The FCM channel against the loopback FCM fake (HTTP/2 to FCM v1 `messages:send`, the real
 * OAuth2 JWT-bearer grant over HTTPS/1.1, both through the `host` override): token fetched once
 * and reused, the wire shape of messages per urgency, results mapped back in batch order,
 * classification of every FCM error kind (Retry-After, 401 → one new token), the fake down, a
 * refused credential; the transport: many deliveries on one session with at most `concurrency`
 * streams, GOAWAY (nothing lost or sent twice), a stalled stream and a stalled session; and the
 * registration. Pure parts (classification, durations, the token cache) are tested directly.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { cachedAccessToken, FAILURE_HOLD_MS, REFRESH_BEFORE_MS, TokenRequestError } from '../../../channels/fcm/access-token.js';
import { classifyFcmAnswer, classifyTokenError, classifyTransportError } from '../../../channels/fcm/classify.js';
import { durationOf } from '../../../channels/fcm/compose.js';
import { fcmDescriptor } from '../../../channels/fcm/descriptor.js';
import { createFcmChannel, type FcmChannel, type FcmChannelOptions } from '../../../channels/fcm/fcm-channel.js';
import { Http2RequestError, parseHostPort } from '../../../channels/http2-session.js';
import type { Delivery, DeliveryResult } from '../../../channels/port.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import type { Device, Message, Urgency } from '../../../src/exchange/types.js';
import { FCM_SCOPE, type FcmFake, type ServiceAccountFile, startFcmFake, TOKEN_URI, writeServiceAccount } from '../../fakes/fcm.js';
import { testCertificate } from '../../fakes/tls.js';
import { channelTestMessage } from '../../helpers/messages.js';

const ca = testCertificate().cert;

const message = (overrides: Partial<Message> = {}): Message => channelTestMessage({ createdAt: Date.now(), ...overrides });

const android = (token = `tok-${randomUUID()}`): Device => ({ id: randomUUID(), uid: 'u1', kind: 'android', token, createdAt: 0 });

const delivery = (msg: Message, device: Device | null = android(), attempt = 1): Delivery => ({
  message: msg,
  recipient: { uid: device?.uid ?? 'u1' },
  ...(device ? { device } : {}),
  channel: 'fcm',
  attempt,
});

const tokenOf = (d: Delivery): string => d.device?.token ?? '';
const types = (results: DeliveryResult[]) => results.map((r) => r.type);

describe('fcm channel', () => {
  let fake: FcmFake;
  let account: ServiceAccountFile;
  let channel: FcmChannel;
  const channels: FcmChannel[] = [];
  const fakes: FcmFake[] = [];
  const fresh = (
    options: { account?: ServiceAccountFile; host?: string } & Partial<Omit<FcmChannelOptions, 'serviceAccountPath' | 'host'>> = {},
  ): FcmChannel => {
    const { account: which, host, ...rest } = options;
    const c = createFcmChannel({ serviceAccountPath: (which ?? account).path, host: host ?? fake.host, ca, ...rest });
    channels.push(c);
    return c;
  };
  /** A fake of its own, for tests that change how it behaves. */
  const ownFake = async (): Promise<FcmFake> => {
    const f = await startFcmFake({ accounts: [account] });
    fakes.push(f);
    return f;
  };

  before(async () => {
    account = writeServiceAccount();
    fake = await startFcmFake({ accounts: [account] });
  });
  // A fresh channel per test: what one test's errors teach the project's gate (a pause, an open
  // circuit) must not hold back the next test's sends.
  beforeEach(() => {
    channel = fresh();
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await Promise.all([fake, ...fakes].map((f) => f.close()));
  });

  it('gets an access token with a verified JWT-bearer assertion and reuses it across batches', async () => {
    const c = fresh();
    const before = fake.tokenCalls;
    for (let i = 0; i < 3; i++) {
      const results = await c.deliver([delivery(message()), delivery(message())]);
      assert.deepEqual(types(results), ['sent', 'sent']);
    }
    assert.equal(fake.tokenCalls - before, 1, 'one token call for three batches');
    const claims = fake.assertions.at(-1);
    assert.equal(claims?.iss, account.clientEmail);
    assert.equal(claims?.aud, TOKEN_URI);
    assert.ok(String(claims?.scope).split(' ').includes(FCM_SCOPE));
  });

  it('sends the FCM v1 message shape: notification, string data, android priority/ttl/collapse key, apns and webpush', async () => {
    const expiresAt = Date.now() + 120_000;
    const msg = message({
      title: 'Order',
      urgency: 'high',
      topic: 'orders',
      link: 'https://shop.test/o/1',
      data: { order: 1, items: ['a'] },
      category: 'shipping',
      expiresAt,
    });
    const d = delivery(msg);
    const [result] = await channel.deliver([d]);
    assert.equal(result?.type, 'sent');
    assert.match(result?.type === 'sent' ? (result.providerId ?? '') : '', new RegExp(`^projects/${account.projectId}/messages/`));
    const sent = fake.received.find((r) => r.token === tokenOf(d));
    assert.ok(sent);
    assert.equal(sent.project, account.projectId);
    assert.ok(sent.session > 0, 'sent over HTTP/2');
    assert.match(String(sent.headers.authorization), /^Bearer ya29\.fake-/);
    assert.match(String(sent.headers['content-type']), /^application\/json/);
    const wire = sent.message;
    assert.deepEqual(wire.notification, { title: 'Order', body: msg.msg });
    assert.deepEqual(wire.data, { id: msg.id, link: 'https://shop.test/o/1', data: JSON.stringify({ order: 1, items: ['a'] }) });
    for (const value of Object.values(wire.data)) assert.equal(typeof value, 'string');
    assert.equal(wire.android.priority, 'high');
    assert.equal(wire.android.collapse_key, 'orders');
    const ttlSeconds = Number.parseFloat(String(wire.android.ttl));
    assert.match(String(wire.android.ttl), /^\d+(\.\d+)?s$/);
    assert.ok(ttlSeconds > 0 && ttlSeconds <= 120, `ttl ${wire.android.ttl}`);
    assert.equal(wire.apns.headers['apns-priority'], '10');
    assert.equal(wire.apns.headers['apns-collapse-id'], 'orders');
    assert.equal(wire.apns.headers['apns-expiration'], String(Math.floor(expiresAt / 1000)));
    assert.equal(wire.webpush.headers.Urgency, 'high');
    assert.equal(wire.webpush.headers.Topic, 'orders');
    assert.equal(wire.webpush.fcmOptions.link, 'https://shop.test/o/1');
    assert.equal(wire.fcmOptions.analyticsLabel, 'shipping');
  });

  it('maps each urgency to android priority and apns-priority, and omits ttl, collapse key and non-https links when absent', async () => {
    const expected: Array<[Urgency, string, string]> = [
      ['high', 'high', '10'],
      ['normal', 'normal', '5'],
      ['low', 'normal', '5'],
      ['very-low', 'normal', '1'],
    ];
    const batch = expected.map(([urgency]) => delivery(message({ urgency, link: 'http://plain.test/x' })));
    assert.deepEqual(types(await channel.deliver(batch)), ['sent', 'sent', 'sent', 'sent']);
    for (const [i, [, priority, apnsPriority]] of expected.entries()) {
      const wire = fake.received.find((r) => r.token === tokenOf(batch[i]!))?.message;
      assert.ok(wire, `message ${i} received`);
      assert.equal(wire.android.priority, priority);
      assert.equal(wire.apns.headers['apns-priority'], apnsPriority);
      assert.equal(wire.android.ttl, undefined);
      assert.equal(wire.android.collapse_key, undefined);
      assert.deepEqual(wire.notification, { body: 'Your order has shipped.' });
      assert.equal(wire.data.link, 'http://plain.test/x');
      assert.equal(wire.data.data, undefined);
      assert.equal(wire.webpush.fcmOptions, undefined, 'FCM refuses non-https webpush links');
    }
  });

  it('maps a mixed batch back in order and classifies each FCM error', async () => {
    const msg = message();
    const batch = [
      delivery(msg),
      delivery(msg),
      delivery(msg, android(), 3),
      delivery(msg),
      delivery(msg, null),
      delivery(msg, android(), 2),
      delivery(msg, { id: 'ios', uid: 'u1', kind: 'ios', token: 'ab'.repeat(32), createdAt: 0 }),
      delivery(msg, android(), 40),
      delivery(msg),
    ];
    fake.answer(tokenOf(batch[1]!), [{ status: 404, errorCode: 'UNREGISTERED' }]);
    fake.answer(tokenOf(batch[2]!), [{ status: 429, errorCode: 'QUOTA_EXCEEDED' }]);
    fake.answer(tokenOf(batch[3]!), [{ status: 400, errorCode: 'INVALID_ARGUMENT' }]);
    fake.answer(tokenOf(batch[5]!), [{ status: 500 }]);
    fake.answer(tokenOf(batch[7]!), [{ status: 500, errorCode: 'INTERNAL' }]);
    const results = await channel.deliver(batch);
    assert.equal(results.length, batch.length);
    assert.equal(results[0]?.type, 'sent');
    assert.deepEqual(results[1], { type: 'invalid-recipient', reason: 'fcm-registration-token-not-registered' });
    assert.deepEqual(results[2], { type: 'retry', afterMs: 90_000, reason: 'fcm-message-rate-exceeded', cause: 'unavailable' });
    assert.deepEqual(results[3], { type: 'failed', reason: 'fcm-invalid-argument' });
    assert.deepEqual(results[4], { type: 'failed', reason: 'no-device' });
    assert.deepEqual(results[5], { type: 'retry', afterMs: 60_000, reason: 'fcm-internal-error', cause: 'unavailable' });
    assert.deepEqual(results[6], { type: 'failed', reason: 'no-device' });
    assert.deepEqual(results[7], { type: 'retry', afterMs: 600_000, reason: 'fcm-internal-error', cause: 'unavailable' }, 'backoff capped at 10 min');
    assert.equal(results[8]?.type, 'sent');
    assert.equal(fake.requests.filter((r) => r.token === 'ab'.repeat(32)).length, 0, 'nothing sent for a non-android device');
  });

  it('does not send a message that expired before the call', async () => {
    const d = delivery(message({ expiresAt: Date.now() - 1 }));
    assert.deepEqual(await channel.deliver([d]), [{ type: 'failed', reason: 'expired' }]);
    assert.equal(fake.requests.filter((r) => r.token === tokenOf(d)).length, 0);
  });

  it('sends again to a token once its scripted errors are used up', async () => {
    const d = delivery(message());
    fake.answer(tokenOf(d), [{ status: 500 }]);
    assert.equal((await channel.deliver([d]))[0]?.type, 'retry');
    assert.equal((await channel.deliver([{ ...d, attempt: 2 }]))[0]?.type, 'sent');
  });

  it('retries every delivery when the fake is down before any token was obtained', async () => {
    const down = await startFcmFake({ accounts: [account] });
    const host = down.host;
    await down.close();
    const c = fresh({ host });
    const results = await c.deliver([delivery(message()), delivery(message(), android(), 2)]);
    assert.deepEqual(results, [
      { type: 'retry', afterMs: 30_000, reason: 'fcm-token-unavailable', cause: 'unavailable' },
      { type: 'retry', afterMs: 60_000, reason: 'fcm-token-unavailable', cause: 'unavailable' },
    ]);
  });

  it('retries every delivery when the fake goes down after a token was obtained', async () => {
    const other = await startFcmFake({ accounts: [account] });
    const c = fresh({ host: other.host });
    assert.deepEqual(types(await c.deliver([delivery(message())])), ['sent']);
    await other.close();
    const results = await c.deliver([delivery(message()), delivery(message())]);
    assert.deepEqual(types(results), ['retry', 'retry']);
    for (const r of results) assert.equal(r.type === 'retry' && r.reason, 'fcm-network-error');
  });

  it('fails every delivery when Google refuses the service account', async () => {
    const stranger = writeServiceAccount();
    const c = fresh({ account: stranger });
    const before = fake.tokenCalls;
    const results = await c.deliver([delivery(message()), delivery(message())]);
    assert.deepEqual(results, [
      { type: 'failed', reason: 'fcm-invalid-credential' },
      { type: 'failed', reason: 'fcm-invalid-credential' },
    ]);
    assert.ok(fake.tokenCalls > before, 'the token endpoint was asked');
  });

  it('sends many deliveries on one HTTP/2 session, at most `concurrency` requests at once across batches', async () => {
    const f = await ownFake();
    const c = fresh({ host: f.host, concurrency: 20 });
    const msg = message({ urgency: 'low' });
    const batches = Array.from({ length: 3 }, () => Array.from({ length: 100 }, () => delivery(msg)));
    const all = (await Promise.all(batches.map((b) => c.deliver(b)))).flat();
    assert.equal(all.length, 300);
    assert.ok(
      all.every((r) => r.type === 'sent'),
      JSON.stringify(all.find((r) => r.type !== 'sent')),
    );
    assert.equal(new Set(all.map((r) => (r.type === 'sent' ? r.providerId : ''))).size, 300, 'one provider id per delivery');
    assert.equal(f.sessions, 1, 'the fake saw one HTTP/2 session');
    assert.equal(c.sessionsOpened, 1);
    assert.deepEqual([...new Set(f.requests.map((r) => r.session))], [1]);
    assert.ok(f.maxInFlight <= 20, `at most 20 in flight, saw ${f.maxInFlight}`);
    assert.ok(f.maxInFlight > 1, 'requests were multiplexed');
    const tokens = new Set(f.received.map((r) => r.token));
    assert.ok(
      batches.flat().every((d) => tokens.has(tokenOf(d))),
      'every token reached the fake',
    );
  });

  it('moves to a new session after GOAWAY: requests refused by it are sent again, nothing is lost or sent twice', async () => {
    const f = await ownFake();
    f.goawayAfter(12);
    const c = fresh({ host: f.host, concurrency: 20 });
    const first = Array.from({ length: 20 }, () => delivery(message()));
    assert.deepEqual(types(await c.deliver(first)), Array(20).fill('sent'));
    const second = Array.from({ length: 10 }, () => delivery(message()));
    assert.deepEqual(types(await c.deliver(second)), Array(10).fill('sent'));
    const sent = [...first, ...second].map(tokenOf);
    const counts = new Map<string, number>();
    for (const r of f.requests) counts.set(r.token, (counts.get(r.token) ?? 0) + 1);
    assert.equal(f.requests.length, 30, 'the fake processed each request once');
    assert.ok(
      sent.every((t) => counts.get(t) === 1),
      'every delivery reached the fake exactly once',
    );
    const perSession = new Map<number, number>();
    for (const r of f.requests) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
    assert.ok(
      [...perSession.values()].every((n) => n <= 12),
      JSON.stringify([...perSession]),
    );
    assert.ok(perSession.size >= 3, `30 requests at 12 per session need 3 sessions, got ${JSON.stringify([...perSession])}`);
    assert.equal(c.sessionsOpened, f.sessions);
  });

  it('fails a stalled stream as retry on its own: the other deliveries are answered first and the session is kept', async () => {
    const f = await ownFake();
    const c = fresh({ host: f.host, requestTimeoutMs: 1_500, pingTimeoutMs: 100 });
    const batch = Array.from({ length: 6 }, () => delivery(message()));
    f.answer(tokenOf(batch[2]!), [{ status: 0, stall: true }]);
    const order: number[] = [];
    const results = await c.deliver(batch, (index) => order.push(index));
    assert.deepEqual(results[2], { type: 'retry', afterMs: 30_000, reason: 'fcm-network-timeout', cause: 'unavailable' });
    assert.deepEqual(types(results.filter((_, i) => i !== 2)), Array(5).fill('sent'));
    assert.equal(order.at(-1), 2, `the stalled delivery is reported last: ${order}`);
    assert.equal(order.length, 6);
    assert.deepEqual(types(await c.deliver([delivery(message())])), ['sent']);
    assert.equal(f.sessions, 1, 'the session answered its PINGs and was kept');
    assert.equal(f.stalled, 0);
  });

  it('drops a stalled session (PING unanswered) and sends later deliveries on a new one', async () => {
    const f = await ownFake();
    f.stallSessions((n) => n === 1);
    // The request timeout is far off: only the PING check can end these sends.
    const c = fresh({ host: f.host, requestTimeoutMs: 120_000, pingTimeoutMs: 100 });
    const stuck = await c.deliver([delivery(message()), delivery(message(), android(), 2)]);
    assert.deepEqual(stuck, [
      { type: 'retry', afterMs: 30_000, reason: 'fcm-session-stalled', cause: 'unavailable' },
      { type: 'retry', afterMs: 60_000, reason: 'fcm-session-stalled', cause: 'unavailable' },
    ]);
    assert.equal(f.stalled, 1);
    assert.deepEqual(types(await c.deliver([delivery(message()), delivery(message())])), ['sent', 'sent']);
    assert.equal(f.sessions, 2);
    assert.equal(c.sessionsOpened, 2);
  });

  it('fetches a new access token once when FCM refuses the current one (401), and sends again', async () => {
    const c = fresh();
    assert.deepEqual(types(await c.deliver([delivery(message())])), ['sent']);
    fake.revokeTokens();
    const tokenCalls = fake.tokenCalls;
    const unauthorized = fake.unauthorized;
    const batch = Array.from({ length: 10 }, () => delivery(message()));
    assert.deepEqual(types(await c.deliver(batch)), Array(10).fill('sent'));
    assert.equal(fake.tokenCalls - tokenCalls, 1, 'one new token for ten refused requests');
    assert.equal(fake.unauthorized - unauthorized, 10, 'each request was refused once');
    for (const d of batch) assert.equal(fake.received.filter((r) => r.token === tokenOf(d)).length, 1);
  });

  it('retries after one new token when FCM refuses the new one too, and never asks again for an FcmError 401', async () => {
    const c = fresh();
    assert.deepEqual(types(await c.deliver([delivery(message())])), ['sent']);
    const twice = delivery(message());
    fake.answer(tokenOf(twice), [{ status: 401 }, { status: 401 }]);
    const before = fake.tokenCalls;
    assert.deepEqual(await c.deliver([twice]), [{ type: 'retry', afterMs: 30_000, reason: 'fcm-authentication-error' }]);
    assert.equal(fake.requests.filter((r) => r.token === tokenOf(twice)).length, 2);
    assert.equal(fake.tokenCalls - before, 1);

    const thirdParty = delivery(message());
    fake.answer(tokenOf(thirdParty), [{ status: 401, errorCode: 'THIRD_PARTY_AUTH_ERROR' }]);
    const calls = fake.tokenCalls;
    assert.deepEqual(await c.deliver([thirdParty]), [{ type: 'failed', reason: 'fcm-third-party-auth-error' }]);
    assert.equal(fake.requests.filter((r) => r.token === tokenOf(thirdParty)).length, 1);
    assert.equal(fake.tokenCalls, calls, 'APNs/web push credentials of the project are not the access token');
  });

  it('waits what Retry-After asks on 429 and 503, and classifies the other v1 errors', async () => {
    const batch = Array.from({ length: 6 }, (_, i) => delivery(message(), android(), i + 1));
    fake.answer(tokenOf(batch[0]!), [{ status: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: '120' }]);
    fake.answer(tokenOf(batch[1]!), [{ status: 503, errorCode: 'UNAVAILABLE', retryAfter: '7' }]);
    fake.answer(tokenOf(batch[2]!), [{ status: 503, errorCode: 'UNAVAILABLE' }]);
    fake.answer(tokenOf(batch[3]!), [{ status: 403, errorCode: 'SENDER_ID_MISMATCH' }]);
    fake.answer(tokenOf(batch[4]!), [{ status: 502, rawBody: '<html>Bad Gateway</html>' }]);
    fake.answer(tokenOf(batch[5]!), [{ status: 400, errorCode: 'INVALID_ARGUMENT', retryAfter: '5' }]);
    assert.deepEqual(await channel.deliver(batch), [
      { type: 'retry', afterMs: 120_000, reason: 'fcm-message-rate-exceeded', cause: 'throttled' },
      { type: 'retry', afterMs: 7_000, reason: 'fcm-server-unavailable', cause: 'unavailable' },
      { type: 'retry', afterMs: 90_000, reason: 'fcm-server-unavailable', cause: 'unavailable' },
      { type: 'failed', reason: 'fcm-mismatched-credential' },
      { type: 'retry', afterMs: 150_000, reason: 'fcm-unknown-error', cause: 'unavailable' },
      { type: 'failed', reason: 'fcm-invalid-argument' },
    ]);
  });

  it('refuses to deliver after close', async () => {
    const c = createFcmChannel({ serviceAccountPath: account.path, host: fake.host, ca });
    await c.close();
    await assert.rejects(c.deliver([delivery(message())]), /closed/);
  });
});

describe('fcm classification and token cache', () => {
  const error = (status: number, errorCode?: string, statusName?: string) =>
    JSON.stringify({
      error: {
        code: status,
        message: 'm',
        ...(statusName ? { status: statusName } : {}),
        ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}),
      },
    });

  it('reads the FcmError errorCode before error.status, as firebase-admin does', () => {
    assert.deepEqual(classifyFcmAnswer({ status: 404, body: error(404, 'UNREGISTERED', 'NOT_FOUND') }, 1), {
      type: 'invalid-recipient',
      reason: 'fcm-registration-token-not-registered',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 404, body: error(404, undefined, 'NOT_FOUND') }, 1), {
      type: 'invalid-recipient',
      reason: 'fcm-registration-token-not-registered',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 400, body: error(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT') }, 1), {
      type: 'failed',
      reason: 'fcm-invalid-argument',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 403, body: error(403, undefined, 'PERMISSION_DENIED') }, 1), {
      type: 'failed',
      reason: 'fcm-mismatched-credential',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 500, body: error(500, 'INTERNAL', 'INTERNAL') }, 2), {
      type: 'retry',
      afterMs: 60_000,
      reason: 'fcm-internal-error',
      cause: 'unavailable',
    });
  });

  it('retries unknown or unreadable 429/5xx answers and fails other unknown ones', () => {
    assert.deepEqual(classifyFcmAnswer({ status: 504, body: error(504, undefined, 'DEADLINE_EXCEEDED') }, 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'fcm-unknown-error',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 429, body: 'slow down', retryAfter: '3' }, 1), {
      type: 'retry',
      afterMs: 3_000,
      reason: 'fcm-unknown-error',
      cause: 'throttled',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 503, body: '' }, 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'fcm-server-unavailable',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyFcmAnswer({ status: 418, body: error(418, undefined, 'TEAPOT') }, 1), { type: 'failed', reason: 'fcm-unknown-error' });
    assert.deepEqual(classifyFcmAnswer({ status: 400, body: '<html>' }, 1), { type: 'failed', reason: 'fcm-invalid-argument' });
  });

  it('sorts token and transport failures', () => {
    assert.deepEqual(classifyTokenError(new TokenRequestError('refused', 400), 1), { type: 'failed', reason: 'fcm-invalid-credential' });
    assert.deepEqual(classifyTokenError(new TokenRequestError('busy', 429), 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'fcm-token-unavailable',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyTokenError(new TokenRequestError('down', undefined), 2), {
      type: 'retry',
      afterMs: 60_000,
      reason: 'fcm-token-unavailable',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyTransportError(new Http2RequestError('t', 'timeout'), 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'fcm-network-timeout',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyTransportError(new Http2RequestError('t', 'network'), 3), {
      type: 'retry',
      afterMs: 90_000,
      reason: 'fcm-network-error',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyTransportError(new Http2RequestError('t', 'stalled'), 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'fcm-session-stalled',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyTransportError(new Error('bug'), 1), { type: 'retry', afterMs: 30_000, reason: 'fcm-error', cause: 'unavailable' });
  });

  it('writes android.ttl as firebase-admin does: whole seconds, or nine digits of nanoseconds', () => {
    assert.equal(durationOf(120_000), '120s');
    assert.equal(durationOf(119_001), '119.001000000s');
    assert.equal(durationOf(999), '0.999000000s');
  });

  it('shares one token fetch, refreshes before expiry, drops an invalidated token once, and holds a failure briefly', async () => {
    let clock = 1_000_000;
    let fetches = 0;
    let fail = false;
    const cache = cachedAccessToken(
      async () => {
        fetches++;
        await new Promise((resolve) => setImmediate(resolve));
        if (fail) throw new TokenRequestError('down', undefined);
        return { access_token: `t${fetches}`, expires_in: 3600 };
      },
      () => clock,
    );
    assert.deepEqual(await Promise.all([cache.get(), cache.get(), cache.get()]), ['t1', 't1', 't1']);
    assert.equal(fetches, 1);
    clock += 3600_000 - REFRESH_BEFORE_MS - 1;
    assert.equal(await cache.get(), 't1');
    clock += 1;
    assert.equal(await cache.get(), 't2', 'refreshed 5 minutes before expiry');
    cache.invalidate('t1');
    assert.equal(await cache.get(), 't2', 'an older token invalidated changes nothing');
    cache.invalidate('t2');
    assert.equal(await cache.get(), 't3');
    cache.invalidate('t3');
    fail = true;
    await assert.rejects(cache.get(), /down/);
    await assert.rejects(cache.get(), /down/);
    assert.equal(fetches, 4, 'a failure is held, not fetched again at once');
    clock += FAILURE_HOLD_MS;
    fail = false;
    assert.equal(await cache.get(), 't5');
  });
});

describe('fcm host override', () => {
  it('parses host[:port]', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:8443'), { host: '127.0.0.1', port: 8443 });
    assert.deepEqual(parseHostPort('proxy.internal'), { host: 'proxy.internal', port: 443 });
    assert.deepEqual(parseHostPort('[::1]:9000'), { host: '::1', port: 9000 });
    assert.throws(() => parseHostPort('host:99999'));
    assert.throws(() => parseHostPort('a:b:c'));
  });
});

describe('fcm registration', () => {
  const context = (env: Record<string, string>) =>
    ({ config: loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(32), ...env }), log: { child: () => undefined } }) as any;

  it('is disabled without HERALD_FCM_SERVICE_ACCOUNT', () => {
    assert.equal(fcmDescriptor.disabledReason(loadConfig({})), 'missing credentials: set HERALD_FCM_SERVICE_ACCOUNT');
    assert.equal(fcmDescriptor.disabledReason(loadConfig({ HERALD_FCM_SERVICE_ACCOUNT: '/some/sa.json' })), undefined);
  });

  it('stops start-up with an error naming the variable when the file is missing or not a service account', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-fcm-reg-'));
    const notJson = path.join(dir, 'bad.json');
    fs.writeFileSync(notJson, 'not json');
    const incomplete = path.join(dir, 'incomplete.json');
    fs.writeFileSync(incomplete, JSON.stringify({ project_id: 'p' }));
    for (const [file, pattern] of [
      [path.join(dir, 'missing.json'), /ENOENT/],
      [notJson, /not JSON/],
      [incomplete, /lacks client_email, private_key/],
    ] as const) {
      assert.throws(
        () => fcmDescriptor.create(context({ HERALD_FCM_SERVICE_ACCOUNT: file })),
        (err: unknown) => err instanceof ConfigError && /^HERALD_FCM_SERVICE_ACCOUNT: /.test(err.message) && pattern.test(err.message),
      );
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds a working channel from the configuration', async () => {
    const account = writeServiceAccount();
    const fake = await startFcmFake({ accounts: [account] });
    // The registration trusts the default CAs (plus NODE_EXTRA_CA_CERTS): check it is wired, not the TLS.
    const channel = fcmDescriptor.create(context({ HERALD_FCM_SERVICE_ACCOUNT: account.path, HERALD_FCM_HOST: fake.host }));
    assert.equal(channel.name, 'fcm');
    await channel.close();
    await fake.close();
  });
});
