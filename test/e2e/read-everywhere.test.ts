/**
 * Receipt capabilities and "read once, quiet everywhere", against the real CLI with the loopback
 * push service (which decrypts every payload) and the loopback FCM:
 *  - each web push delivery carries its own capability (`receipt`), scoped to the message, the
 *    user and the device; POST /api/v1/receipts takes it instead of a token and records that
 *    device's receipt, nothing else; tampered, expired or wrong-purpose ones are 401;
 *  - a read (a WebSocket `read` frame, or a click reported with a capability) sends a `read`
 *    frame to the user's other sockets, a `close` push to the other browsers that got the
 *    message and a data-only FCM update with the same collapse key — never to the reporter,
 *    never to a device that did not get it, never twice — and adds no receipt (reports count one
 *    delivery); a throttled withdrawal waits for its Retry-After like a delivery;
 *  - a renewal capability replaces a rotated subscription once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type FcmFake, startFcmFake, writeServiceAccount } from '../fakes/fcm.js';
import { type PushRecord, type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild } from '../helpers/herald.js';

const fcmToken = () => `fcm-${randomUUID()}:APA91b${randomUUID().replaceAll('-', '')}`;

describe('receipt capabilities and read once, quiet everywhere', () => {
  let push: PushServiceFake;
  let fcm: FcmFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    const account = writeServiceAccount();
    [push, fcm] = await Promise.all([startPushService(), startFcmFake({ accounts: [account] })]);
    h = await startChild({
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
      HERALD_FCM_SERVICE_ACCOUNT: account.path,
      HERALD_FCM_HOST: fcm.host,
    });
    admin = await h.token('ops', { admin: true });
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await Promise.all([push?.close(), fcm?.close()]);
  });

  /** A user with two browsers and an Android phone, each registered; the device ids by name. */
  async function userWithDevices(uid: string) {
    const token = await h.token(uid);
    const browsers = [push.subscription(), push.subscription()];
    const ids: string[] = [];
    for (const body of browsers) {
      const res = await h.api('POST', '/api/v1/native/subscribe', { token, body });
      assert.equal(res.status, 201);
      ids.push(res.body.id);
    }
    const android = fcmToken();
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token, body: { os: 'android', token: android } })).status, 201);
    return { token, browsers, browserIds: ids, android };
  }

  const pushesTo = (endpoint: string, match: (r: PushRecord) => boolean) => push.recordsFor(push.idOf(endpoint)).filter(match);
  const messagePush = (endpoint: string, id: string) =>
    eventually(async () => pushesTo(endpoint, (r) => r.payload?.id === id && r.payload?.type === undefined)[0], 20_000, `push of ${id}`);
  const receiptsOf = async (id: string) => (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts as any[];
  const withCapability = (capability: string, state: string) => h.api('POST', '/api/v1/receipts', { body: { capability, state } });

  async function sendAndWait(uid: string, endpoints: string[], android: string, opts: Record<string, unknown> = {}) {
    const sent = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { msg: 'Your order shipped', uid, opts: { title: 'Shop', link: 'https://shop.example/o/1', ...opts } },
    });
    assert.equal(sent.status, 202);
    const id: string = sent.body.id;
    const records = await Promise.all(endpoints.map((e) => messagePush(e, id)));
    await eventually(async () => fcm.received.find((r) => r.token === android && r.message.data.id === id), 20_000, 'fcm send');
    await eventually(async () => (await receiptsOf(id)).filter((r) => r.state === 'sent' && r.device).length === 3, 20_000, 'three sent receipts');
    return { id, records };
  }

  it('signs a capability per device that records that device receipt without a token, and nothing else', async () => {
    const alice = await userWithDevices('cap-alice');
    const { id, records } = await sendAndWait(
      'cap-alice',
      alice.browsers.map((b) => b.endpoint),
      alice.android,
      { topic: 'orders' },
    );
    const [first, second] = records.map((r) => r?.payload);
    assert.equal(first.tag, 'orders');
    assert.equal(first.title, 'Shop');
    assert.equal(first.link, 'https://shop.example/o/1');
    assert.equal(typeof first.receipt, 'string');
    assert.equal(typeof first.renew, 'string');
    assert.notEqual(first.receipt, second.receipt, 'each device gets its own capability');

    // Tampered: the signature's first character changed (its last carries padding bits a decoder
    // drops, so changing that one may change nothing); a renewal capability is not a receipt one; garbage.
    const at = first.receipt.lastIndexOf('.') + 1;
    const swapped = first.receipt[at] === 'A' ? 'B' : 'A';
    const tampered = first.receipt.slice(0, at) + swapped + first.receipt.slice(at + 1);
    for (const bad of [tampered, first.renew, 'not-a-capability']) {
      const res = await withCapability(bad, 'delivered');
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.code, 'HERALD_UNAUTHORIZED');
    }
    // Neither a token nor a capability: 401; a field that is wrong is named.
    assert.equal((await h.api('POST', '/api/v1/receipts', { body: { ids: [id], state: 'read' } })).status, 401);
    const invalid = await withCapability(first.receipt, 'archived');
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.errors[0].path, 'state');

    assert.equal((await withCapability(first.receipt, 'delivered')).status, 204);
    const receipts = await eventually(async () => {
      const rs = await receiptsOf(id);
      return rs.some((r) => r.channel === 'webpush' && r.device === alice.browserIds[0] && r.state === 'delivered') ? rs : undefined;
    });
    // Only the device the capability names moved; the other browser's copy is still just sent.
    assert.equal(receipts.find((r) => r.channel === 'webpush' && r.device === alice.browserIds[1]).state, 'sent');
    const inbox = await h.api('GET', `/api/v1/messages/${id}`, { token: alice.token });
    assert.equal(inbox.body.state.read, null, 'delivered is not read');
    assert.notEqual(inbox.body.state.delivered, null);
  });

  it('refuses a capability once its message expired', async () => {
    const token = await h.token('cap-expiry');
    const sub = push.subscription();
    await h.api('POST', '/api/v1/native/subscribe', { token, body: sub });
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'short-lived', uid: 'cap-expiry', opts: { ttl: 2 } } });
    const record = await messagePush(sub.endpoint, sent.body.id);
    await eventually(async () => (await withCapability(record.payload.receipt, 'delivered')).status === 401, 10_000, 'the capability to expire');
  });

  it('a click reported with a capability closes the copies on the other browser and the phone, not on the clicking one', async () => {
    const bob = await userWithDevices('quiet-bob');
    const endpoints = bob.browsers.map((b) => b.endpoint);
    const { id, records } = await sendAndWait('quiet-bob', endpoints, bob.android, { topic: 'chat-7' });
    const receiptsBefore = (await receiptsOf(id)).length;

    assert.equal((await withCapability(records[0]?.payload.receipt, 'clicked')).status, 204);
    const [close] = await push.waitFor((r) => r.payload?.type === 'close' && r.payload.id === id, 20_000);
    assert.equal(push.idOf(endpoints[1] as string), close?.id, 'the other browser is told to close it');
    assert.deepEqual(close?.payload, { type: 'close', id, tag: 'chat-7', reason: 'read' });
    assert.equal(close?.headers.topic, null, 'no Topic: it must not replace a newer message of the topic at the push service');
    const update = await eventually(async () => fcm.received.find((r) => r.token === bob.android && r.message.data.type === 'close'), 20_000, 'fcm close');
    assert.deepEqual(update.message.data, { type: 'close', id, tag: 'chat-7', reason: 'read' });
    assert.equal(update.message.notification, undefined, 'a data-only update, nothing shown');
    assert.equal(update.message.android.collapse_key, 'chat-7');

    const receipts = await eventually(async () => {
      const rs = await receiptsOf(id);
      return rs.some((r) => r.device === bob.browserIds[0] && r.state === 'clicked') ? rs : undefined;
    });
    // The clicking browser got no close; nothing of the withdrawal is a receipt.
    assert.equal(pushesTo(endpoints[0] as string, (r) => r.payload?.type === 'close').length, 0);
    assert.equal(receipts.length, receiptsBefore, 'the click moved a receipt, the withdrawals added none');
    assert.equal(receipts.filter((r) => r.channel === 'fcm')[0].state, 'sent');
    // Counted as withdrawals, by channel and result, not as deliveries.
    const metric = async (series: string) => {
      const text = await (await fetch(`${h.url}/metrics`)).text();
      return Number(
        text
          .split('\n')
          .find((line) => line.startsWith(`${series} `))
          ?.split(' ')[1] ?? 0,
      );
    };
    await eventually(async () => (await metric('herald_withdrawals_total{channel="webpush",result="sent"}')) >= 1, 10_000, 'webpush withdrawals counted');
    await eventually(async () => (await metric('herald_withdrawals_total{channel="fcm",result="sent"}')) >= 1, 10_000, 'fcm withdrawals counted');
    const inbox = await h.api('GET', `/api/v1/messages/${id}`, { token: bob.token });
    assert.notEqual(inbox.body.state.read, null, 'a click reads the message');
  });

  it('a read frame quiets the other sockets and every device, and a device without a copy gets nothing', async () => {
    const carol = await userWithDevices('quiet-carol');
    const endpoints = carol.browsers.map((b) => b.endpoint);
    const { id } = await sendAndWait('quiet-carol', endpoints, carol.android);
    // A third browser registered after the message: it has no copy to close.
    const late = push.subscription();
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: carol.token, body: late })).status, 201);

    const [reader, other] = [await h.socket('quiet-carol'), await h.socket('quiet-carol')];
    try {
      reader.send({ type: 'read', ids: [id] });
      const frame = await other.next((f) => f.type === 'read');
      assert.deepEqual(frame, { type: 'read', ids: [id] });
      const closes = await push.waitFor((r) => r.payload?.type === 'close' && r.payload.id === id, 20_000, 2);
      assert.deepEqual(new Set(closes.map((r) => r.id)), new Set(endpoints.map((e) => push.idOf(e))));
      assert.equal(closes[0]?.payload.tag, id, 'without a topic the tag is the message id');
      await eventually(async () => fcm.received.find((r) => r.token === carol.android && r.message.data.type === 'close'), 20_000, 'fcm close');
      // The reading socket got no read frame of its own; the late browser no close.
      assert.equal(reader.frames.filter((f) => f.type === 'read').length, 0);
      assert.equal(pushesTo(late.endpoint, () => true).length, 0);

      // Read again (REST, which emits before it answers): nothing is withdrawn a second time.
      // The pong to a ping sent after it comes after any frame the read would have sent.
      assert.equal((await h.api('POST', '/api/v1/receipts', { token: carol.token, body: { ids: [id], state: 'clicked' } })).status, 204);
      for (const socket of [reader, other]) {
        socket.send({ type: 'ping' });
        await socket.next((f) => f.type === 'pong');
      }
      assert.equal(reader.frames.filter((f) => f.type === 'read').length, 0);
      assert.equal(other.frames.filter((f) => f.type === 'read').length, 1, 'no second read frame for a message read already');
    } finally {
      reader.close();
      other.close();
    }
  });

  it('a withdrawal the push service throttles waits for its Retry-After and is sent again, like a delivery', async () => {
    const dana = await userWithDevices('quiet-dana');
    const endpoints = dana.browsers.map((b) => b.endpoint);
    const { id, records } = await sendAndWait('quiet-dana', endpoints, dana.android);
    push.answer(push.idOf(endpoints[1] as string), [{ status: 429, retryAfter: 1 }]);
    const receiptsBefore = await receiptsOf(id);
    assert.equal((await withCapability(records[0]?.payload.receipt, 'read')).status, 204);
    const closes = await push.waitFor((r) => r.payload?.type === 'close' && r.payload.id === id, 20_000, 2);
    assert.deepEqual(
      closes.map((r) => r.status),
      [429, 201],
    );
    const after = await receiptsOf(id);
    assert.equal(after.length, receiptsBefore.length, 'neither attempt is a receipt');
    assert.equal(after.find((r) => r.device === dana.browserIds[1]).state, 'sent');
  });

  it('renews a rotated subscription once with the renewal capability of its last push', async () => {
    const token = await h.token('renewer');
    const [old, rotated, other] = [push.subscription(), push.subscription(), push.subscription()];
    const registered = await h.api('POST', '/api/v1/native/subscribe', { token, body: old });
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'first', uid: 'renewer' } });
    const { payload } = await messagePush(old.endpoint, sent.body.id);
    const renew = (capability: string, subscription: unknown) => h.api('POST', '/api/v1/native/renew', { body: { capability, subscription } });

    for (const bad of [payload.receipt, `${payload.renew}x`]) assert.equal((await renew(bad, rotated)).status, 401);
    const refused = await renew(payload.renew, { ...rotated, endpoint: 'ftp://127.0.0.1/push/x' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errors[0].path, 'subscription.endpoint');

    const renewed = await renew(payload.renew, rotated);
    assert.equal(renewed.status, 201, JSON.stringify(renewed.body));
    const devices = (await h.api('GET', '/api/v1/devices', { token })).body.devices.map((d: any) => d.id);
    assert.deepEqual(devices, [renewed.body.id], 'the new subscription took the old one place');
    assert.notEqual(renewed.body.id, registered.body.id);
    assert.equal((await renew(payload.renew, other)).status, 401, 'a renewal capability works once');

    const next = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'second', uid: 'renewer' } });
    await messagePush(rotated.endpoint, next.body.id);
    assert.equal(pushesTo(old.endpoint, (r) => r.payload?.id === next.body.id).length, 0);
  });
});
