/**
 * FCM end to end through the real CLI (`herald serve` as a child process) against the loopback
 * FCM fake: HERALD_FCM_SERVICE_ACCOUNT enables the channel, HERALD_FCM_HOST routes its HTTP/2
 * session and its token requests to the fake, NODE_EXTRA_CA_CERTS trusts the test certificate. An offline Android user gets a
 * push; an unregistered token fails its receipt, is pruned, and is never tried again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type FcmFake, startFcmFake, writeServiceAccount } from '../../fakes/fcm.js';
import { testCertificate } from '../../fakes/tls.js';
import { eventually, startChild } from '../../helpers/herald.js';

const fcmToken = () => `fcm-${randomUUID()}:APA91b${randomUUID().replaceAll('-', '')}`;

describe('fcm channel (e2e)', () => {
  let fake: FcmFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    const account = writeServiceAccount();
    fake = await startFcmFake({ accounts: [account] });
    h = await startChild({ NODE_EXTRA_CA_CERTS: testCertificate().certFile, HERALD_FCM_SERVICE_ACCOUNT: account.path, HERALD_FCM_HOST: fake.host });
    admin = await h.token('ops', { admin: true });
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await fake?.close();
  });

  const register = async (uid: string, token: string) => {
    const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: { os: 'android', token } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  };

  const receiptsOf = (id: string, done: (receipts: any[]) => boolean, what: string) =>
    eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
        return r.status === 200 && done(r.body.receipts ?? []) ? (r.body.receipts as any[]) : undefined;
      },
      15_000,
      what,
    );

  it('reports the channel healthy', async () => {
    const res = await h.api('GET', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body.checks['channel:fcm'], 'ok');
  });

  it('pushes a high-urgency message to an offline Android user with android priority high', async () => {
    const token = fcmToken();
    await register('andy', token);
    const res = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { msg: 'Your ride is here', uid: 'andy', opts: { urgency: 'high', title: 'Ride', data: { ride: 42 }, link: 'https://rides.test/42' } },
    });
    assert.equal(res.status, 202);
    const sent = await eventually(async () => fake.received.find((r) => r.token === token), 15_000, 'fcm send at the fake');
    assert.ok(sent.session > 0, 'sent over HTTP/2');
    assert.equal(sent.message.android.priority, 'high');
    assert.deepEqual(sent.message.notification, { title: 'Ride', body: 'Your ride is here' });
    assert.equal(sent.message.data.id, res.body.id);
    assert.deepEqual(JSON.parse(sent.message.data.data), { ride: 42 });
    const receipts = await receiptsOf(res.body.id, (rs) => rs.some((r) => r.channel === 'fcm' && r.state === 'sent'), 'fcm sent receipt');
    assert.equal(receipts.find((r) => r.channel === 'fcm').reason, null);
    assert.match(receipts.find((r) => r.channel === 'fcm').detail ?? '', /^projects\/.+\/messages\//);
  });

  it('fails the receipt of an UNREGISTERED token, prunes it, and never sends to it again', async () => {
    const token = fcmToken();
    await register('gone', token);
    fake.answer(token, [{ status: 404, errorCode: 'UNREGISTERED' }]);
    const first = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'hello?', uid: 'gone', opts: { urgency: 'normal' } } });
    assert.equal(first.status, 202);
    const receipts = await receiptsOf(first.body.id, (rs) => rs.some((r) => r.channel === 'fcm' && r.state === 'failed'), 'fcm failed receipt');
    assert.equal(receipts.find((r) => r.channel === 'fcm').reason, 'invalid-recipient');
    assert.equal(receipts.find((r) => r.channel === 'fcm').detail, 'invalid-recipient: fcm-registration-token-not-registered');
    assert.equal(fake.requests.filter((r) => r.token === token).length, 1);

    // The token is gone: asked for fcm explicitly, triage finds no device.
    const second = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'still there?', uid: 'gone', opts: { channels: ['fcm'] } } });
    assert.equal(second.status, 202);
    const later = await receiptsOf(second.body.id, (rs) => rs.some((r) => r.channel === 'fcm'), 'fcm receipt of the second send');
    assert.deepEqual(
      later.filter((r) => r.channel === 'fcm').map((r) => [r.state, r.reason]),
      [['suppressed', 'no-device']],
    );
    assert.equal(fake.requests.filter((r) => r.token === token).length, 1, 'the pruned token was not tried again');
    assert.equal(new Set(fake.requests.map((r) => r.session)).size, 1, 'every send of the process went on one HTTP/2 session');
  });
});
