/**
 * The APNs channel against the loopback APNs fake (real HTTP/2, TLS and ES256 provider tokens
 * verified with jose): headers per urgency, expiration, collapse id, topic and payload; one
 * request per device token with the answers mapped back in batch order; classification of every
 * answer kind, Retry-After read; one HTTP/2 session for many batches, at most `concurrency`
 * requests at once; GOAWAY (nothing lost or sent twice); a stalled session dropped; one provider
 * token reused, renewed after 50 minutes and on ExpiredProviderToken.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import pino from 'pino';
import { type ApnsChannel, type ApnsChannelOptions, createApnsChannel } from '../../../channels/apns/apns-channel.js';
import { classifyFailure, errorCode, failureOfAnswer } from '../../../channels/apns/classify.js';
import { apnsDescriptor, MISSING_CREDENTIALS, readApnsKey } from '../../../channels/apns/descriptor.js';
import { apnsExpiration, PRIORITY } from '../../../channels/apns/notification.js';
import { loadSigningKey, MIN_FORCED_RENEWAL_MS, providerTokens, RENEW_AFTER_MS } from '../../../channels/apns/provider-token.js';
import { Http2RequestError } from '../../../channels/http2-session.js';
import type { Channel, Delivery } from '../../../channels/port.js';
import { loadConfig } from '../../../src/config.js';
import type { Device, Message, Urgency } from '../../../src/exchange/types.js';
import { providerBackoff } from '../../../src/retry.js';
import { type ApnsFake, type ApnsTestKey, makeApnsKey, startApnsFake } from '../../fakes/apns.js';
import { testCertificate } from '../../fakes/tls.js';
import { channelTestMessage } from '../../helpers/messages.js';

const TOPIC = 'com.example.herald';
const quiet = pino({ level: 'silent' });

const hexToken = (): string => randomBytes(32).toString('hex');

const message = channelTestMessage;

const iosDevice = (token: string, createdAt = Date.parse('2025-01-01T00:00:00Z')): Device => ({ id: randomUUID(), uid: 'u1', kind: 'ios', token, createdAt });

const delivery = (msg: Message, device: Device | undefined, attempt = 1): Delivery => ({
  message: msg,
  recipient: { uid: device?.uid ?? 'nobody' },
  ...(device ? { device } : {}),
  channel: 'apns',
  attempt,
});

describe('apns channel against the fake', () => {
  let key: ApnsTestKey;
  let fake: ApnsFake;
  const channels: Channel[] = [];
  const fakes: ApnsFake[] = [];

  const channel = (overrides: Partial<ApnsChannelOptions> = {}, target: ApnsFake = fake, testKey: ApnsTestKey = key): ApnsChannel => {
    const created = createApnsChannel({
      key: testKey.key,
      keyId: testKey.keyId,
      teamId: testKey.teamId,
      topic: TOPIC,
      production: false,
      host: target.host,
      ca: testCertificate().cert,
      logger: quiet,
      ...overrides,
    });
    channels.push(created);
    return created;
  };

  before(async () => {
    key = makeApnsKey();
    fake = await startApnsFake(key);
  });

  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await Promise.all([fake, ...fakes].map((f) => f.close()));
  });

  /** A fake of the test's own, closed after the suite. */
  const ownFake = async (): Promise<ApnsFake> => {
    const f = await startApnsFake(key);
    fakes.push(f);
    return f;
  };
  const types = (results: Array<{ type: string }>) => results.map((r) => r.type);
  const tokenOf = (d: Delivery): string => d.device?.token ?? '';

  it('sends a withdrawal as a background update with the collapse id of the message, whatever its expiry', async () => {
    const c = channel();
    const token = hexToken();
    const expired = message({ topic: 'chat-9', urgency: 'high', expiresAt: Date.now() - 1_000 });
    const before = Math.ceil(Date.now() / 1000);
    const [result] = await c.deliver([{ ...delivery(expired, iosDevice(token)), withdraw: 'read' }]);
    assert.equal(result?.type, 'sent');
    const got = fake.received.find((r) => r.token === token);
    assert.ok(got);
    assert.deepEqual(got.payload, { aps: { 'content-available': 1 }, herald: { type: 'close', id: expired.id, tag: 'chat-9', reason: 'read' } });
    assert.equal(got.headers.pushType, 'background');
    assert.equal(got.headers.priority, '5', 'Apple requires priority 5 for a background update');
    assert.equal(got.headers.collapseId, 'chat-9');
    assert.ok(Number(got.headers.expiration) >= before + 86_400, `expires a day after it is sent, not with the message (${got.headers.expiration})`);
  });

  it('sends priority 10/5/5/1 by urgency, with topic, push type, collapse id, expiration and payload, under a verified JWT', async () => {
    const c = channel();
    const urgencies: Urgency[] = ['high', 'normal', 'low', 'very-low'];
    const createdAt = Date.now();
    const messages = urgencies.map((urgency) =>
      message({
        urgency,
        title: `T ${urgency}`,
        topic: `topic-${urgency}`,
        data: { n: 1 },
        link: 'https://app.example/o/1',
        createdAt,
        expiresAt: createdAt + 3_600_500,
      }),
    );
    const tokens = messages.map(() => hexToken());
    const results = await c.deliver(messages.map((m, i) => delivery(m, iosDevice(tokens[i] as string))));

    assert.deepEqual(
      results.map((r) => r.type),
      ['sent', 'sent', 'sent', 'sent'],
    );
    assert.deepEqual(fake.authFailures, []);
    for (const [i, m] of messages.entries()) {
      const got = fake.received.find((r) => r.token === tokens[i]);
      assert.ok(got, `notification for ${m.urgency}`);
      assert.deepEqual(got.headers, {
        topic: TOPIC,
        pushType: 'alert',
        priority: String(PRIORITY[m.urgency]),
        expiration: String(Math.ceil((createdAt + 3_600_500) / 1000)),
        collapseId: `topic-${m.urgency}`,
      });
      assert.deepEqual(got.payload, { aps: { alert: { title: `T ${m.urgency}`, body: m.msg } }, id: m.id, data: { n: 1 }, link: 'https://app.example/o/1' });
      const result = results[i];
      assert.ok(result?.type === 'sent' && typeof result.providerId === 'string' && result.providerId.length > 0, 'apns-id as provider id');
    }
    assert.deepEqual(
      messages.map((m) => fake.received.find((r) => r.payload.id === m.id)?.headers.priority),
      ['10', '5', '5', '1'],
    );
  });

  it('omits expiration and collapse id when the message has no ttl or topic, and sends 0 for ttl 0', async () => {
    const c = channel();
    const plain = message({ urgency: 'high' });
    const once = message({ urgency: 'high', expiresAt: Date.parse('2025-01-02T03:04:05Z') });
    const [t1, t2] = [hexToken(), hexToken()];
    await c.deliver([delivery(plain, iosDevice(t1)), delivery(once, iosDevice(t2))]);
    const first = fake.received.find((r) => r.token === t1);
    const second = fake.received.find((r) => r.token === t2);
    assert.equal(first?.headers.expiration, undefined);
    assert.equal(first?.headers.collapseId, undefined);
    assert.deepEqual(first?.payload, { aps: { alert: { body: plain.msg } }, id: plain.id });
    assert.equal(second?.headers.expiration, '0');
  });

  it("sends one request per distinct device token, all with the message's payload, and maps mixed answers back in batch order", async () => {
    const c = channel();
    const m = message({ urgency: 'high' });
    const [ok1, gone, bad, busy, tooBig, ok2] = [hexToken(), hexToken(), hexToken(), hexToken(), hexToken(), hexToken()];
    fake.answer(gone, [{ status: 410, reason: 'Unregistered' }]);
    fake.answer(bad, [{ status: 400, reason: 'BadDeviceToken' }]);
    fake.answer(busy, [{ status: 429, reason: 'TooManyRequests' }]);
    fake.answer(tooBig, [{ status: 413, reason: 'PayloadTooLarge' }]);
    const batch = [
      delivery(m, iosDevice(ok1)),
      delivery(m, iosDevice(gone)),
      delivery(m, undefined),
      delivery(m, iosDevice(bad)),
      delivery(m, iosDevice(busy), 2),
      delivery(m, iosDevice(tooBig)),
      delivery(m, iosDevice(ok2)),
      delivery(m, iosDevice(ok1)),
      delivery(m, { id: 'w', uid: 'u1', kind: 'android', token: 'fcm-token', createdAt: 0 }),
    ];
    const before = fake.received.length;
    const reported: number[] = [];
    const results = await c.deliver(batch, (index) => reported.push(index));

    assert.deepEqual(
      results.map((r) => [r.type, 'reason' in r ? r.reason : undefined]),
      [
        ['sent', undefined],
        ['invalid-recipient', 'apns-Unregistered'],
        ['failed', 'no-device'],
        ['invalid-recipient', 'apns-BadDeviceToken'],
        ['retry', 'apns-TooManyRequests'],
        ['failed', 'apns-PayloadTooLarge'],
        ['sent', undefined],
        ['sent', undefined],
        ['failed', 'no-device'],
      ],
    );
    assert.deepEqual(
      [...reported].sort((x, y) => x - y),
      batch.map((_, i) => i),
      'every result reported once through onResult',
    );
    const retry = results[4];
    assert.equal(retry?.type === 'retry' ? retry.afterMs : undefined, 60_000, '30 s × attempt 2');
    assert.equal(retry?.type === 'retry' ? retry.cause : 'none', undefined, 'a 429 is about one device: it does not count against APNs');
    const sentHere = fake.received.slice(before);
    assert.deepEqual(sentHere.map((r) => r.token).sort(), [ok1, gone, bad, busy, tooBig, ok2].sort(), 'each distinct token once, no immediate re-send');
    assert.ok(sentHere.every((r) => r.payload.id === m.id));
    assert.equal(new Set(sentHere.map((r) => r.apnsId)).size, sentHere.length, 'an apns-id of its own per request');
    const [first, again] = [results[0], results[7]];
    assert.ok(first?.type === 'sent' && again?.type === 'sent' && first.providerId === again.providerId, 'the repeated token shares its result');
    assert.equal(first?.type === 'sent' ? first.providerId : '', sentHere.find((r) => r.token === ok1)?.apnsId, "the provider id is the request's apns-id");
  });

  it("answers 429 and 503 with a retry after Herald's own backoff (30 s × attempt, at most 10 min)", async () => {
    const c = channel();
    const m = message();
    const [t429, t503] = [hexToken(), hexToken()];
    fake.answer(t429, [{ status: 429, reason: 'TooManyRequests' }]);
    fake.answer(t503, [{ status: 503, reason: 'ServiceUnavailable' }]);
    const results = await c.deliver([delivery(m, iosDevice(t429), 3), delivery(m, iosDevice(t503), 40)]);
    assert.deepEqual(results, [
      { type: 'retry', afterMs: 90_000, reason: 'apns-TooManyRequests' },
      { type: 'retry', afterMs: 600_000, reason: 'apns-ServiceUnavailable', cause: 'unavailable' },
    ]);
  });

  it('waits what Retry-After asks (read in lower case), and does not re-send a 500 at once', async () => {
    const c = channel();
    const m = message();
    const [t429, t503, t500] = [hexToken(), hexToken(), hexToken()];
    fake.answer(t429, [{ status: 429, reason: 'TooManyRequests', retryAfter: '120' }]);
    fake.answer(t503, [{ status: 503, reason: 'ServiceUnavailable', retryAfter: '7' }]);
    fake.answer(t500, [{ status: 500, reason: 'InternalServerError' }]);
    const results = await c.deliver([delivery(m, iosDevice(t429)), delivery(m, iosDevice(t503), 4), delivery(m, iosDevice(t500))]);
    assert.deepEqual(results, [
      { type: 'retry', afterMs: 120_000, reason: 'apns-TooManyRequests' },
      { type: 'retry', afterMs: 7_000, reason: 'apns-ServiceUnavailable', cause: 'unavailable' },
      { type: 'retry', afterMs: 30_000, reason: 'apns-InternalServerError', cause: 'unavailable' },
    ]);
    assert.equal(fake.received.filter((r) => r.token === t500).length, 1, 'Herald backs off instead of re-sending at once');
  });

  it('prunes on 410 only when Apple invalidated the token after it was registered', async () => {
    const c = channel();
    const m = message();
    const [stale, fresh] = [hexToken(), hexToken()];
    const invalidatedAt = Date.parse('2025-01-01T12:00:00Z');
    fake.answer(stale, [{ status: 410, reason: 'Unregistered', timestamp: invalidatedAt }]);
    fake.answer(fresh, [{ status: 410, reason: 'Unregistered', timestamp: invalidatedAt }]);
    const results = await c.deliver([delivery(m, iosDevice(stale, invalidatedAt - 1000)), delivery(m, iosDevice(fresh, invalidatedAt + 1000))]);
    assert.deepEqual(results, [
      { type: 'invalid-recipient', reason: 'apns-Unregistered' },
      { type: 'failed', reason: 'apns-Unregistered' },
    ]);
  });

  it('fails a payload over 4 KB without sending it, and a non-hex token as an invalid recipient', async () => {
    const c = channel();
    const before = fake.received.length;
    const results = await c.deliver([delivery(message({ msg: 'x'.repeat(5000) }), iosDevice(hexToken())), delivery(message(), iosDevice('not-a-hex-token'))]);
    assert.deepEqual(results, [
      { type: 'failed', reason: 'apns-PayloadTooLarge' },
      { type: 'invalid-recipient', reason: 'apns-malformed-token' },
    ]);
    assert.equal(fake.received.length, before);
  });

  it('uses one HTTP/2 session for many batches, with at most `concurrency` requests at once', async () => {
    const own = await ownFake();
    const c = channel({ concurrency: 20 }, own);
    await c.deliver([delivery(message(), iosDevice(hexToken()))]);
    await Promise.all([c.deliver([delivery(message(), iosDevice(hexToken()))]), c.deliver([delivery(message(), iosDevice(hexToken()))])]);
    const m = message({ urgency: 'low' });
    const batches = Array.from({ length: 3 }, () => Array.from({ length: 100 }, () => delivery(m, iosDevice(hexToken()))));
    const all = (await Promise.all(batches.map((b) => c.deliver(b)))).flat();
    assert.deepEqual(types(all), Array(300).fill('sent'));
    assert.equal(new Set(all.map((r) => (r.type === 'sent' ? r.providerId : ''))).size, 300, 'one apns-id per delivery');
    assert.equal(own.received.length, 303);
    assert.equal(new Set(own.received.map((r) => r.token)).size, 303, 'every token once');
    assert.equal(own.sessions, 1, 'the fake saw one HTTP/2 session');
    assert.equal(c.sessionsOpened, 1);
    assert.ok(own.maxInFlight <= 20, `at most 20 in flight, saw ${own.maxInFlight}`);
    assert.ok(own.maxInFlight > 1, 'requests were multiplexed');
  });

  it('moves to a new session after GOAWAY: requests refused by it are sent again, nothing is lost or sent twice', async () => {
    const own = await ownFake();
    own.goawayAfter(12);
    const c = channel({ concurrency: 20 }, own);
    const first = Array.from({ length: 20 }, () => delivery(message(), iosDevice(hexToken())));
    assert.deepEqual(types(await c.deliver(first)), Array(20).fill('sent'));
    const second = Array.from({ length: 10 }, () => delivery(message(), iosDevice(hexToken())));
    assert.deepEqual(types(await c.deliver(second)), Array(10).fill('sent'));
    const counts = new Map<string, number>();
    for (const r of own.received) counts.set(r.token, (counts.get(r.token) ?? 0) + 1);
    assert.equal(own.received.length, 30, 'the fake processed each request once');
    assert.ok(
      [...first, ...second].every((d) => counts.get(tokenOf(d)) === 1),
      'every delivery reached the fake exactly once',
    );
    assert.ok(own.refused > 0, 'the first session refused requests after its GOAWAY');
    const perSession = new Map<number, number>();
    for (const r of own.received) perSession.set(r.session, (perSession.get(r.session) ?? 0) + 1);
    assert.ok(
      [...perSession.values()].every((n) => n <= 12),
      JSON.stringify([...perSession]),
    );
    assert.ok(perSession.size >= 3, `30 requests at 12 per session need 3 sessions, got ${JSON.stringify([...perSession])}`);
    assert.equal(c.sessionsOpened, own.sessions);
  });

  it('drops a stalled session (PING unanswered) and sends later deliveries on a new one', async () => {
    const own = await ownFake();
    own.stallSessions((n) => n === 1);
    // The request timeout is far off: only the PING check can end these sends.
    const c = channel({ requestTimeoutMs: 120_000, pingTimeoutMs: 100 }, own);
    const stuck = await c.deliver([delivery(message(), iosDevice(hexToken())), delivery(message(), iosDevice(hexToken()), 2)]);
    assert.deepEqual(stuck, [
      { type: 'retry', afterMs: 30_000, reason: 'apns-session-stalled', cause: 'unavailable' },
      { type: 'retry', afterMs: 60_000, reason: 'apns-session-stalled', cause: 'unavailable' },
    ]);
    assert.equal(own.stalled, 1);
    assert.deepEqual(types(await c.deliver([delivery(message(), iosDevice(hexToken())), delivery(message(), iosDevice(hexToken()))])), ['sent', 'sent']);
    assert.equal(own.sessions, 2);
    assert.equal(c.sessionsOpened, 2);
    assert.equal(own.received.length, 2, 'only the new session answered');
  });

  it('reuses one provider token, renews it 50 minutes after its iat, and on ExpiredProviderToken once for all (at most every 20 minutes)', async () => {
    const own = await ownFake();
    // The token clock starts 55 minutes back, so every token it signs is under an hour old for the fake.
    let clock = Date.now() - 55 * 60_000;
    const c = channel({ now: () => clock }, own);
    const batch = (n: number) => Array.from({ length: n }, () => delivery(message(), iosDevice(hexToken())));
    const bearers = (from: number) => own.received.slice(from).map((r) => r.bearer);

    assert.deepEqual(types(await c.deliver(batch(3))), ['sent', 'sent', 'sent']);
    assert.deepEqual(types(await c.deliver(batch(2))), ['sent', 'sent']);
    const [t1] = bearers(0);
    assert.ok(t1);
    assert.deepEqual(new Set(bearers(0)), new Set([t1]), 'one token for every request');
    assert.equal(c.tokensSigned, 1);
    assert.deepEqual(decodeProtectedHeader(t1), { alg: 'ES256', kid: key.keyId });
    assert.deepEqual(decodeJwt(t1), { iss: key.teamId, iat: Math.floor(clock / 1000) });

    clock += 51 * 60_000;
    let from = own.received.length;
    assert.deepEqual(types(await c.deliver(batch(2))), ['sent', 'sent']);
    const [t2] = bearers(from);
    assert.ok(t2 && t2 !== t1, 'a new token after 50 minutes');
    assert.deepEqual(new Set(bearers(from)), new Set([t2]));
    assert.equal(c.tokensSigned, 2);

    own.expireTokens();
    from = own.received.length;
    const expiring = batch(4);
    assert.deepEqual(types(await c.deliver(expiring)), Array(4).fill('sent'));
    const seen = own.received.slice(from);
    assert.equal(seen.length, 8, 'each delivery refused once, then sent again');
    assert.ok(
      expiring.every(
        (d) =>
          seen
            .filter((r) => r.token === tokenOf(d))
            .map((r) => r.status)
            .join() === '403,200',
      ),
    );
    const t3 = seen.find((r) => r.status === 200)?.bearer;
    assert.ok(t3 && t3 !== t2);
    assert.deepEqual(new Set(seen.filter((r) => r.status === 200).map((r) => r.bearer)), new Set([t3]), 'one renewal for all the requests that saw the 403');
    assert.equal(c.tokensSigned, 3);

    // Refused again within 20 minutes of that renewal: no new token (Apple's TooManyProviderTokenUpdates), a retry.
    own.expireTokens();
    from = own.received.length;
    const [refused] = await c.deliver([delivery(message(), iosDevice(hexToken()))]);
    assert.deepEqual(refused, { type: 'retry', afterMs: 30_000, reason: 'apns-ExpiredProviderToken' });
    assert.equal(own.received.length - from, 1, 'not sent again');
    assert.equal(c.tokensSigned, 3);
  });

  it('fails every delivery with apns-InvalidProviderToken when the fake cannot verify the JWT', async () => {
    const other = makeApnsKey(key.keyId, key.teamId);
    const c = channel({}, fake, other);
    const before = fake.authFailures.length;
    const [result] = await c.deliver([delivery(message(), iosDevice(hexToken()))]);
    assert.deepEqual(result, { type: 'failed', reason: 'apns-InvalidProviderToken' });
    assert.equal(fake.authFailures.length, before + 1);
    assert.match(fake.authFailures.at(-1) ?? '', /signature/);
  });

  it('answers retry when APNs is down, and sends again once it is back on the same channel', async () => {
    const own = await startApnsFake(key);
    const c = channel({}, own);
    const [first] = await c.deliver([delivery(message(), iosDevice(hexToken()))]);
    assert.equal(first?.type, 'sent');
    await own.close();

    const results = await c.deliver([delivery(message(), iosDevice(hexToken()), 2), delivery(message(), iosDevice(hexToken()))]);
    assert.deepEqual(
      results.map((r) => r.type),
      ['retry', 'retry'],
    );
    assert.deepEqual(results[0], { type: 'retry', afterMs: 60_000, reason: 'apns-ECONNREFUSED', cause: 'unavailable' });
    assert.equal(c.providers()[0]?.provider, 'apns');
  });

  it('answers retry for a host that never answered, and closes without hanging', async () => {
    const gone = await startApnsFake(key);
    await gone.close();
    const c = createApnsChannel({
      key: key.key,
      keyId: key.keyId,
      teamId: key.teamId,
      topic: TOPIC,
      production: false,
      host: gone.host,
      ca: testCertificate().cert,
      logger: quiet,
    });
    const [result] = await c.deliver([delivery(message(), iosDevice(hexToken()))]);
    assert.equal(result?.type, 'retry');
    await c.close();
    await assert.rejects(c.deliver([delivery(message(), iosDevice(hexToken()))]), /closed/);
  });
});

describe('apns classification', () => {
  it('classifies by status and reason, never message text', () => {
    const ctx = { attempt: 1 };
    assert.deepEqual(classifyFailure({ status: 400, response: { reason: 'DeviceTokenNotForTopic' } }, ctx), {
      type: 'invalid-recipient',
      reason: 'apns-DeviceTokenNotForTopic',
    });
    assert.deepEqual(classifyFailure({ status: 400, response: { reason: 'BadTopic' } }, ctx), { type: 'failed', reason: 'apns-BadTopic' });
    assert.deepEqual(classifyFailure({ status: 500, error: new Error('Error 500, stream ended unexpectedly') }, ctx), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'apns-500',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyFailure({ status: 403, response: { reason: 'ExpiredProviderToken' } }, ctx), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'apns-ExpiredProviderToken',
    });
    assert.deepEqual(classifyFailure({ status: 403 }, ctx), { type: 'failed', reason: 'apns-403' });
    assert.deepEqual(classifyFailure({ status: 403, response: { reason: 'InvalidProviderToken' } }, ctx), {
      type: 'failed',
      reason: 'apns-InvalidProviderToken',
    });
    assert.deepEqual(classifyFailure({ error: new Error('apn write timeout') }, ctx), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'apns-connection',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyFailure({ error: new Http2RequestError('t', 'timeout') }, ctx), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'apns-timeout',
      cause: 'unavailable',
    });
    assert.deepEqual(classifyFailure({}, ctx), { type: 'failed', reason: 'apns-unknown' });
  });

  it("reads an answer: Apple's JSON body, the lower-case retry-after header, and a body that is not JSON", () => {
    assert.deepEqual(failureOfAnswer(429, { ':status': 429, 'retry-after': '30' }, '{"reason":"TooManyRequests"}'), {
      status: 429,
      response: { reason: 'TooManyRequests' },
      retryAfter: '30',
    });
    assert.deepEqual(failureOfAnswer(410, {}, '{"reason":"Unregistered","timestamp":1700000000000}'), {
      status: 410,
      response: { reason: 'Unregistered', timestamp: 1_700_000_000_000 },
    });
    assert.deepEqual(failureOfAnswer(502, {}, '<html>Bad Gateway</html>'), { status: 502 });
    assert.deepEqual(classifyFailure(failureOfAnswer(502, {}, '<html>Bad Gateway</html>'), { attempt: 1 }), {
      type: 'retry',
      afterMs: 30_000,
      reason: 'apns-502',
      cause: 'unavailable',
    });
  });

  it('honours a retryAfter the failure exposes, else 30 s × attempt capped at 10 min', () => {
    assert.deepEqual(classifyFailure({ status: 429, retryAfter: '120', response: { reason: 'TooManyRequests' } }, { attempt: 1 }), {
      type: 'retry',
      afterMs: 120_000,
      reason: 'apns-TooManyRequests',
    });
    assert.deepEqual([1, 2, 5, 20, 21, 1000].map(providerBackoff), [30_000, 60_000, 150_000, 600_000, 600_000, 600_000]);
  });

  it('finds the innermost error code through VError and Error causes', () => {
    const inner = Object.assign(new Error('connect'), { code: 'ECONNRESET' });
    const middle = Object.assign(new Error('cancelled', { cause: inner }), { code: 'ERR_HTTP2_STREAM_CANCEL' });
    const outer = { message: 'apn write failed', cause: () => middle };
    assert.equal(errorCode(outer), 'ECONNRESET');
    assert.equal(errorCode(new Error('plain')), undefined);
  });

  it('maps expiresAt to apns-expiration', () => {
    const m = message({ createdAt: 1_000_000 });
    assert.equal(apnsExpiration(m), undefined);
    assert.equal(apnsExpiration({ ...m, expiresAt: 1_000_000 }), 0);
    assert.equal(apnsExpiration({ ...m, expiresAt: 1_060_001 }), 1061);
    assert.equal(apnsExpiration({ ...m, notBefore: 2_000_000, expiresAt: 2_000_000 }), 0);
  });

  it('refuses a host that is not host[:port] and a key that is not a P-256 private key', () => {
    const key = makeApnsKey();
    const base = { key: key.key, keyId: key.keyId, teamId: key.teamId, topic: TOPIC, production: false };
    assert.throws(() => createApnsChannel({ ...base, host: 'a:b:c' }), /host\[:port\]/);
    assert.throws(() => createApnsChannel({ ...base, host: 'host:70000' }), /host\[:port\]/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => createApnsChannel({ ...base, key: rsa }), /\.p8 EC private key/);
  });
});

describe('apns provider token', () => {
  it('signs ES256 {kid} {iss, iat}, reuses it, renews it after 50 minutes, and on a refusal at most every 20 minutes', async () => {
    const testKey = makeApnsKey();
    let clock = Date.parse('2025-03-01T10:00:00Z');
    const tokens = providerTokens({ key: loadSigningKey(testKey.key), keyId: testKey.keyId, teamId: testKey.teamId, now: () => clock });
    const [a, b] = await Promise.all([tokens.get(), tokens.get()]);
    assert.equal(a, b, 'one signing for callers waiting together');
    assert.equal(tokens.signed, 1);
    const { payload, protectedHeader } = await jwtVerify(a, testKey.publicKey, { algorithms: ['ES256'], issuer: testKey.teamId, currentDate: new Date(clock) });
    assert.deepEqual(protectedHeader, { alg: 'ES256', kid: testKey.keyId });
    assert.deepEqual(payload, { iss: testKey.teamId, iat: clock / 1000 });

    clock += RENEW_AFTER_MS - 1;
    assert.equal(await tokens.get(), a, 'reused until 50 minutes');
    clock += 1;
    const c = await tokens.get();
    assert.notEqual(c, a, 'renewed at 50 minutes');
    assert.equal(tokens.signed, 2);

    assert.equal(tokens.refused(a), true, 'an older token refused: the current one is newer');
    assert.equal(await tokens.get(), c);
    assert.equal(tokens.refused(c), true, 'the current token refused: dropped');
    const d = await tokens.get();
    assert.notEqual(d, c);
    assert.equal(tokens.refused(c), true, 'a second request that saw the same refusal uses the new token');
    assert.equal(await tokens.get(), d, 'one renewal however many requests saw it');
    assert.equal(tokens.signed, 3);

    clock += MIN_FORCED_RENEWAL_MS - 1;
    assert.equal(tokens.refused(d), false, 'within 20 minutes of the last forced renewal: kept');
    assert.equal(await tokens.get(), d);
    clock += 1;
    assert.equal(tokens.refused(d), true);
    assert.notEqual(await tokens.get(), d);
    assert.equal(tokens.signed, 4);
  });
});

describe('apns registration', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is disabled without credentials and enabled with them', () => {
    assert.equal(apnsDescriptor.disabledReason(loadConfig({})), MISSING_CREDENTIALS);
    const key = makeApnsKey();
    const config = loadConfig({ HERALD_APNS_KEY: key.key, HERALD_APNS_KEY_ID: key.keyId, HERALD_APNS_TEAM_ID: key.teamId, HERALD_APNS_TOPIC: TOPIC });
    assert.equal(apnsDescriptor.disabledReason(config), undefined);
  });

  it('reads the key from a path or takes the PEM text, and names HERALD_APNS_KEY when it cannot', async () => {
    const key = makeApnsKey();
    const dir = mkdtempSync(join(tmpdir(), 'herald-apns-'));
    dirs.push(dir);
    const file = join(dir, 'AuthKey.p8');
    writeFileSync(file, key.key);
    assert.equal(readApnsKey(file), key.key);
    assert.equal(readApnsKey(key.key), key.key);
    assert.throws(() => readApnsKey(join(dir, 'missing.p8')), /HERALD_APNS_KEY.*ENOENT/);

    const config = loadConfig({
      HERALD_APNS_KEY: file,
      HERALD_APNS_KEY_ID: key.keyId,
      HERALD_APNS_TEAM_ID: key.teamId,
      HERALD_APNS_TOPIC: TOPIC,
      HERALD_APNS_HOST: '127.0.0.1:9',
    });
    const context = { config, log: quiet } as unknown as Parameters<typeof apnsDescriptor.create>[0];
    const created = apnsDescriptor.create(context);
    assert.equal(created.name, 'apns');
    await created.close();

    writeFileSync(file, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    assert.throws(() => apnsDescriptor.create(context), /HERALD_APNS_KEY/);
  });
});
