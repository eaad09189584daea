/**
 * APNs through the REST API, with the real CLI as a child process talking to the loopback APNs
 * fake over HTTP/2 + TLS (trusted through NODE_EXTRA_CA_CERTS, as a private CA would be):
 * registration of an iOS token, a high-urgency send with topic and ttl reaching the fake with
 * the right headers, a 410 answer pruning the token, and /healthz reporting the channel.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ApnsFake, type ApnsTestKey, makeApnsKey, startApnsFake } from '../../fakes/apns.js';
import { testCertificate } from '../../fakes/tls.js';
import { eventually, startChild, startInProcess } from '../../helpers/herald.js';

const TOPIC = 'com.example.herald';

describe('apns channel (child process against the APNs fake)', () => {
  let key: ApnsTestKey;
  let fake: ApnsFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    key = makeApnsKey();
    fake = await startApnsFake(key);
    h = await startChild({
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_APNS_KEY: key.key,
      HERALD_APNS_KEY_ID: key.keyId,
      HERALD_APNS_TEAM_ID: key.teamId,
      HERALD_APNS_TOPIC: TOPIC,
      HERALD_APNS_HOST: fake.host,
    });
    admin = await h.token('ops', { admin: true });
  });

  after(async () => {
    await h?.kill('SIGTERM');
    await fake?.close();
  });

  const register = async (uid: string): Promise<string> => {
    const deviceToken = randomBytes(32).toString('hex');
    const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: { os: 'ios', token: deviceToken } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return deviceToken;
  };

  const send = async (uid: string, opts: Record<string, unknown>): Promise<string> => {
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: `hello ${uid}`, uid, opts } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };

  const apnsReceipt = (id: string, state: string) =>
    eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
        return r.body.receipts?.find((x: any) => x.channel === 'apns' && x.state === state);
      },
      15_000,
      `apns ${state} receipt for ${id}`,
    );

  it('reports channel:apns ok in /healthz', async () => {
    const health = await h.api('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.checks['channel:apns'], 'ok');
  });

  it('delivers a high-urgency message to an offline iOS user with priority 10, collapse id and expiration', async () => {
    const deviceToken = await register('ios-ann');
    const id = await send('ios-ann', { urgency: 'high', topic: 'order-42', ttl: 3600, title: 'Order', link: 'https://shop.example/o/42', data: { order: 42 } });

    const [got] = (await fake.waitFor((r) => r.payload?.id === id, 15_000)).filter((r) => r.payload?.id === id);
    assert.ok(got);
    assert.equal(got.token, deviceToken);
    const detail = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
    assert.deepEqual(got.headers, {
      topic: TOPIC,
      pushType: 'alert',
      priority: '10',
      collapseId: 'order-42',
      expiration: String(Math.ceil(Date.parse(detail.body.expiresAt) / 1000)),
    });
    assert.deepEqual(got.payload, { aps: { alert: { title: 'Order', body: 'hello ios-ann' } }, id, data: { order: 42 }, link: 'https://shop.example/o/42' });
    assert.deepEqual(fake.authFailures, []);
    await apnsReceipt(id, 'sent');
  });

  it('prunes the token APNs answers 410 for: the receipt fails invalid-recipient and the next send never reaches APNs', async () => {
    const deviceToken = await register('ios-bob');
    fake.answer(deviceToken, [{ status: 410, reason: 'Unregistered' }]);
    const first = await send('ios-bob', { urgency: 'high' });
    const failed = await apnsReceipt(first, 'failed');
    assert.equal(failed.reason, 'invalid-recipient');
    assert.match(failed.detail, /^invalid-recipient: apns-Unregistered$/, 'the admin view keeps the provider detail');

    const second = await send('ios-bob', { urgency: 'high' });
    await eventually(
      async () => (await h.api('GET', `/api/v1/messages/${second}`, { token: admin })).body.status === 'triaged',
      15_000,
      'second message triaged',
    );
    // A control send to another device, after the second message was triaged, reaches the fake:
    // anything queued for the pruned token would have been sent by then.
    await register('ios-cid');
    const control = await send('ios-cid', { urgency: 'high' });
    await fake.waitFor((r) => r.payload?.id === control, 15_000);
    await apnsReceipt(control, 'sent');
    const receipts = (await h.api('GET', `/api/v1/messages/${second}`, { token: admin })).body.receipts;
    assert.ok(!receipts.some((r: any) => r.channel === 'apns'), JSON.stringify(receipts));
    assert.equal(fake.received.filter((r) => r.token === deviceToken).length, 1, 'only the first send reached APNs');
    assert.ok(!fake.received.some((r) => r.payload?.id === second));
  });

  it('uses one HTTP/2 connection for all of it', () => {
    assert.equal(fake.sessions, 1);
  });
});

describe('apns channel without credentials', () => {
  it("reports channel:apns 'disabled' in /healthz", async () => {
    const h = await startInProcess();
    try {
      const health = await h.api('GET', '/healthz');
      assert.equal(health.body.checks['channel:apns'], 'disabled');
    } finally {
      await h.stop();
    }
  });
});
