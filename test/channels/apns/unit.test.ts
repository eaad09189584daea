/**
 * The APNs channel against the loopback APNs fake (real HTTP/2, TLS and ES256 provider tokens
 * verified with jose): headers per urgency, expiration, collapse id, topic and payload; one
 * notification per message sent to many tokens with the answers mapped back in batch order;
 * classification of every answer kind; one provider (one HTTP/2 session) for many batches.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import apn from '@parse/node-apn';
import pino from 'pino';
import { type ApnsChannelOptions, createApnsChannel, parseHost } from '../../../channels/apns/apns-channel.js';
import { classifyFailure, errorCode } from '../../../channels/apns/classify.js';
import { apnsDescriptor, MISSING_CREDENTIALS, readApnsKey } from '../../../channels/apns/descriptor.js';
import { apnsExpiration, PRIORITY } from '../../../channels/apns/notification.js';
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

  const channel = (overrides: Partial<ApnsChannelOptions> = {}, target: ApnsFake = fake, testKey: ApnsTestKey = key): Channel => {
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
    await fake.close();
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

  it('sends one notification per message to all its tokens and maps mixed answers back in batch order', async () => {
    const c = channel();
    const send = mock.method(apn.Provider.prototype, 'send');
    try {
      const m = message({ urgency: 'high' });
      const [ok1, gone, bad, busy, tooBig, ok2] = [hexToken(), hexToken(), hexToken(), hexToken(), hexToken(), hexToken()];
      fake.answer(gone, [{ status: 410, reason: 'Unregistered' }]);
      fake.answer(bad, [{ status: 400, reason: 'BadDeviceToken' }]);
      fake.answer(busy, [
        { status: 429, reason: 'TooManyRequests' },
        { status: 429, reason: 'TooManyRequests' },
      ]);
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
      const results = await c.deliver(batch);

      assert.equal(send.mock.callCount(), 1, 'one provider.send for one message');
      const [note, tokens] = send.mock.calls[0]?.arguments ?? [];
      assert.ok(note instanceof apn.Notification);
      assert.deepEqual([...(tokens as string[])].sort(), [ok1, gone, bad, busy, tooBig, ok2].sort(), 'each distinct token once');

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
      const retry = results[4];
      assert.equal(retry?.type === 'retry' ? retry.afterMs : undefined, 60_000, '30 s × attempt 2');
      const sentHere = fake.received.slice(before);
      assert.equal(sentHere.filter((r) => r.token === ok1).length, 1, 'a token repeated in the batch is sent once');
      assert.equal(sentHere.filter((r) => r.token === busy).length, 2, 'the library re-sent a 429 once, at once');
      assert.ok(sentHere.every((r) => r.payload.id === m.id));
    } finally {
      send.mock.restore();
    }
  });

  it('sends two notifications for a batch holding two messages', async () => {
    const c = channel();
    const send = mock.method(apn.Provider.prototype, 'send');
    try {
      const [m1, m2] = [message(), message()];
      const results = await c.deliver([delivery(m1, iosDevice(hexToken())), delivery(m2, iosDevice(hexToken())), delivery(m1, iosDevice(hexToken()))]);
      assert.equal(send.mock.callCount(), 2);
      assert.deepEqual(
        send.mock.calls.map((call) => (call.arguments[1] as string[]).length),
        [2, 1],
      );
      assert.deepEqual(
        results.map((r) => r.type),
        ['sent', 'sent', 'sent'],
      );
    } finally {
      send.mock.restore();
    }
  });

  it("answers 429 and 503 with a retry after Herald's own backoff (30 s × attempt, at most 10 min)", async () => {
    const c = channel();
    const m = message();
    const [t429, t503] = [hexToken(), hexToken()];
    fake.answer(t429, [
      { status: 429, reason: 'TooManyRequests' },
      { status: 429, reason: 'TooManyRequests' },
    ]);
    fake.answer(t503, [
      { status: 503, reason: 'ServiceUnavailable' },
      { status: 503, reason: 'ServiceUnavailable' },
    ]);
    const results = await c.deliver([delivery(m, iosDevice(t429), 3), delivery(m, iosDevice(t503), 40)]);
    assert.deepEqual(results, [
      { type: 'retry', afterMs: 90_000, reason: 'apns-TooManyRequests' },
      { type: 'retry', afterMs: 600_000, reason: 'apns-ServiceUnavailable', cause: 'unavailable' },
    ]);
  });

  it('lets the library re-send a one-off 500 once, and not at all with immediateRetries 0', async () => {
    const m = message();
    const [once, never] = [hexToken(), hexToken()];
    fake.answer(once, [{ status: 500, reason: 'InternalServerError' }]);
    fake.answer(never, [{ status: 429, reason: 'TooManyRequests' }]);
    const [first] = await channel().deliver([delivery(m, iosDevice(once))]);
    assert.equal(first?.type, 'sent');
    assert.equal(fake.received.filter((r) => r.token === once).length, 2);
    const [second] = await channel({ immediateRetries: 0 }).deliver([delivery(m, iosDevice(never))]);
    assert.deepEqual(second, { type: 'retry', afterMs: 30_000, reason: 'apns-TooManyRequests' });
    assert.equal(fake.received.filter((r) => r.token === never).length, 1);
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

  it('uses one provider, one HTTP/2 session, for many batches', async () => {
    const own = await startApnsFake(key);
    try {
      const c = channel({}, own);
      await c.deliver([delivery(message(), iosDevice(hexToken()))]);
      await Promise.all([c.deliver([delivery(message(), iosDevice(hexToken()))]), c.deliver([delivery(message(), iosDevice(hexToken()))])]);
      const m = message();
      await c.deliver(Array.from({ length: 20 }, () => delivery(m, iosDevice(hexToken()))));
      assert.equal(own.received.length, 23);
      assert.equal(own.sessions, 1);
    } finally {
      await own.close();
    }
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
    assert.deepEqual(classifyFailure({ status: 403, error: new Error('ExpiredProviderToken') }, ctx), { type: 'retry', afterMs: 30_000, reason: 'apns-403' });
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
    assert.deepEqual(classifyFailure({}, ctx), { type: 'failed', reason: 'apns-unknown' });
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

  it('parses host[:port]', () => {
    assert.deepEqual(parseHost('127.0.0.1:8443'), { address: '127.0.0.1', port: 8443 });
    assert.deepEqual(parseHost('api.push.apple.com'), { address: 'api.push.apple.com' });
    assert.deepEqual(parseHost('[::1]:443'), { address: '[::1]', port: 443 });
    assert.throws(() => parseHost('a:b:c'), /host\[:port\]/);
    assert.throws(() => parseHost('host:70000'), /port/);
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
