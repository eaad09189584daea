/**
 * The SMS channel against the loopback Twilio fake (real twilio SDK, real HTTPS): what goes on
 * the wire (Body, From / MessagingServiceSid, StatusCallback with the delivery reference, Basic
 * auth), and the classification of every failure kind from Twilio's status and code; plus the
 * pure pieces (body composition, Retry-After, classification by fields, callback URLs).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import twilio from 'twilio';
import type { Channel, Delivery } from '../../../channels/port.js';
import { deliveryRefOf, twilioWebhookUrl, withDeliveryRef } from '../../../channels/sms/callback.js';
import { classifyTwilioError } from '../../../channels/sms/classify.js';
import { SMS_MAX_CHARS, smsBody } from '../../../channels/sms/compose.js';
import { createSmsChannel, type SmsChannel, type SmsChannelOptions, type TwilioAccount } from '../../../channels/sms/sms-channel.js';
import { twilioStatusHook } from '../../../channels/sms/status-hook.js';
import type { Message } from '../../../src/exchange/types.js';
import { parseRetryAfter } from '../../../src/retry.js';
import { testCertificate } from '../../fakes/tls.js';
import { newSid, startTwilioFake, type TwilioFake } from '../../fakes/twilio.js';
import { closedPort } from '../../helpers/closed-port.js';
import { channelTestMessage } from '../../helpers/messages.js';

const FROM = '+15005550006';
const CALLBACK = 'https://herald.example/api/v1/webhooks/twilio';

const message = (overrides: Partial<Message> = {}): Message =>
  channelTestMessage({ msg: 'Your code is 123456', urgency: 'high', createdAt: Date.now(), ...overrides });

let phoneCounter = 0;
const newPhone = (): string =>
  `+1555${String(1_000_000 + phoneCounter++)
    .slice(1)
    .padStart(7, '0')}`;

const delivery = (msg: Message, phone: string | undefined, attempt = 1, uid = `u-${randomUUID().slice(0, 8)}`): Delivery => ({
  message: msg,
  recipient: phone === undefined ? { uid } : { uid, phone },
  channel: 'sms',
  attempt,
});

/** A port nothing listens on: bound, read, closed. */

describe('sms channel against the Twilio fake', () => {
  let fake: TwilioFake;
  const channels: Channel[] = [];
  /** A channel on the fake's account; `overrides` may change that account's fields or the channel's options. */
  const channel = (overrides: Partial<SmsChannelOptions> & Partial<TwilioAccount> = {}): SmsChannel => {
    const { accountSid = fake.accountSid, authToken = fake.authToken, from = FROM, ...rest } = overrides;
    const created = createSmsChannel({
      accounts: [{ accountSid, authToken, from }],
      baseUrl: fake.url,
      ca: testCertificate().cert,
      statusCallbackUrl: CALLBACK,
      ...rest,
    });
    channels.push(created);
    return created;
  };

  before(async () => {
    fake = await startTwilioFake();
  });
  after(async () => {
    for (const c of channels) await c.close();
    await fake.close();
  });

  it('sends title: msg and the link, From the number, with a StatusCallback naming the delivery', async () => {
    const msg = message({ title: 'Alert', msg: 'Disk almost full', link: 'https://ops.example/d/1' });
    const phone = newPhone();
    const d = delivery(msg, phone);
    const [result] = await channel().deliver([d]);
    const sms = await fake.waitFor((m) => m.to === phone);
    assert.deepEqual(result, { type: 'sent', providerId: sms.sid });
    assert.match(sms.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(sms.body, 'Alert: Disk almost full\nhttps://ops.example/d/1');
    assert.equal(sms.from, FROM);
    assert.equal(sms.form.MessagingServiceSid, undefined);
    assert.ok(sms.statusCallback);
    const callback = new URL(sms.statusCallback);
    assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK);
    assert.deepEqual(deliveryRefOf(callback.searchParams), { messageId: msg.id, uid: d.recipient.uid });
  });

  it('uses the sms.text override, still appending the link', async () => {
    const phone = newPhone();
    const msg = message({ title: 'ignored', msg: 'ignored too', sms: { text: 'Short text' }, link: 'https://x.example/1' });
    const [result] = await channel().deliver([delivery(msg, phone)]);
    assert.equal(result?.type, 'sent');
    assert.equal((await fake.waitFor((m) => m.to === phone)).body, 'Short text\nhttps://x.example/1');
  });

  it('sends msg alone without a title, and asks for no callback when none is configured', async () => {
    const phone = newPhone();
    const [result] = await channel({ statusCallbackUrl: undefined }).deliver([delivery(message({ msg: 'plain' }), phone)]);
    assert.equal(result?.type, 'sent');
    const sms = await fake.waitFor((m) => m.to === phone);
    assert.equal(sms.body, 'plain');
    assert.equal(sms.form.StatusCallback, undefined);
  });

  it('sends through a Messaging Service when from is an MG sid', async () => {
    const service = newSid('MG');
    const phone = newPhone();
    const [result] = await channel({ from: service }).deliver([delivery(message(), phone)]);
    assert.equal(result?.type, 'sent');
    const sms = await fake.waitFor((m) => m.to === phone);
    assert.equal(sms.messagingServiceSid, service);
    assert.equal(sms.form.From, undefined);
  });

  it('treats an alphanumeric sender id that merely starts with MG as From', async () => {
    const phone = newPhone();
    await channel({ from: 'MGMHotels' }).deliver([delivery(message(), phone)]);
    const sms = await fake.waitFor((m) => m.to === phone);
    assert.equal(sms.from, 'MGMHotels');
    assert.equal(sms.messagingServiceSid, undefined);
  });

  it('fails invalid, non-mobile and unsubscribed numbers with the Twilio code (no token to prune)', async () => {
    const numbers: Array<[number, string]> = [
      [21211, newPhone()],
      [21614, newPhone()],
      [21610, newPhone()],
    ];
    for (const [code, phone] of numbers) fake.rejectNumber(phone, code);
    const results = await channel().deliver(numbers.map(([, phone]) => delivery(message(), phone)));
    assert.deepEqual(results, [
      { type: 'failed', reason: 'twilio-21211' },
      { type: 'failed', reason: 'twilio-21614' },
      { type: 'failed', reason: 'twilio-21610' },
    ]);
  });

  it('retries a 429 after the Retry-After the response carried', async () => {
    const phone = newPhone();
    fake.failNext(phone, { status: 429, code: 20429, message: 'Too Many Requests', retryAfter: '7' });
    const [result] = await channel().deliver([delivery(message(), phone, 2)]);
    assert.deepEqual(result, { type: 'retry', afterMs: 7_000, reason: 'twilio-20429', cause: 'throttled' });
    assert.deepEqual(
      fake.requests.filter((r) => r.to === phone),
      [{ to: phone, status: 429 }],
      'the SDK does not retry by itself',
    );
  });

  it('retries a 429 without Retry-After after 30 s × attempt', async () => {
    const phone = newPhone();
    fake.failNext(phone, { status: 429, code: 20429 }, 2);
    // A 429 pauses the account in the channel's gate, so the second send uses a channel of its own.
    assert.deepEqual(await channel().deliver([delivery(message(), phone, 3)]), [
      { type: 'retry', afterMs: 90_000, reason: 'twilio-20429', cause: 'unavailable' },
    ]);
    assert.deepEqual(await channel().deliver([delivery(message(), phone, 50)]), [
      { type: 'retry', afterMs: 600_000, reason: 'twilio-20429', cause: 'unavailable' },
    ]);
  });

  it('keeps Retry-After of concurrent sends apart', async () => {
    const [a, b, c] = [newPhone(), newPhone(), newPhone()];
    fake.failNext(a, { status: 429, code: 20429, retryAfter: '11' });
    fake.failNext(b, { status: 429, code: 20429, retryAfter: '22' });
    fake.failNext(c, { status: 429, code: 20429 });
    const results = await channel({ concurrency: 3 }).deliver([delivery(message(), a), delivery(message(), b), delivery(message(), c)]);
    assert.deepEqual(
      results.map((r) => (r.type === 'retry' ? r.afterMs : r.type)),
      [11_000, 22_000, 30_000],
    );
  });

  it('retries a 500', async () => {
    const phone = newPhone();
    fake.failNext(phone, { status: 500, message: 'Internal Server Error' });
    assert.deepEqual(await channel().deliver([delivery(message(), phone)]), [{ type: 'retry', afterMs: 30_000, reason: 'twilio-500', cause: 'unavailable' }]);
    // The next attempt goes through.
    assert.equal((await channel().deliver([delivery(message(), phone, 2)]))[0]?.type, 'sent');
  });

  it('retries when the connection is refused', async () => {
    const port = await closedPort();
    const [result] = await channel({ baseUrl: `https://127.0.0.1:${port}` }).deliver([delivery(message(), newPhone())]);
    assert.deepEqual(result, { type: 'retry', afterMs: 30_000, reason: 'twilio-econnrefused', cause: 'unavailable' });
  });

  it('fails with twilio-auth when the credentials are refused', async () => {
    const before = fake.authFailures;
    const [result] = await channel({ authToken: 'wrong-token' }).deliver([delivery(message(), newPhone())]);
    assert.deepEqual(result, { type: 'failed', reason: 'twilio-auth' });
    assert.equal(fake.authFailures, before + 1);
  });

  it('fails a recipient without a phone number without calling Twilio', async () => {
    const count = fake.requests.length;
    const [result] = await channel().deliver([delivery(message(), undefined)]);
    assert.deepEqual(result, { type: 'failed', reason: 'no-phone-number' });
    assert.equal(fake.requests.length, count);
  });

  it('answers a mixed batch in order, whatever finishes first', async () => {
    const [ok1, bad, slow, ok2] = [newPhone(), newPhone(), newPhone(), newPhone()];
    fake.rejectNumber(bad);
    fake.failNext(slow, { status: 503, code: 20503, retryAfter: '3' });
    const msg = message();
    const results = await channel({ concurrency: 2 }).deliver([
      delivery(msg, ok1),
      delivery(msg, bad),
      delivery(msg, undefined),
      delivery(msg, slow),
      delivery(msg, ok2),
    ]);
    const sid = (to: string) => fake.messages.find((m) => m.to === to)?.sid;
    assert.deepEqual(results, [
      { type: 'sent', providerId: sid(ok1) },
      { type: 'failed', reason: 'twilio-21211' },
      { type: 'failed', reason: 'no-phone-number' },
      { type: 'retry', afterMs: 3_000, reason: 'twilio-20503', cause: 'unavailable' },
      { type: 'sent', providerId: sid(ok2) },
    ]);
    assert.ok(sid(ok1) && sid(ok2));
  });

  it('reuses one connection pool across sends', async () => {
    const c = channel({ concurrency: 1 });
    const before = fake.connections;
    for (let i = 0; i < 5; i++) assert.equal((await c.deliver([delivery(message(), newPhone())]))[0]?.type, 'sent');
    assert.equal(fake.connections - before, 1);
  });

  it('never logs the credentials, whatever failed', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const port = await closedPort();
    const phone = newPhone();
    fake.failNext(phone, { status: 500 });
    await channel({ logger, baseUrl: `https://127.0.0.1:${port}` }).deliver([delivery(message(), newPhone())]);
    await channel({ logger }).deliver([delivery(message(), phone)]);
    const [result] = await channel({ logger, authToken: 'wrong-token-value' }).deliver([delivery(message(), newPhone())]);
    assert.deepEqual(result, { type: 'failed', reason: 'twilio-auth' });
    const log = lines.join('');
    assert.match(log, /sms send failed/);
    assert.match(log, /ECONNREFUSED/);
    for (const secret of [fake.authToken, 'wrong-token-value', Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')]) {
      assert.ok(!log.includes(secret), 'a credential reached the log');
    }
  });

  it('refuses to deliver once closed', async () => {
    const c = channel();
    await c.close();
    await assert.rejects(c.deliver([delivery(message(), newPhone())]), /closed/);
  });

  it('fails over to the second account when the first is unavailable, and names the account that sent', async () => {
    const second = await startTwilioFake();
    try {
      const c = createSmsChannel({
        accounts: [
          { accountSid: fake.accountSid, authToken: fake.authToken, from: FROM },
          { accountSid: second.accountSid, authToken: second.authToken, from: FROM, baseUrl: second.url },
        ],
        baseUrl: fake.url,
        ca: testCertificate().cert,
        circuit: { failures: 2, openMs: 60_000 },
      });
      channels.push(c);
      const [first] = await c.deliver([delivery(message(), newPhone())]);
      assert.equal(first?.type === 'sent' && first.provider, 'twilio-1');

      const [a, b, d] = [newPhone(), newPhone(), newPhone()];
      fake.failNext(a, { status: 503, code: 20503 });
      fake.failNext(b, { status: 500 });
      // One after the other: two requests failing together would count as one failure (one burst).
      const results = [...(await c.deliver([delivery(message(), a)])), ...(await c.deliver([delivery(message(), b)]))];
      assert.deepEqual(
        results.map((r) => r.type === 'sent' && r.provider),
        ['twilio-2', 'twilio-2'],
      );
      assert.deepEqual(
        second.messages.map((m) => m.to),
        [a, b],
      );
      // Two failures in a row opened the first account's circuit: the next SMS goes straight to the second.
      assert.equal(c.providers()[0]?.circuit, 'open');
      const tried = fake.requests.length;
      const [skipped] = await c.deliver([delivery(message({ urgency: 'high' }), d)]);
      assert.equal(skipped?.type === 'sent' && skipped.provider, 'twilio-2');
      assert.equal(fake.requests.length, tried, 'the open account was not called');
    } finally {
      await second.close();
    }
  });
});

describe('sms body', () => {
  it('does not repeat a link the text already holds', () => {
    assert.equal(smsBody({ msg: 'x', sms: { text: 'see https://a.example/1' }, link: 'https://a.example/1' }), 'see https://a.example/1');
  });

  it('cuts long text to Twilio’s 1600 characters, keeping the link whole', () => {
    const link = 'https://a.example/very/long/link';
    const body = smsBody({ msg: '😀'.repeat(2000), link });
    assert.equal([...body].length, SMS_MAX_CHARS);
    assert.ok(body.endsWith(`…\n${link}`));
    assert.ok(!body.includes('\uFFFD'));
  });
});

describe('twilio error classification', () => {
  it('reads status and code only, never the message', () => {
    const err = (fields: object) => Object.assign(new Error('The number is unsubscribed, rate limited, server error, auth'), fields);
    assert.deepEqual(classifyTwilioError(err({ status: 400, code: 21211 }), 1), { type: 'failed', reason: 'twilio-21211' });
    assert.deepEqual(classifyTwilioError(err({ status: 401, code: 20003 }), 1), { type: 'failed', reason: 'twilio-auth' });
    assert.deepEqual(classifyTwilioError(err({ status: 403, code: 20003 }), 1), { type: 'failed', reason: 'twilio-auth' });
    assert.deepEqual(classifyTwilioError(err({ status: 429 }), 2), { type: 'retry', afterMs: 60_000, reason: 'twilio-429', cause: 'unavailable' });
    assert.deepEqual(classifyTwilioError(err({ status: 502 }), 1, 5_000), { type: 'retry', afterMs: 5_000, reason: 'twilio-502', cause: 'unavailable' });
    assert.deepEqual(classifyTwilioError(err({ code: 'ETIMEDOUT' }), 1), { type: 'retry', afterMs: 30_000, reason: 'twilio-etimedout', cause: 'unavailable' });
    assert.deepEqual(classifyTwilioError(err({}), 1), { type: 'failed', reason: 'twilio-error' });
    assert.deepEqual(classifyTwilioError('boom', 1), { type: 'failed', reason: 'twilio-error' });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('12', now), 12_000);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});

describe('status callback urls', () => {
  it('builds the webhook url from the public url, keeping a path prefix', () => {
    assert.equal(twilioWebhookUrl('https://herald.example'), 'https://herald.example/api/v1/webhooks/twilio');
    assert.equal(twilioWebhookUrl('https://herald.example/base/'), 'https://herald.example/base/api/v1/webhooks/twilio');
  });

  it('round-trips the delivery reference through a re-serialised query', () => {
    const url = withDeliveryRef(CALLBACK, { messageId: 'm 1&x', uid: 'ann@example.com/é' });
    const parsed = new URL(url);
    const rebuilt = `${CALLBACK}?${new URLSearchParams(parsed.search).toString()}`;
    assert.equal(rebuilt, url, 'the webhook can rebuild the exact signed url');
    assert.deepEqual(deliveryRefOf(parsed.searchParams), { messageId: 'm 1&x', uid: 'ann@example.com/é' });
  });
});

describe('twilio status hook with two accounts', () => {
  const publicUrl = 'https://herald.example';
  const hook = twilioStatusHook({ authTokens: ['token-of-the-first', 'token-of-the-second'], publicUrl });
  const callback = (token: string) => {
    const query = new URLSearchParams({ m: 'msg-1', u: 'alice' });
    const params = { MessageSid: newSid('SM'), MessageStatus: 'delivered' };
    const signature = twilio.getExpectedTwilioSignature(token, `${twilioWebhookUrl(publicUrl)}?${query}`, params);
    return hook.handle({
      headers: { 'x-twilio-signature': signature },
      query,
      body: new URLSearchParams(params).toString(),
      log: pino({ level: 'silent' }),
      now: 1,
    });
  };

  it('accepts a callback signed with either account’s token, and no other', async () => {
    for (const token of ['token-of-the-first', 'token-of-the-second']) {
      const answer = await callback(token);
      assert.equal(answer.status, 204);
      assert.deepEqual(answer.receipts, [{ messageId: 'msg-1', uid: 'alice', channel: 'sms', state: 'delivered', at: 1 }]);
    }
    assert.equal((await callback('token-of-someone-else')).status, 403);
  });
});
