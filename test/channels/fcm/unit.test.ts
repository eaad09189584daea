/**
 * The FCM channel against the loopback FCM fake (real firebase-admin, real OAuth2 JWT-bearer
 * grant, HTTP/1.1 through the host-override agent): token fetched once and reused, the wire shape
 * of messages per urgency, results mapped back in batch order, classification of every FCM error
 * kind, the fake down, a refused credential, batches over 500 split, and the registration.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Messaging } from 'firebase-admin/messaging';
import { fcmDescriptor } from '../../../channels/fcm/descriptor.js';
import { createFcmChannel, FCM_BATCH_LIMIT } from '../../../channels/fcm/fcm-channel.js';
import { parseHostPort } from '../../../channels/fcm/host-agent.js';
import type { Channel, Delivery, DeliveryResult } from '../../../channels/port.js';
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
  let channel: Channel;
  const channels: Channel[] = [];
  const fresh = (options: { account?: ServiceAccountFile; host?: string } = {}): Channel => {
    const c = createFcmChannel({ serviceAccountPath: (options.account ?? account).path, host: options.host ?? fake.host, ca });
    channels.push(c);
    return c;
  };

  before(async () => {
    account = writeServiceAccount();
    fake = await startFcmFake({ accounts: [account] });
    channel = fresh();
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await fake.close();
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
    assert.deepEqual(results[2], { type: 'retry', afterMs: 90_000, reason: 'fcm-message-rate-exceeded' });
    assert.deepEqual(results[3], { type: 'failed', reason: 'fcm-invalid-argument' });
    assert.deepEqual(results[4], { type: 'failed', reason: 'no-device' });
    assert.deepEqual(results[5], { type: 'retry', afterMs: 60_000, reason: 'fcm-internal-error' });
    assert.deepEqual(results[6], { type: 'failed', reason: 'no-device' });
    assert.deepEqual(results[7], { type: 'retry', afterMs: 600_000, reason: 'fcm-internal-error' }, 'backoff capped at 10 min');
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
      { type: 'retry', afterMs: 30_000, reason: 'fcm-token-unavailable' },
      { type: 'retry', afterMs: 60_000, reason: 'fcm-token-unavailable' },
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

  it(`splits more than ${FCM_BATCH_LIMIT} deliveries into sendEach calls of at most ${FCM_BATCH_LIMIT}`, async () => {
    const sizes: number[] = [];
    const original = Messaging.prototype.sendEach;
    Messaging.prototype.sendEach = function (this: Messaging, messages, dryRun) {
      sizes.push(messages.length);
      return original.call(this, messages, dryRun);
    };
    try {
      const msg = message({ urgency: 'low' });
      const batch = Array.from({ length: 1_200 }, () => delivery(msg));
      const requestsBefore = fake.requests.length;
      const results = await channel.deliver(batch);
      assert.deepEqual(sizes, [500, 500, 200]);
      assert.equal(results.length, 1_200);
      assert.ok(
        results.every((r) => r.type === 'sent'),
        JSON.stringify(results.find((r) => r.type !== 'sent')),
      );
      assert.equal(new Set(results.map((r) => (r.type === 'sent' ? r.providerId : ''))).size, 1_200, 'one provider id per delivery');
      assert.ok(fake.requests.length - requestsBefore >= 1_200);
      const tokens = new Set(fake.requests.slice(requestsBefore).map((r) => r.token));
      assert.ok(
        batch.every((d) => tokens.has(tokenOf(d))),
        'every token reached the fake',
      );
    } finally {
      Messaging.prototype.sendEach = original;
    }
  });

  it('refuses to deliver after close', async () => {
    const c = createFcmChannel({ serviceAccountPath: account.path, host: fake.host, ca });
    await c.close();
    await assert.rejects(c.deliver([delivery(message())]), /closed/);
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
