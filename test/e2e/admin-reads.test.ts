/** The admin reads behind the console: live stats, scheduled messages, audience size, a user's devices, preferences and inbox. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startInProcess } from '../helpers/herald.js';

describe('admin reads', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess();
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('refuses every admin read to a user token, as problem+json', async () => {
    const user = await h.token('nosy');
    for (const [method, path] of [
      ['GET', '/api/v1/admin/stats'],
      ['GET', '/api/v1/messages/scheduled'],
      ['POST', '/api/v1/audience/count'],
      ['GET', '/api/v1/users/nosy/devices'],
      ['GET', '/api/v1/users/nosy/preferences'],
      ['GET', '/api/v1/users/nosy/messages'],
    ] as const) {
      const res = await h.api(method, path, { token: user, ...(method === 'POST' ? { body: { everyone: true } } : {}) });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal((await h.api(method, path, {})).status, 401, `${method} ${path} without a token`);
    }
  });

  it('counts accepted messages by urgency and live sockets in the stats', async () => {
    const first = await h.api('GET', '/api/v1/admin/stats', { token: admin });
    assert.equal(first.status, 200);
    const acceptedHigh = (body: any) => body.accepted.find((row: any) => row.urgency === 'high').total as number;
    const before = acceptedHigh(first.body);
    assert.deepEqual(
      first.body.accepted.map((row: any) => row.urgency),
      ['very-low', 'low', 'normal', 'high'],
    );
    const socket = await h.socket('stats-watcher');
    await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'stats-watcher', msg: 'counted', opts: { urgency: 'high' } } });
    await socket.next((frame) => frame.type === 'message' && frame.msg === 'counted');
    // The delivery is counted once the channel reports it, just after the frame leaves.
    const later = await eventually(async () => {
      const res = await h.api('GET', '/api/v1/admin/stats', { token: admin });
      return res.body.deliveries.some((row: any) => row.channel === 'realtime' && row.total >= 1) && res;
    });
    assert.equal(acceptedHigh(later.body), before + 1);
    assert.ok(later.body.sockets >= 1);
    assert.ok(later.body.deliveries.some((row: any) => row.channel === 'realtime' && row.total >= 1));
    assert.ok(Array.isArray(later.body.queues));
    socket.close();
  });

  it('lists scheduled messages newest first, paged, and leaves them out once their time comes', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'later', msg: `later ${n}`, opts: { at } } });
      assert.equal(res.status, 202);
      ids.push(res.body.id);
    }
    const immediate = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'later', msg: 'now' } });
    const page1 = await h.api('GET', '/api/v1/messages/scheduled?limit=2', { token: admin });
    assert.equal(page1.status, 200);
    assert.deepEqual(
      page1.body.messages.map((m: any) => m.id),
      [ids[2], ids[1]],
    );
    assert.equal(page1.body.messages[0].scheduledFor, new Date(at).toISOString());
    assert.deepEqual(page1.body.messages[0].target, { kind: 'user', uid: 'later' });
    const page2 = await h.api('GET', `/api/v1/messages/scheduled?limit=2&cursor=${page1.body.next}`, { token: admin });
    assert.deepEqual(
      page2.body.messages.map((m: any) => m.id),
      [ids[0]],
    );
    assert.equal(page2.body.next, null);
    assert.ok(!page2.body.messages.some((m: any) => m.id === immediate.body.id));

    const soon = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'later', msg: 'soon', opts: { delay: 1 } } });
    const listed = async () => (await h.api('GET', '/api/v1/messages/scheduled', { token: admin })).body.messages.some((m: any) => m.id === soon.body.id);
    assert.equal(await listed(), true);
    await eventually(async () => !(await listed()), 10_000, 'the due message left the list');

    const bad = await h.api('GET', '/api/v1/messages/scheduled?cursor=nope&limit=0', { token: admin });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors.map((e: any) => e.path).sort(), ['cursor', 'limit']);
  });

  it('counts an audience and everyone before sending', async () => {
    await h.api('PUT', '/api/v1/users/count-a', { token: admin, body: { attributes: { team: 'counted' } } });
    await h.api('PUT', '/api/v1/users/count-b', { token: admin, body: { attributes: { team: 'counted' } } });
    await h.api('PUT', '/api/v1/users/count-c', { token: admin, body: { attributes: { team: 'other' } } });
    const counted = await eventually(async () => {
      const res = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { audience: { where: { team: 'counted' } } } });
      return res.body.count === 2 && res;
    });
    assert.deepEqual(counted.body, { count: 2, capped: false });
    const socket = await h.socket('count-a');
    const online = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { audience: { where: { team: 'counted' }, online: true } } });
    assert.deepEqual(online.body, { count: 1, capped: false });
    socket.close();

    const everyone = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { everyone: true } });
    assert.equal(everyone.status, 200);
    assert.ok(everyone.body.count >= 3);
    assert.equal(everyone.body.capped, false);

    const bad = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { audience: { where: {} } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].path, 'audience.where');
    const notEveryone = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { everyone: false } });
    assert.equal(notEveryone.status, 400);
    assert.equal(notEveryone.body.errors[0].path, 'everyone');
  });

  it("reads a user's devices, preferences and inbox by uid", async () => {
    const userToken = await h.token('looked-up');
    await h.api('PUT', '/api/v1/preferences', { token: userToken, body: { channels: { email: false }, categories: { promo: { enabled: false } } } });
    await h.api('POST', '/api/v1/native/subscribe', { token: userToken, body: { os: 'ios', token: 'b'.repeat(64) } });
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'looked-up', msg: 'for the lookup' } });
    await h.triaged(sent.body.id);

    const devices = await h.api('GET', '/api/v1/users/looked-up/devices', { token: admin });
    assert.equal(devices.status, 200);
    assert.deepEqual(
      devices.body.devices.map((d: any) => d.kind),
      ['ios'],
    );
    assert.ok(!JSON.stringify(devices.body).includes('b'.repeat(64)), 'no device token');
    const prefs = await h.api('GET', '/api/v1/users/looked-up/preferences', { token: admin });
    assert.deepEqual(prefs.body, { channels: { email: false }, categories: { promo: { enabled: false } }, quietHours: null });
    const inbox = await h.api('GET', '/api/v1/users/looked-up/messages?limit=10', { token: admin });
    assert.equal(inbox.status, 200);
    assert.equal(inbox.body.messages[0].id, sent.body.id);
    assert.equal(inbox.body.messages[0].msg, 'for the lookup');

    assert.equal((await h.api('GET', '/api/v1/users/bad%20uid/messages', { token: admin })).status, 400);
    assert.equal((await h.api('GET', '/api/v1/users/looked-up/messages?state=gone', { token: admin })).body.errors[0].path, 'state');
  });
});
