/**
 * Web push end to end: the real CLI (`herald serve` in a child process) trusts the loopback push
 * service through NODE_EXTRA_CA_CERTS, as production would trust a private CA. A browser
 * subscription registered through the REST API receives the encrypted, VAPID-signed message
 * while its user is offline; a 410 prunes the subscription; a 429 is retried after its
 * Retry-After; an online user gets the realtime frame and no web push.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PushServiceFake, startPushService } from '../../fakes/push-service.js';
import { testCertificate } from '../../fakes/tls.js';
import { eventually, startChild } from '../../helpers/herald.js';

describe('webpush channel (REST → push service)', () => {
  let fake: PushServiceFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    fake = await startPushService();
    h = await startChild({ NODE_EXTRA_CA_CERTS: testCertificate().certFile, HERALD_WEBPUSH_ALLOW_PRIVATE: 'true' });
    admin = await h.token('ops', { admin: true });
    const key = await h.api('GET', '/api/v1/webpush/vapid-public-key');
    assert.equal(key.status, 200);
    // The push service refuses any other VAPID key than the one Herald publishes.
    fake.expectVapidKey = key.body.key;
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await fake?.close();
  });

  /** Registers a new subscription of the fake for `uid`; returns its id on the fake. */
  const subscribe = async (uid: string): Promise<string> => {
    const sub = fake.subscription();
    const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: sub });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return fake.idOf(sub.endpoint);
  };

  const send = async (uid: string, msg: string, opts: Record<string, unknown> = {}): Promise<string> => {
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid, opts } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  };

  const receipts = async (id: string): Promise<any> => (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body;

  const webpushReceipt = (id: string, state: string) =>
    eventually(
      async () => (await receipts(id)).receipts?.find((r: any) => r.channel === 'webpush' && r.state === state),
      15_000,
      `webpush receipt ${state} for ${id}`,
    );

  const triaged = (id: string) =>
    eventually(
      async () => {
        const body = await receipts(id);
        return body.status === 'triaged' ? body : undefined;
      },
      10_000,
      `${id} triaged`,
    );

  it('delivers to an offline user: decrypted payload with the message id and body, Urgency high', async () => {
    const subId = await subscribe('wp-alice');
    const id = await send('wp-alice', 'Your table is ready', { urgency: 'high', title: 'Bistro', link: 'https://bistro.test/t/7' });
    const [record] = await fake.waitFor((r) => r.id === subId && r.payload?.id === id);
    assert.ok(record);
    assert.equal(record.status, 201);
    assert.equal(record.payload.body, 'Your table is ready');
    assert.equal(record.payload.title, 'Bistro');
    assert.equal(record.payload.link, 'https://bistro.test/t/7');
    assert.equal(record.payload.urgency, 'high');
    assert.equal(record.headers.urgency, 'high');
    assert.equal(record.vapid?.aud, fake.origin);
    const sent = await webpushReceipt(id, 'sent');
    assert.equal(sent.uid, 'wp-alice');
    assert.equal(sent.reason, null, 'no provider text in the reason');
    assert.match(sent.detail ?? '', new RegExp(`^${fake.origin}/message/`), 'the push service Location is kept as provider id (admin view)');
  });

  it('prunes a subscription the push service says is gone (410): the next send does not reach it', async () => {
    const subId = await subscribe('wp-bob');
    fake.answer(subId, [{ status: 410 }]);
    const first = await send('wp-bob', 'first');
    const failed = await webpushReceipt(first, 'failed');
    assert.equal(failed.reason, 'invalid-recipient');
    assert.match(failed.detail, /410/);

    const second = await send('wp-bob', 'second');
    const body = await triaged(second);
    assert.ok(!body.receipts.some((r: any) => r.channel === 'webpush'), `no webpush for the second send: ${JSON.stringify(body.receipts)}`);
    assert.deepEqual(
      fake.recordsFor(subId).map((r) => [r.payload?.body, r.status]),
      [['first', 410]],
    );
  });

  it('retries a 429 after its Retry-After and then delivers', async () => {
    const subId = await subscribe('wp-carol');
    fake.answer(subId, [{ status: 429, retryAfter: 1 }]);
    const id = await send('wp-carol', 'try again');
    await webpushReceipt(id, 'sent');
    const attempts = fake.recordsFor(subId);
    assert.deepEqual(
      attempts.map((r) => [r.payload?.id, r.status]),
      [
        [id, 429],
        [id, 201],
      ],
    );
  });

  it('sends a realtime frame and no web push to a user who is online', async () => {
    const subId = await subscribe('wp-dave');
    const socket = await h.socket('wp-dave');
    try {
      const id = await send('wp-dave', 'you are here', { urgency: 'high' });
      const frame = await socket.next((f) => f.type === 'message' && f.id === id);
      assert.equal(frame.msg, 'you are here');
      const body = await triaged(id);
      assert.ok(!body.receipts.some((r: any) => r.channel === 'webpush'), JSON.stringify(body.receipts));
      assert.equal(fake.recordsFor(subId).length, 0);
    } finally {
      socket.close();
    }
  });
});
