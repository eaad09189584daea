/**
 * What a caller reads and removes of its own through real HTTP, and that it never reaches
 * another user's:
 *  - GET /api/v1/messages/count?state=unread equals what paging GET /api/v1/messages?state=unread
 *    lists, before and after a message is read; `state` is required and named when wrong;
 *  - GET /api/v1/devices lists the caller's devices without tokens, endpoints or keys;
 *    DELETE /api/v1/devices/{id} removes one of the caller's, another user's id is 404 (and stays);
 *    hostile ids are 400 naming `id` or 404, never a 500;
 *  - GET /api/v1/users/{uid}: the user itself and admins, another user's is 404;
 *  - two renewals racing with one renewal capability: one replaces the subscription, the other
 *    is 401 (the stores held so that both read the old device before either writes);
 *  - a device removed while its push waits for a retry: the retry fails `device-removed` and
 *    nothing more reaches the push service (the real CLI against the loopback push service).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCapabilities } from '../../src/auth/capabilities.js';
import { createMemoryTicketLedger } from '../../src/ticket-ledger/memory/ledger.js';
import { type PushServiceFake, pushServiceClientEnv, startPushService } from '../fakes/push-service.js';
import { eventually, startChild, startInProcess } from '../helpers/herald.js';
import { unreachableSubscription } from '../helpers/subscriptions.js';

const TICKET_SECRET = 'own-resources-ticket-secret-0123456789abcdef';

describe("the caller's own inbox count, devices and profile", () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess({ HERALD_WEBPUSH_ALLOW_PRIVATE: 'true', HERALD_TICKET_SECRET: TICKET_SECRET });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  /** Every id GET /api/v1/messages?state=unread lists for `token`, paging by 2 to the end. */
  const unreadPaged = async (token: string): Promise<string[]> => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await h.api('GET', `/api/v1/messages?state=unread&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      seen.push(...res.body.messages.map((m: any) => m.id));
      cursor = res.body.next;
    } while (cursor);
    return seen;
  };
  const count = async (token: string): Promise<number> => {
    const res = await h.api('GET', '/api/v1/messages/count?state=unread', { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.count;
  };

  it('lets one of two renewals racing with one capability through', async () => {
    const token = await h.token('racer');
    const old = unreachableSubscription('racer-old');
    const registered = await h.api('POST', '/api/v1/native/subscribe', { token, body: old });
    assert.equal(registered.status, 201);
    // The capability the device's pushes carry (signed with the ticket secret, as triage signs it).
    const capability = await createCapabilities(TICKET_SECRET, { ledger: createMemoryTicketLedger() }).renewal('racer', registered.body.id, old.endpoint);
    // The interleaving: both renewals have read the old device before either writes its replacement.
    const devices = h.herald.stores.devices;
    const [get, register] = [devices.get.bind(devices), devices.register.bind(devices)];
    let reads = 0;
    devices.get = async (uid, id) => {
      if (uid === 'racer') reads += 1;
      return get(uid, id);
    };
    devices.register = async (uid, device, id, at) => {
      if (uid === 'racer') await eventually(async () => reads >= 2, 5_000, 'both renewals read the old device');
      return register(uid, device, id, at);
    };
    try {
      const answers = await Promise.all(
        ['racer-mine', 'racer-theirs'].map((path) =>
          h.api('POST', '/api/v1/native/renew', { body: { capability, subscription: unreachableSubscription(path) } }),
        ),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [201, 401], JSON.stringify(answers.map((a) => a.body)));
      const listed = (await h.api('GET', '/api/v1/devices', { token })).body.devices.map((d: any) => d.id);
      assert.deepEqual(listed, [answers.find((a) => a.status === 201)?.body.id], 'one subscription took the old one place');
    } finally {
      Object.assign(devices, { get, register });
    }
  });

  it('marks all read: every unread message of the caller, more than a page of them, and nobody else’s', async () => {
    const token = await h.token('all-reader');
    const ids: string[] = [];
    const multicast = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'to both', uids: ['all-reader', 'all-neighbour'] } });
    for (let i = 0; i < 204; i++) ids.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg: `a${i}`, uid: 'all-reader' } })).body.id);
    ids.push(multicast.body.id);
    await eventually(async () => (await count(token)) === 205, 20_000, '205 unread');
    const neighbour = await h.token('all-neighbour');
    await eventually(async () => (await count(neighbour)) === 1, 10_000, 'the neighbour has one');

    const refused = await h.api('POST', '/api/v1/receipts', { token, body: { all: true, state: 'delivered' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errors[0].path, 'state');

    assert.equal((await h.api('POST', '/api/v1/receipts', { token, body: { all: true, state: 'read' } })).status, 204);
    assert.equal(await count(token), 0);
    assert.deepEqual(await unreadPaged(token), []);
    assert.equal(await count(neighbour), 1, 'the other recipient of the multicast keeps it unread');
    for (const id of [ids[0], ids[203], multicast.body.id]) {
      const detail = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
      const read = detail.body.receipts.find((r: any) => r.uid === 'all-reader' && r.channel === 'inbox' && r.state === 'read');
      assert.ok(read, `a read receipt for ${id}: ${JSON.stringify(detail.body.receipts)}`);
    }
    // A message that arrives afterwards is unread.
    await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'later', uid: 'all-reader' } });
    await eventually(async () => (await count(token)) === 1, 10_000, 'the later one unread');
  });

  it('counts the unread messages the unread pages list, before and after one is read', async () => {
    const token = await h.token('counted');
    const other = await h.token('counted-neighbour');
    assert.equal(await count(token), 0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg: `c${i}`, uid: 'counted' } })).body.id);
    await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'not yours', uid: 'counted-neighbour' } });
    await eventually(async () => (await unreadPaged(token)).length === 5, 10_000, 'five unread');
    assert.equal(await count(token), 5);

    const read = await h.api('POST', '/api/v1/receipts', { token, body: { ids: [ids[1], ids[3]], state: 'read' } });
    assert.equal(read.status, 204);
    // Delivered is not read.
    await h.api('POST', '/api/v1/receipts', { token, body: { ids: [ids[0]], state: 'delivered' } });
    const unread = await unreadPaged(token);
    assert.deepEqual(unread, [ids[4], ids[2], ids[0]]);
    assert.equal(await count(token), unread.length);
    // Another user's count is its own; marking someone else's ids changes nothing.
    await eventually(async () => (await count(other)) === 1, 10_000, 'neighbour has one');
    await h.api('POST', '/api/v1/receipts', { token: other, body: { ids: [ids[4]], state: 'read' } });
    assert.equal(await count(token), 3);
    assert.equal(await count(other), 1);
  });

  it('requires state=unread and names the parameter otherwise', async () => {
    const token = await h.token('count-asker');
    for (const query of ['', '?state=all', '?state=', '?state=UNREAD', `?state=${'u'.repeat(5000)}`]) {
      const res = await h.api('GET', `/api/v1/messages/count${query}`, { token });
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'HERALD_INVALID_REQUEST');
      assert.deepEqual(
        res.body.errors.map((e: any) => e.path),
        ['state'],
        query,
      );
    }
    const unknown = await h.api('GET', '/api/v1/messages/count?state=unread&uid=someone-else', { token });
    assert.equal(unknown.status, 400);
    assert.ok(
      unknown.body.errors.some((e: any) => e.path === 'uid' || e.path === '(body)'),
      JSON.stringify(unknown.body),
    );
    assert.equal((await h.api('GET', '/api/v1/messages/count?state=unread')).status, 401);
  });

  it("lists the caller's devices without tokens, endpoints or keys", async () => {
    const token = await h.token('lister');
    const ios = { os: 'ios', token: 'b'.repeat(64) };
    const android = { os: 'android', token: 'fcm-secret-token:abcdefghijklmnopqrstuvwxyz' };
    const web = unreachableSubscription('secret-path-1');
    const ids: string[] = [];
    for (const body of [ios, android, web]) {
      const res = await h.api('POST', '/api/v1/native/subscribe', { token, body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    const res = await h.api('GET', '/api/v1/devices', { token });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.devices.map((d: any) => ({ id: d.id, kind: d.kind, origin: d.origin })),
      [
        { id: ids[0], kind: 'ios', origin: undefined },
        { id: ids[1], kind: 'android', origin: undefined },
        { id: ids[2], kind: 'web', origin: 'https://127.0.0.1:1' },
      ],
    );
    for (const device of res.body.devices) assert.ok(!Number.isNaN(Date.parse(device.createdAt)), device.createdAt);
    const text = JSON.stringify(res.body);
    for (const secret of [ios.token, android.token, web.endpoint, 'secret-path', web.keys.p256dh, web.keys.auth]) {
      assert.ok(!text.includes(secret), `the listing leaks ${secret}`);
    }
    // Another user sees only its own (none); no token is 401.
    assert.deepEqual((await h.api('GET', '/api/v1/devices', { token: await h.token('lister-neighbour') })).body, { devices: [] });
    assert.equal((await h.api('GET', '/api/v1/devices')).status, 401);
  });

  it("removes the caller's own device by id; another user's is 404 and stays", async () => {
    const owner = await h.token('remover');
    const intruder = await h.token('remover-intruder');
    const kept = (await h.api('POST', '/api/v1/native/subscribe', { token: owner, body: { os: 'ios', token: 'c'.repeat(64) } })).body.id;
    const removed = (await h.api('POST', '/api/v1/native/subscribe', { token: owner, body: unreachableSubscription('secret-path-2') })).body.id;
    const theirs = (await h.api('POST', '/api/v1/native/subscribe', { token: intruder, body: { os: 'ios', token: 'd'.repeat(64) } })).body.id;

    const stolen = await h.api('DELETE', `/api/v1/devices/${kept}`, { token: intruder });
    assert.equal(stolen.status, 404);
    assert.equal(stolen.body.code, 'HERALD_NOT_FOUND');
    const unknown = await h.api('DELETE', `/api/v1/devices/${randomUUID()}`, { token: owner });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.detail.replace(/[0-9a-f-]{36}/, '<id>'), stolen.body.detail.replace(/[0-9a-f-]{36}/, '<id>'), 'nothing tells the two apart');

    assert.equal((await h.api('DELETE', `/api/v1/devices/${removed}`, { token: owner })).status, 204);
    assert.equal((await h.api('DELETE', `/api/v1/devices/${removed}`, { token: owner })).status, 404);
    const left = await h.api('GET', '/api/v1/devices', { token: owner });
    assert.deepEqual(
      left.body.devices.map((d: any) => d.id),
      [kept],
    );
    assert.deepEqual(
      (await h.api('GET', '/api/v1/devices', { token: intruder })).body.devices.map((d: any) => d.id),
      [theirs],
    );
    // The kept device is still registered: registering it again is 200 with its id.
    const again = await h.api('POST', '/api/v1/native/subscribe', { token: owner, body: { os: 'ios', token: 'c'.repeat(64) } });
    assert.deepEqual([again.status, again.body.id], [200, kept]);
    assert.equal((await h.api('DELETE', `/api/v1/devices/${kept}`)).status, 401);
  });

  it('answers hostile device ids with a 400 naming id, or a 404, never a 500', async () => {
    const token = await h.token('hostile-ids');
    const cases: Array<[string, number]> = [
      ['not-a-uuid', 400],
      [encodeURIComponent("'; DROP TABLE devices; --"), 400],
      ['%00', 400],
      [encodeURIComponent('\u202e\u0000😀'), 400],
      ['x'.repeat(4000), 400],
      [randomUUID().toUpperCase(), 404],
      ['%zz', 400],
    ];
    for (const [id, status] of cases) {
      const res = await h.api('DELETE', `/api/v1/devices/${id}`, { token });
      assert.equal(res.status, status, `${id.slice(0, 40)}: ${JSON.stringify(res.body)}`);
      if (status === 400)
        assert.deepEqual(
          res.body.errors?.map((e: any) => e.path),
          ['id'],
          id.slice(0, 40),
        );
    }
  });

  it('shows a user to itself and to admins; another user is 404, never 403', async () => {
    await h.api('PUT', '/api/v1/users/profiled', { token: admin, body: { email: 'p@example.com', attributes: { plan: 'pro' } } });
    const self = await h.api('GET', '/api/v1/users/profiled', { token: await h.token('profiled') });
    assert.equal(self.status, 200, JSON.stringify(self.body));
    assert.equal(self.body.uid, 'profiled');
    assert.equal(self.body.email, 'p@example.com');
    assert.deepEqual(self.body.attributes, { plan: 'pro' });
    const byAdmin = await h.api('GET', '/api/v1/users/profiled', { token: admin });
    assert.equal(byAdmin.status, 200);
    assert.deepEqual(byAdmin.body, self.body, 'the same view for both');

    const other = await h.api('GET', '/api/v1/users/profiled', { token: await h.token('nosy') });
    assert.equal(other.status, 404);
    assert.equal(other.body.code, 'HERALD_NOT_FOUND');
    assert.ok(!JSON.stringify(other.body).includes('p@example.com'));
    const unknownToAdmin = await h.api('GET', '/api/v1/users/never-seen', { token: admin });
    assert.equal(unknownToAdmin.status, 404);
    // A user that never was PUT still reads itself (it exists from its first request).
    const fresh = await h.api('GET', '/api/v1/users/fresh-face', { token: await h.token('fresh-face') });
    assert.equal(fresh.status, 200);
    assert.deepEqual({ uid: fresh.body.uid, email: fresh.body.email, attributes: fresh.body.attributes }, { uid: 'fresh-face', email: null, attributes: {} });

    const bad = await h.api('GET', `/api/v1/users/${encodeURIComponent('has space')}`, { token: admin });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.errors.map((e: any) => e.path),
      ['uid'],
    );
    assert.equal((await h.api('GET', `/api/v1/users/${'u'.repeat(4000)}`, { token: admin })).status, 400);
    assert.equal((await h.api('GET', '/api/v1/users/%zz', { token: admin })).status, 400);
    assert.equal((await h.api('GET', '/api/v1/users/profiled')).status, 401);
  });
});

describe('a device removed while its push waits', () => {
  let fake: PushServiceFake;
  before(async () => {
    fake = await startPushService();
  });
  after(async () => {
    await fake?.close();
  });

  it('fails the waiting retry device-removed, and nothing more reaches the push service', async () => {
    const h = await startChild(pushServiceClientEnv());
    try {
      const admin = await h.token('ops', { admin: true });
      const token = await h.token('waiting-wes');
      const sub = fake.subscription();
      const subId = fake.idOf(sub.endpoint);
      const device = (await h.api('POST', '/api/v1/native/subscribe', { token, body: sub })).body.id;
      // Long enough that the retry still waits when the device is removed.
      fake.answer(subId, [{ status: 503, retryAfter: 5 }]);
      const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'after removal', uid: 'waiting-wes', opts: { urgency: 'high' } } });
      assert.equal(sent.status, 202);
      const id = sent.body.id;
      await fake.waitFor((r) => r.id === subId && r.payload?.id === id && r.status === 503);
      const webpush = async () =>
        ((await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts ?? []).find((r: any) => r.channel === 'webpush' && r.device === device);
      await eventually(async () => (await webpush())?.state === 'queued', 10_000, 'the push queued for its retry');

      assert.equal((await h.api('DELETE', `/api/v1/devices/${device}`, { token })).status, 204);
      const failed = await eventually(
        async () => {
          const receipt = await webpush();
          return receipt?.state === 'failed' ? receipt : undefined;
        },
        20_000,
        'the retry failed',
      );
      assert.equal(failed.reason, 'device-removed');
      // The retry ran and failed without a request: the push service saw the first attempt only.
      assert.deepEqual(
        fake
          .recordsFor(subId)
          .filter((r) => r.payload?.id === id)
          .map((r) => r.status),
        [503],
      );
    } finally {
      await h.kill('SIGTERM');
    }
  });
});
