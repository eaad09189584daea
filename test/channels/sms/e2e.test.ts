/**
 * SMS end to end: a child Herald (the real CLI) sends through the loopback Twilio fake, which it
 * trusts through NODE_EXTRA_CA_CERTS as production would a private CA; the fake then posts
 * signed status callbacks to Herald's public URL, and the receipts follow. A callback with a bad
 * signature is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testCertificate } from '../../fakes/tls.js';
import { startTwilioFake, type TwilioFake } from '../../fakes/twilio.js';
import { eventually, startChild, startInProcess } from '../../helpers/herald.js';

const FROM = '+15005550006';

/** A port free right now: Herald's public URL must be known before it starts. */
const freePort = async (): Promise<number> => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

describe('sms channel through REST', () => {
  let fake: TwilioFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    fake = await startTwilioFake();
    const port = await freePort();
    h = await startChild({
      HERALD_PORT: String(port),
      HERALD_PUBLIC_URL: `http://127.0.0.1:${port}`,
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_TWILIO_ACCOUNT_SID: fake.accountSid,
      HERALD_TWILIO_AUTH_TOKEN: fake.authToken,
      HERALD_TWILIO_FROM: FROM,
      HERALD_TWILIO_BASE_URL: fake.url,
    });
    admin = await h.token('ops', { admin: true });
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await fake?.close();
  });

  const smsReceipt = async (messageId: string) => {
    const res = await h.api('GET', `/api/v1/messages/${messageId}`, { token: admin });
    assert.equal(res.status, 200);
    return (res.body.receipts as any[]).find((r) => r.channel === 'sms');
  };
  const waitForSmsState = (messageId: string, state: string) =>
    eventually(async () => ((await smsReceipt(messageId))?.state === state ? smsReceipt(messageId) : undefined), 10_000, `sms receipt ${state}`);

  const sendSms = async (uid: string, phone: string, opts: object = {}) => {
    assert.equal((await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { phone } })).status, 200);
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'Your table is ready', uid, opts: { channels: ['sms'], ...opts } } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const sms = await fake.waitFor((m) => m.to === phone);
    await waitForSmsState(res.body.id, 'sent');
    return { id: res.body.id as string, sms };
  };

  it('reports the sms channel enabled', async () => {
    const health = await h.api('GET', '/healthz');
    assert.equal(health.body.checks['channel:sms'], 'ok');
  });

  it('sends to the user’s phone and records delivered from a signed callback', async () => {
    const { id, sms } = await sendSms('carol', '+15551230001', { title: 'Bistro', link: 'https://bistro.example/t/4' });
    assert.equal(sms.body, 'Bistro: Your table is ready\nhttps://bistro.example/t/4');
    assert.equal(sms.from, FROM);
    assert.ok(sms.statusCallback?.startsWith(`${h.url}/api/v1/webhooks/twilio?`), sms.statusCallback);
    assert.equal((await smsReceipt(id)).detail, sms.sid, 'the sent receipt carries the Message SID (admin view)');

    const queued = await fake.sendStatusCallback(sms.sid, 'sending');
    assert.equal(queued.status, 204);
    assert.equal((await smsReceipt(id)).state, 'sent', 'intermediate statuses are not recorded');

    const delivered = await fake.sendStatusCallback(sms.sid, 'delivered');
    assert.equal(delivered.status, 204);
    assert.equal((await waitForSmsState(id, 'delivered')).state, 'delivered');
  });

  it('refuses a callback with a bad signature and records nothing', async () => {
    const { id, sms } = await sendSms('dave', '+15551230002');
    const forged = await fake.sendStatusCallback(sms.sid, 'failed', 30007, { badSignature: true });
    assert.equal(forged.status, 403);
    assert.equal(JSON.parse(forged.body).code, 'HERALD_FORBIDDEN');

    // A genuine callback of another message, replayed against this message's URL: the signature covers the query.
    const other = await sendSms('erin', '+15551230003');
    const replayed = await fake.sendStatusCallback(other.sms.sid, 'failed', 30007, { postTo: sms.statusCallback as string });
    assert.equal(replayed.status, 403);
    const tampered = await fetch(sms.statusCallback as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl' },
      body: new URLSearchParams({ MessageSid: sms.sid, MessageStatus: 'failed', ErrorCode: '30007' }).toString(),
    });
    assert.equal(tampered.status, 403);
    const unsigned = await fetch(sms.statusCallback as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ MessageSid: sms.sid, MessageStatus: 'failed' }).toString(),
    });
    assert.equal(unsigned.status, 403);
    assert.equal((await smsReceipt(id)).state, 'sent');
    assert.equal((await smsReceipt(other.id)).state, 'sent');
  });

  it('records undelivered with the Twilio error code as failed', async () => {
    const { id, sms } = await sendSms('frank', '+15551230004');
    const res = await fake.sendStatusCallback(sms.sid, 'undelivered', 30003);
    assert.equal(res.status, 204);
    const receipt = await waitForSmsState(id, 'failed');
    assert.equal(receipt.reason, 'provider-rejected');
    assert.equal(receipt.detail, 'twilio-30003');
  });

  it('fails a number Twilio refuses, without retrying', async () => {
    fake.rejectNumber('+15551230005', 21211);
    assert.equal((await h.api('PUT', '/api/v1/users/gina', { token: admin, body: { phone: '+15551230005' } })).status, 200);
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'hello', uid: 'gina', opts: { channels: ['sms'] } } });
    assert.equal(res.status, 202);
    const receipt = await waitForSmsState(res.body.id, 'failed');
    assert.equal(receipt.reason, 'provider-rejected');
    assert.equal(receipt.detail, 'twilio-21211');
    assert.equal(fake.requests.filter((r) => r.to === '+15551230005').length, 1);
  });
});

describe('twilio webhook without SMS configured', () => {
  it('answers 403 to any callback and reports sms disabled', async () => {
    const h = await startInProcess();
    try {
      const res = await h.api('POST', '/api/v1/webhooks/twilio?m=x&u=y', {
        raw: 'MessageSid=SM1&MessageStatus=delivered',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'c2ln' },
      });
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'HERALD_FORBIDDEN');
      assert.equal((await h.api('GET', '/healthz')).body.checks['channel:sms'], 'disabled');
    } finally {
      await h.stop();
    }
  });
});
