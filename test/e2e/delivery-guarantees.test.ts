/**
 * Nothing accepted is lost or repeated, per device: the real CLI (`herald serve`) against the
 * loopback push service, stopped (SIGTERM) or killed (SIGKILL) and started again on the same
 * data dir.
 *  - A web push waiting for its retry (the push service answered 503 / 429) keeps its device
 *    across a restart and is delivered to that same subscription exactly once afterwards.
 *  - A user with two subscriptions gets one push on each, with a receipt per device.
 *  - A kill -9 while one device's push is still in flight does not repeat the push to the
 *    device that already got it; the other is sent after the restart.
 *  - Recovery sends a queued push to the device its receipt names; one whose device is gone
 *    fails `device-removed` instead of waiting forever.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildMessage } from '../../src/exchange/message.js';
import { newId } from '../../src/ids.js';
import { migrate, openDatabase } from '../../src/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild, tempDataDir } from '../helpers/herald.js';

type Child = Awaited<ReturnType<typeof startChild>>;

describe('delivery guarantees per device across restarts', () => {
  let fake: PushServiceFake;
  const env = (dataDir: string) => ({
    HERALD_DATA_DIR: dataDir,
    NODE_EXTRA_CA_CERTS: testCertificate().certFile,
    // The push service fake listens on loopback (refused by the egress policy by default).
    HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
  });

  before(async () => {
    fake = await startPushService();
  });
  after(async () => {
    await fake?.close();
  });

  const subscribe = async (h: Child, uid: string): Promise<{ subId: string; deviceId: string }> => {
    const sub = fake.subscription();
    const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: sub });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { subId: fake.idOf(sub.endpoint), deviceId: res.body.id };
  };

  const send = async (h: Child, uid: string, msg: string): Promise<string> => {
    const admin = await h.token('ops', { admin: true });
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid, opts: { urgency: 'high' } } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  };

  const webpushReceipts = async (h: Child, id: string): Promise<Array<{ device: string | null; state: string; reason: string | null }>> => {
    const res = await h.api('GET', `/api/v1/messages/${id}`, { token: await h.token('ops', { admin: true }) });
    return (res.body.receipts ?? []).filter((r: any) => r.channel === 'webpush');
  };

  const waitForStates = (h: Child, id: string, expected: Record<string, string>) =>
    eventually(
      async () => {
        const receipts = await webpushReceipts(h, id);
        const states = Object.fromEntries(receipts.map((r) => [r.device, r.state]));
        return receipts.length === Object.keys(expected).length && Object.entries(expected).every(([d, s]) => states[d] === s) ? receipts : undefined;
      },
      20_000,
      `webpush receipts ${JSON.stringify(expected)} for ${id}`,
    );

  /** Pushes of message `id` that reached subscription `subId`, as [status] in order. */
  const pushesOf = (subId: string, id: string) => fake.recordsFor(subId).filter((r) => r.payload?.id === id);

  it('a push waiting for its retry (503, then 429 on another device) is sent once to the same subscriptions after a restart', async () => {
    const dataDir = tempDataDir();
    const first = await startChild(env(dataDir));
    let second: Child | undefined;
    try {
      const a = await subscribe(first, 'retry-ann');
      const b = await subscribe(first, 'retry-ann');
      // Long enough that the retries are still waiting when the process stops.
      fake.answer(a.subId, [{ status: 503, retryAfter: 4 }]);
      fake.answer(b.subId, [{ status: 429, retryAfter: 4 }]);
      const id = await send(first, 'retry-ann', 'survives a restart');
      await fake.waitFor((r) => r.id === a.subId && r.payload?.id === id && r.status === 503);
      await fake.waitFor((r) => r.id === b.subId && r.payload?.id === id && r.status === 429);
      // Both wait for their retry, each queued on its own device.
      await waitForStates(first, id, { [a.deviceId]: 'queued', [b.deviceId]: 'queued' });

      const exit = await first.kill('SIGTERM');
      assert.equal(exit.code, 0, first.stderr());
      second = await startChild(env(dataDir));
      await waitForStates(second, id, { [a.deviceId]: 'sent', [b.deviceId]: 'sent' });
      // Past the time the retries were due before the restart: still one push each after it.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      assert.deepEqual(
        pushesOf(a.subId, id).map((r) => r.status),
        [503, 201],
      );
      assert.deepEqual(
        pushesOf(b.subId, id).map((r) => r.status),
        [429, 201],
      );
      const receipts = await webpushReceipts(second, id);
      assert.equal(receipts.length, 2, JSON.stringify(receipts));
      assert.ok(!receipts.some((r) => r.state === 'failed'), JSON.stringify(receipts));
    } finally {
      await first.kill('SIGKILL');
      await second?.kill('SIGTERM');
    }
  });

  it('recovery sends a queued push to the device its receipt names, and fails one whose device was removed', async () => {
    const dataDir = tempDataDir();
    const db = openDatabase(path.join(dataDir, 'herald.db'));
    migrate(db);
    const stores = createSqliteStores(db);
    const now = Date.now();
    const sub = fake.subscription();
    await stores.devices.register('rec-dan', { kind: 'web', token: sub.endpoint, keys: sub.keys, expirationTime: null }, 'dev-live', now);
    const message = buildMessage({
      id: newId(),
      sender: 'ops',
      target: { kind: 'user', uid: 'rec-dan' },
      msg: 'queued before the crash',
      opts: undefined,
      now,
    });
    await stores.messages.insert({ message, status: 'triaged' });
    await stores.inbox.add(['rec-dan'], message);
    // Triage queued a push per device, then the process died before either was sent.
    await stores.receipts.record([
      { messageId: message.id, uid: 'rec-dan', channel: 'webpush', device: 'dev-live', state: 'queued', at: now },
      { messageId: message.id, uid: 'rec-dan', channel: 'webpush', device: 'dev-gone', state: 'queued', at: now },
    ]);
    db.close();

    const h = await startChild(env(dataDir));
    try {
      await fake.waitFor((r) => r.id === fake.idOf(sub.endpoint) && r.payload?.id === message.id && r.status === 201);
      const receipts = await waitForStates(h, message.id, { 'dev-live': 'sent', 'dev-gone': 'failed' });
      assert.equal(receipts.find((r) => r.device === 'dev-gone')?.reason, 'device-removed');
    } finally {
      await h.kill('SIGTERM');
    }
  });

  it('two devices on one channel get one push each, with a receipt per device', async () => {
    const h = await startChild(env(tempDataDir()));
    try {
      const a = await subscribe(h, 'two-bea');
      const b = await subscribe(h, 'two-bea');
      const id = await send(h, 'two-bea', 'one each');
      await waitForStates(h, id, { [a.deviceId]: 'sent', [b.deviceId]: 'sent' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(pushesOf(a.subId, id).length, 1);
      assert.equal(pushesOf(b.subId, id).length, 1);
      // Reports count a push per device.
      const admin = await h.token('ops', { admin: true });
      const report = await h.api('GET', '/api/v1/reports?groupBy=channel', { token: admin });
      assert.equal(report.status, 200, JSON.stringify(report.body));
      const webpush = report.body.rows.find((r: any) => r.key === 'webpush');
      // queued + sent for each of the two devices.
      assert.equal(webpush?.count, 4, JSON.stringify(report.body.rows));
    } finally {
      await h.kill('SIGTERM');
    }
  });

  it('a kill -9 while one device is still being pushed does not repeat the push to the device that got it', async () => {
    const dataDir = tempDataDir();
    const first = await startChild(env(dataDir));
    let second: Child | undefined;
    try {
      const fast = await subscribe(first, 'crash-cid');
      const slow = await subscribe(first, 'crash-cid');
      // The slow device's push service holds its answer: the process dies while it is in flight.
      fake.answer(slow.subId, [{ status: 201, delayMs: 10_000 }]);
      const id = await send(first, 'crash-cid', 'no repeats');
      await fake.waitFor((r) => r.id === fast.subId && r.payload?.id === id && r.status === 201);
      // The fast device's receipt is written as soon as its push service answered.
      await waitForStates(first, id, { [fast.deviceId]: 'sent', [slow.deviceId]: 'queued' });
      assert.ok(fake.inFlight > 0, 'the slow push is still in flight');
      const exit = await first.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');

      second = await startChild(env(dataDir));
      await waitForStates(second, id, { [fast.deviceId]: 'sent', [slow.deviceId]: 'sent' });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(pushesOf(fast.subId, id).length, 1, 'the device that got the push before the crash does not get it again');
      // The slow one: pushed after the restart (its answer before the crash never reached Herald).
      assert.ok(
        pushesOf(slow.subId, id).some((r) => r.status === 201),
        JSON.stringify(fake.recordsFor(slow.subId)),
      );
    } finally {
      await first.kill('SIGKILL');
      await second?.kill('SIGTERM');
    }
  });
});
