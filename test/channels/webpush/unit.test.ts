/**
 * The web push channel against the loopback push service fake (real HTTPS, real VAPID, real
 * aes128gcm): what arrives (decrypted payload, Urgency, TTL, Topic, VAPID claims), how each
 * answer is classified (404/410, 429 + Retry-After, 5xx, 413/400/401/403, refused connection,
 * timeout), batch order, and the process-wide concurrency bound.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import webpush from 'web-push';
import type { Channel, Delivery, DeliveryResult } from '../../../channels/port.js';
import { classifyPushError } from '../../../channels/webpush/classify.js';
import { DEFAULT_TTL_SECONDS, pushTopic, WITHDRAW_TTL_SECONDS } from '../../../channels/webpush/request.js';
import { createVapidSigner } from '../../../channels/webpush/vapid.js';
import { createWebPushChannel } from '../../../channels/webpush/webpush-channel.js';
import type { Device, Message, Urgency } from '../../../src/exchange/types.js';
import { parseRetryAfter } from '../../../src/retry.js';
import { type FakeSubscription, type PushServiceFake, startPushService } from '../../fakes/push-service.js';
import { testCertificate } from '../../fakes/tls.js';
import { channelTestMessage } from '../../helpers/messages.js';

const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@herald.test' };

const message = channelTestMessage;

const webDevice = (sub: { endpoint: string; keys: { p256dh: string; auth: string } }): Device => ({
  id: randomUUID(),
  uid: 'u1',
  kind: 'web',
  token: sub.endpoint,
  keys: sub.keys,
  expirationTime: null,
  createdAt: 0,
});

const delivery = (msg: Message, device: Device | undefined, attempt = 1): Delivery => ({
  message: msg,
  recipient: { uid: device?.uid ?? 'u1' },
  channel: 'webpush',
  attempt,
  ...(device ? { device } : {}),
});

/** A port on 127.0.0.1 with nothing listening. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

describe('webpush channel', () => {
  let fake: PushServiceFake;
  let channel: Channel;
  const channels: Channel[] = [];
  const make = (options: { concurrency?: number; timeoutMs?: number } = {}): Channel => {
    const c = createWebPushChannel({
      vapid,
      concurrency: options.concurrency ?? 8,
      ca: testCertificate().cert,
      egress: { allowPrivate: true, allowedHosts: [] },
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    channels.push(c);
    return c;
  };
  const sendTo = async (sub: FakeSubscription, msg: Message = message(), attempt = 1): Promise<DeliveryResult> => {
    const [result] = await channel.deliver([delivery(msg, webDevice(sub), attempt)]);
    assert.ok(result);
    return result;
  };

  before(async () => {
    fake = await startPushService();
  });
  beforeEach(() => {
    // A fresh channel per test: a 429 pauses the push service's origin in the channel's gate.
    channel = make();
    fake.latencyMs = 0;
    fake.expectVapidKey = undefined;
  });
  after(async () => {
    for (const c of channels) await c.close();
    await fake.close();
  });

  it('delivers the decrypted payload with TTL, Topic, Urgency and a verified VAPID signature', async () => {
    fake.expectVapidKey = vapid.publicKey;
    const sub = fake.subscription();
    const msg = message({
      title: 'Shipping',
      data: { order: 42, items: ['a', 'b'] },
      link: 'https://shop.test/o/42',
      urgency: 'low',
      topic: 'order-42',
      expiresAt: Date.now() + 600_000,
    });
    const result = await sendTo(sub, msg);
    assert.equal(result.type, 'sent');
    assert.ok(result.type === 'sent' && result.providerId?.startsWith(`${fake.origin}/message/`), JSON.stringify(result));

    const [record] = fake.recordsFor(fake.idOf(sub.endpoint));
    assert.ok(record);
    assert.equal(record.status, 201);
    assert.deepEqual(record.payload, {
      id: msg.id,
      title: 'Shipping',
      body: 'Your order has shipped.',
      data: { order: 42, items: ['a', 'b'] },
      link: 'https://shop.test/o/42',
      urgency: 'low',
      createdAt: '2025-01-02T03:04:05.000Z',
      tag: 'order-42',
    });
    assert.equal(record.headers.urgency, 'low');
    assert.equal(record.headers.topic, 'order-42');
    assert.equal(record.headers.contentEncoding, 'aes128gcm');
    assert.ok(record.headers.ttl !== null && record.headers.ttl > 590 && record.headers.ttl <= 600, `TTL ${record.headers.ttl}`);
    assert.equal(record.vapid?.aud, fake.origin);
    assert.equal(record.vapid?.sub, 'mailto:ops@herald.test');
    assert.equal(record.vapid?.k, vapid.publicKey);
  });

  it('sends null for absent fields, the four-week default TTL, and no Topic when the message has none', async () => {
    const sub = fake.subscription();
    const msg = message();
    assert.equal((await sendTo(sub, msg)).type, 'sent');
    const [record] = fake.recordsFor(fake.idOf(sub.endpoint));
    assert.deepEqual(record?.payload, {
      id: msg.id,
      title: null,
      body: msg.msg,
      data: null,
      link: null,
      urgency: 'normal',
      createdAt: '2025-01-02T03:04:05.000Z',
      tag: msg.id,
    });
    assert.equal(record?.headers.ttl, DEFAULT_TTL_SECONDS);
    assert.equal(record?.headers.topic, null);
  });

  it("carries each delivery's own capabilities, dropping renew first when the payload would not fit", async () => {
    const [a, b, big] = [fake.subscription(), fake.subscription(), fake.subscription()];
    const msg = message({ topic: 'orders' });
    const capabilities = (n: number) => ({ receipt: `receipt-${n}`, renew: `renew-${n}` });
    // A message whose payload fits with its receipt but not with a renew of 300 bytes more.
    const near = message({ msg: 'x'.repeat(3_993 - 400) });
    const results = await channel.deliver([
      { ...delivery(msg, webDevice(a)), capabilities: capabilities(1) },
      { ...delivery(msg, webDevice(b)), capabilities: capabilities(2) },
      { ...delivery(near, webDevice(big)), capabilities: { receipt: 'r'.repeat(100), renew: 'n'.repeat(300) } },
    ]);
    assert.deepEqual(
      results.map((r) => r.type),
      ['sent', 'sent', 'sent'],
    );
    const payloadOf = (sub: FakeSubscription) => fake.recordsFor(fake.idOf(sub.endpoint))[0]?.payload;
    assert.equal(payloadOf(a).receipt, 'receipt-1');
    assert.equal(payloadOf(a).renew, 'renew-1');
    assert.equal(payloadOf(b).receipt, 'receipt-2');
    assert.equal(payloadOf(a).tag, 'orders');
    assert.equal(payloadOf(big).receipt, 'r'.repeat(100));
    assert.equal('renew' in payloadOf(big), false);
  });

  it('sends a withdrawal as a close payload with a day of TTL, whatever its ttl, and without the message topic', async () => {
    const sub = fake.subscription();
    const msg = message({ topic: 'chat-1', expiresAt: Date.now() - 1_000 });
    const [result] = await channel.deliver([{ ...delivery(msg, webDevice(sub)), withdraw: 'recall' }]);
    assert.equal(result?.type, 'sent');
    const [record] = fake.recordsFor(fake.idOf(sub.endpoint));
    assert.deepEqual(record?.payload, { type: 'close', id: msg.id, tag: 'chat-1', reason: 'recall' });
    assert.equal(record?.headers.ttl, WITHDRAW_TTL_SECONDS);
    assert.equal(record?.headers.topic, null, 'a Topic would replace a newer message of the topic waiting at the push service');
  });

  it('sends TTL 0 for a message whose ttl has run out', async () => {
    const sub = fake.subscription();
    assert.equal((await sendTo(sub, message({ expiresAt: Date.now() - 5_000 }))).type, 'sent');
    assert.equal(fake.recordsFor(fake.idOf(sub.endpoint))[0]?.headers.ttl, 0);
  });

  it('maps each of the four urgencies to the same Urgency header', async () => {
    const urgencies: Urgency[] = ['very-low', 'low', 'normal', 'high'];
    const subs = urgencies.map(() => fake.subscription());
    const results = await channel.deliver(urgencies.map((urgency, i) => delivery(message({ urgency }), webDevice(subs[i] as FakeSubscription))));
    assert.deepEqual(
      results.map((r) => r.type),
      ['sent', 'sent', 'sent', 'sent'],
    );
    for (const [i, urgency] of urgencies.entries()) {
      const [record] = fake.recordsFor(fake.idOf((subs[i] as FakeSubscription).endpoint));
      assert.equal(record?.headers.urgency, urgency);
      assert.equal(record?.payload.urgency, urgency);
    }
  });

  it('is refused (failed http-401) when its VAPID key is not the one the push service expects', async () => {
    fake.expectVapidKey = webpush.generateVAPIDKeys().publicKey;
    const sub = fake.subscription();
    assert.deepEqual(await sendTo(sub), { type: 'failed', reason: 'http-401' });
    assert.match(fake.recordsFor(fake.idOf(sub.endpoint))[0]?.error ?? '', /unexpected vapid key/);
  });

  it('classifies 404 and 410 as invalid-recipient', async () => {
    const gone = fake.subscription();
    fake.answer(fake.idOf(gone.endpoint), [{ status: 410 }]);
    assert.deepEqual(await sendTo(gone), { type: 'invalid-recipient', reason: 'http-410' });
    const unknown = { ...fake.subscription(), endpoint: `${fake.origin}/push/never-subscribed` };
    assert.deepEqual(await sendTo(unknown), { type: 'invalid-recipient', reason: 'http-404' });
  });

  it('honours Retry-After on 429 (seconds and HTTP date) and backs off 30 s × attempt without it', async () => {
    const sub = fake.subscription();
    const id = fake.idOf(sub.endpoint);
    fake.answer(id, [{ status: 429, retryAfter: 7 }, { status: 429, retryAfter: new Date(Date.now() + 120_000).toUTCString() }, { status: 429 }]);
    // Each 429 pauses the origin in that channel's gate, so each send uses a channel of its own.
    assert.deepEqual(await sendTo(sub), { type: 'retry', afterMs: 7_000, reason: 'http-429', cause: 'throttled' });
    channel = make();
    const dated = await sendTo(sub);
    assert.ok(dated.type === 'retry' && dated.afterMs > 100_000 && dated.afterMs <= 120_000, JSON.stringify(dated));
    channel = make();
    assert.deepEqual(await sendTo(sub, message(), 3), { type: 'retry', afterMs: 90_000, reason: 'http-429', cause: 'unavailable' });
    channel = make();
    assert.equal((await sendTo(sub)).type, 'sent', 'answers 201 once the script is used up');
  });

  it('pauses an origin that answered 429 until its Retry-After, and only that origin', async () => {
    const other = await startPushService();
    try {
      const sub = fake.subscription();
      fake.answer(fake.idOf(sub.endpoint), [{ status: 429, retryAfter: 1 }]);
      const first = await sendTo(sub);
      const pausedAt = Date.now();
      assert.equal(first.type, 'retry');
      const elsewhere = other.subscription();
      const [meanwhile] = await channel.deliver([delivery(message(), webDevice(elsewhere))]);
      assert.equal(meanwhile?.type, 'sent', 'another push service is not paused');
      assert.equal(other.recordsFor(other.idOf(elsewhere.endpoint)).length, 1);
      // A send to the paused origin is not held: it is deferred to the end of the pause, unsent.
      const again = fake.subscription();
      const deferred = await sendTo(again);
      assert.ok(deferred.type === 'deferred' && deferred.reason === 'provider-paused', JSON.stringify(deferred));
      assert.ok(deferred.untilMs >= pausedAt + 900, 'deferred until its Retry-After');
      assert.equal(fake.recordsFor(fake.idOf(again.endpoint)).length, 0, 'nothing sent to the paused origin');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, deferred.untilMs - Date.now())));
      assert.equal((await sendTo(again)).type, 'sent', 'the origin is called once the pause is over');
    } finally {
      await other.close();
    }
  });

  it('retries 500 and 503 (with their Retry-After)', async () => {
    const sub = fake.subscription();
    fake.answer(fake.idOf(sub.endpoint), [{ status: 500 }, { status: 503, retryAfter: 2 }]);
    assert.deepEqual(await sendTo(sub, message(), 2), { type: 'retry', afterMs: 60_000, reason: 'http-500', cause: 'unavailable' });
    assert.deepEqual(await sendTo(sub), { type: 'retry', afterMs: 2_000, reason: 'http-503', cause: 'unavailable' });
  });

  it('fails 413, 400, 401 and 403 for good with the status as the reason', async () => {
    for (const status of [413, 400, 401, 403]) {
      const sub = fake.subscription();
      fake.answer(fake.idOf(sub.endpoint), [{ status }]);
      assert.deepEqual(await sendTo(sub), { type: 'failed', reason: `http-${status}` });
    }
  });

  it('retries when the push service refuses the connection', async () => {
    const port = await closedPort();
    const sub = { ...fake.subscription(), endpoint: `https://127.0.0.1:${port}/push/x` };
    const result = await sendTo(sub);
    assert.equal(result.type, 'retry');
    assert.equal(result.type === 'retry' && result.reason, 'network-econnrefused');
    assert.equal(result.type === 'retry' && result.afterMs, 30_000);
  });

  it('retries when the push service does not answer within timeoutMs', async () => {
    const slow = make({ timeoutMs: 200 });
    const sub = fake.subscription();
    fake.answer(fake.idOf(sub.endpoint), [{ status: 201, delayMs: 1_500 }]);
    const [result] = await slow.deliver([delivery(message(), webDevice(sub))]);
    assert.deepEqual(result, { type: 'retry', afterMs: 30_000, reason: 'network-timeout', cause: 'unavailable' });
  });

  it('answers without a request when there is no web subscription, its keys are malformed, or the payload cannot fit', async () => {
    const before = fake.records.length;
    const sub = fake.subscription();
    const ios: Device = { id: 'd1', uid: 'u1', kind: 'ios', token: 'ab'.repeat(32), createdAt: 0 };
    const badKeys = webDevice({ endpoint: sub.endpoint, keys: { p256dh: 'AAAA', auth: sub.keys.auth } });
    // Not http(s) at all (http: itself is the egress policy's call: test/e2e/egress.test.ts).
    const plainHttp = webDevice({ endpoint: sub.endpoint.replace('https:', 'ftp:'), keys: sub.keys });
    const results = await channel.deliver([
      delivery(message(), undefined),
      delivery(message(), ios),
      delivery(message(), plainHttp),
      delivery(message(), badKeys),
      delivery(message({ msg: 'x'.repeat(4_000) }), webDevice(sub)),
    ]);
    assert.deepEqual(results, [
      { type: 'failed', reason: 'no-subscription' },
      { type: 'failed', reason: 'no-subscription' },
      { type: 'invalid-recipient', reason: 'bad-endpoint' },
      { type: 'invalid-recipient', reason: 'bad-subscription-keys' },
      { type: 'failed', reason: 'payload-too-large' },
    ]);
    assert.equal(fake.records.length, before, 'no request reached the push service');
  });

  it('answers a mixed batch of 20 in batch order', async () => {
    const kinds = ['sent', 'gone', 'busy', 'big', 'none'] as const;
    const expected: DeliveryResult[] = [];
    const batch: Delivery[] = [];
    for (let i = 0; i < 20; i++) {
      const kind = kinds[(i * 7) % kinds.length] as (typeof kinds)[number];
      const sub = fake.subscription();
      const id = fake.idOf(sub.endpoint);
      // Early items answer slowest, so completion order differs from batch order.
      const delayMs = (20 - i) * 3;
      if (kind === 'sent') fake.answer(id, [{ status: 201, delayMs }]);
      if (kind === 'gone') fake.answer(id, [{ status: 410, delayMs }]);
      if (kind === 'busy') fake.answer(id, [{ status: 429, retryAfter: i, delayMs }]);
      if (kind === 'big') fake.answer(id, [{ status: 413, delayMs }]);
      batch.push(delivery(message({ msg: `item ${i}` }), kind === 'none' ? undefined : webDevice(sub)));
      expected.push(
        kind === 'sent'
          ? { type: 'sent' }
          : kind === 'gone'
            ? { type: 'invalid-recipient', reason: 'http-410' }
            : kind === 'busy'
              ? { type: 'retry', afterMs: i * 1000, reason: 'http-429', cause: 'throttled' }
              : kind === 'big'
                ? { type: 'failed', reason: 'http-413' }
                : { type: 'failed', reason: 'no-subscription' },
      );
    }
    const results = await make({ concurrency: 20 }).deliver(batch);
    assert.equal(results.length, 20);
    assert.deepEqual(
      results.map((r) => (r.type === 'sent' ? { type: 'sent' } : r)),
      expected,
    );
  });

  it('keeps at most `concurrency` requests in flight across concurrent batches', async () => {
    const bounded = make({ concurrency: 4 });
    fake.latencyMs = 25;
    fake.resetStats();
    const batch = () => Array.from({ length: 10 }, () => delivery(message(), webDevice(fake.subscription())));
    const results = (await Promise.all([bounded.deliver(batch()), bounded.deliver(batch()), bounded.deliver(batch())])).flat();
    assert.equal(results.length, 30);
    assert.ok(
      results.every((r) => r.type === 'sent'),
      JSON.stringify(results.filter((r) => r.type !== 'sent')),
    );
    assert.equal(fake.maxInFlight, 4, `max in flight ${fake.maxInFlight}`);
  });

  it('refuses new work once closed', async () => {
    const c = createWebPushChannel({ vapid, concurrency: 1, ca: testCertificate().cert, egress: { allowPrivate: true, allowedHosts: [] } });
    await c.close();
    await assert.rejects(c.deliver([]), /closed/);
  });

  it('refuses bad VAPID keys at creation', () => {
    assert.throws(() => createWebPushChannel({ vapid: { ...vapid, privateKey: 'short' }, concurrency: 1 }));
    assert.throws(() => createWebPushChannel({ vapid: { ...vapid, subject: 'ops@herald.test' }, concurrency: 1 }));
  });
});

describe('VAPID signer', () => {
  const claims = (header: string) => {
    const token = /^vapid t=([^,]+), k=(.+)$/.exec(header);
    assert.ok(token?.[1], header);
    assert.equal(token[2], vapid.publicKey);
    return JSON.parse(Buffer.from(token[1].split('.')[1] as string, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  };

  it('signs once per origin and reuses the header until an hour before it expires', () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const signer = createVapidSigner(vapid, { now: () => now });
    const first = signer.authorization('https://fcm.googleapis.com');
    assert.deepEqual(claims(first), { aud: 'https://fcm.googleapis.com', exp: now / 1000 + 12 * 3600, sub: 'mailto:ops@herald.test' });
    const other = signer.authorization('https://updates.push.services.mozilla.com:8443');
    assert.equal(claims(other).aud, 'https://updates.push.services.mozilla.com:8443');

    now += 10 * 3600 * 1000; // 2 h left: still reused
    assert.equal(signer.authorization('https://fcm.googleapis.com'), first);
    now += 3600 * 1000 + 1000; // under 1 h left: signed again
    const renewed = signer.authorization('https://fcm.googleapis.com');
    assert.notEqual(renewed, first);
    assert.equal(claims(renewed).exp, Math.floor(now / 1000) + 12 * 3600);
  });

  it('keeps at most maxOrigins headers', () => {
    const signer = createVapidSigner(vapid, { maxOrigins: 2 });
    const a = signer.authorization('https://a.test');
    const b = signer.authorization('https://b.test');
    assert.equal(signer.authorization('https://a.test'), a, 'a is still cached');
    const c = signer.authorization('https://c.test'); // drops a, the oldest
    assert.equal(signer.authorization('https://b.test'), b);
    assert.equal(signer.authorization('https://c.test'), c);
    // ES256 signatures are randomised: a header signed again differs from the first.
    assert.notEqual(signer.authorization('https://a.test'), a, 'a was dropped and signed again');
  });
});

describe('webpush classification', () => {
  it('reads Retry-After as seconds or an HTTP date, and ignores what it cannot read', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('12', now), 12_000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it('caps the backoff at 10 minutes', () => {
    assert.deepEqual(classifyPushError({ statusCode: 502, headers: {} }, 50), { type: 'retry', afterMs: 600_000, reason: 'http-502', cause: 'unavailable' });
  });

  it('classifies by status and code, never by message text', () => {
    assert.deepEqual(classifyPushError(Object.assign(new Error('Gone'), { statusCode: 200 + 210, headers: {} }), 1), {
      type: 'invalid-recipient',
      reason: 'http-410',
    });
    assert.deepEqual(classifyPushError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 1), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'network-econnreset',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyPushError(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 2).type, 'retry');
    assert.deepEqual(classifyPushError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 1).type, 'retry');
    assert.deepEqual(classifyPushError(Object.assign(new Error('x'), { code: 'ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY' }), 1), {
      type: 'invalid-recipient',
      reason: 'bad-subscription-keys',
    });
    assert.deepEqual(classifyPushError(Object.assign(new Error('gone 410 ECONNREFUSED'), { statusCode: 400, headers: {} }), 1), {
      type: 'failed',
      reason: 'http-400',
    });
  });

  it('keeps a valid topic and hashes any other into 32 URL-safe characters', () => {
    assert.equal(pushTopic('order-42'), 'order-42');
    assert.equal(pushTopic(undefined), undefined);
    const hashed = pushTopic('chat:room/42 with spaces');
    assert.match(hashed ?? '', /^[A-Za-z0-9_-]{32}$/);
    assert.equal(pushTopic('chat:room/42 with spaces'), hashed);
  });
});
