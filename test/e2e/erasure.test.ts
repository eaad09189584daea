/**
 * The right to erasure through real HTTP and WebSocket (DELETE /api/v1/users/{uid}):
 *  - admin only (a user erasing itself or another is 403), a hostile uid is 400 naming `uid`;
 *  - 204, and then the profile, preferences, devices, inbox entries, receipts and search
 *    documents (audience, message search by uid) are gone, another recipient's stay;
 *  - the user's socket is closed with 4410;
 *  - a message scheduled to the user before the erasure fires afterwards and leaves nothing;
 *  - erasing again, or an unknown uid, is 204 too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startInProcess } from '../helpers/herald.js';
import { unreachableSubscription } from '../helpers/subscriptions.js';

describe('DELETE /api/v1/users/{uid}: the right to erasure', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess({ HERALD_WEBPUSH_ALLOW_PRIVATE: 'true' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('is for admins only and validates the uid', async () => {
    const user = await h.token('eve');
    for (const uid of ['eve', 'someone-else']) {
      const res = await h.api('DELETE', `/api/v1/users/${uid}`, { token: user });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
    assert.equal((await h.api('DELETE', '/api/v1/users/x')).status, 401);
    const hostile = await h.api('DELETE', `/api/v1/users/${encodeURIComponent('a'.repeat(500))}`, { token: admin });
    assert.equal(hostile.status, 400, JSON.stringify(hostile.body));
    assert.equal(hostile.body.errors[0].path, 'uid');
  });

  it("erases the user's data everywhere, closes its socket, and a message scheduled before leaves nothing", async () => {
    const erin = await h.token('erin');
    const plan = { plan: 'erasure-test' };
    assert.equal((await h.api('PUT', '/api/v1/users/erin', { token: admin, body: { email: 'erin@example.com', attributes: plan } })).status, 200);
    assert.equal((await h.api('PUT', '/api/v1/users/nora', { token: admin, body: { email: 'nora@example.com', attributes: plan } })).status, 200);
    assert.equal((await h.api('PUT', '/api/v1/preferences', { token: erin, body: { channels: { sms: false } } })).status, 200);
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: erin, body: unreachableSubscription('erasure-subscription') })).status, 201);
    const socket = await h.socket('erin');
    const noraSocket = await h.socket('nora');

    const single = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'erin', msg: 'erasure single' } });
    const shared = await h.api('POST', '/api/v1/multicast', { token: admin, body: { uids: ['erin', 'nora'], msg: 'erasure shared' } });
    await socket.next((f) => f.type === 'message' && f.id === shared.body.id);
    await noraSocket.next((f) => f.type === 'message' && f.id === shared.body.id);
    for (const id of [single.body.id, shared.body.id]) await h.triaged(id);
    // Read, so the receipt history holds more than `sent`.
    assert.equal((await h.api('POST', '/api/v1/receipts', { token: erin, body: { ids: [single.body.id], state: 'read' } })).status, 204);
    const scheduled = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'erin', msg: 'erasure scheduled', opts: { delay: 3 } } });
    assert.equal(scheduled.status, 202, JSON.stringify(scheduled.body));
    const receiptsOf = async (id: string) => (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts as Array<{ uid: string }>;
    assert.ok((await receiptsOf(single.body.id)).some((r) => r.uid === 'erin'));
    // The two sent and the scheduled one (indexed when accepted).
    assert.equal((await h.api('GET', '/api/v1/messages/search?q=erasure&uid=erin', { token: admin })).body.messages.length, 3);

    const erased = await h.api('DELETE', '/api/v1/users/erin', { token: admin });
    assert.equal(erased.status, 204, JSON.stringify(erased.body));
    assert.equal(erased.body, '');

    await socket.until(() => socket.closed !== undefined, 10_000, 'the socket closed');
    assert.deepEqual(socket.closed, { code: 4410, reason: 'user erased' });
    assert.equal((await h.api('GET', '/api/v1/users/erin', { token: admin })).status, 404);
    for (const id of [single.body.id, shared.body.id])
      assert.deepEqual(
        (await receiptsOf(id)).filter((r) => r.uid === 'erin'),
        [],
      );
    assert.ok(
      (await receiptsOf(shared.body.id)).some((r) => r.uid === 'nora'),
      "the other recipient's receipts stay",
    );
    assert.equal(noraSocket.closed, undefined, "the other recipient's socket stays open");
    assert.deepEqual((await h.api('GET', '/api/v1/messages/search?q=erasure&uid=erin', { token: admin })).body.messages, []);
    assert.deepEqual(
      (await h.api('GET', '/api/v1/messages/search?q=erasure&uid=nora', { token: admin })).body.messages.map((m: any) => m.id),
      [shared.body.id],
    );

    // An audience no longer finds the erased user.
    const audience = await h.api('POST', '/api/v1/multicast', { token: admin, body: { audience: { where: plan }, msg: 'erasure audience' } });
    assert.equal(audience.status, 202, JSON.stringify(audience.body));
    await h.triaged(audience.body.id);
    assert.deepEqual(
      (await receiptsOf(audience.body.id)).map((r) => r.uid).filter((uid) => uid !== 'nora'),
      [],
    );

    // The message scheduled before the erasure fires after it and writes nothing for erin.
    await h.triaged(scheduled.body.id);
    assert.deepEqual(await receiptsOf(scheduled.body.id), []);
    assert.equal((await h.api('GET', '/api/v1/users/erin', { token: admin })).status, 404, 'triage did not re-create the user');

    // Coming back with a token starts a new, empty user: nothing of before is there.
    const back = await h.token('erin');
    assert.deepEqual((await h.api('GET', '/api/v1/messages', { token: back })).body.messages, []);
    // Its first request created the user anew (as any new user's), so broadcasts reach it again.
    const recreated = await h.api('GET', '/api/v1/users/erin', { token: admin });
    assert.equal(recreated.status, 200, 'the user exists again after its first request');
    assert.equal(recreated.body.email, null);
    assert.deepEqual((await h.api('GET', '/api/v1/devices', { token: back })).body.devices, []);
    const preferences = await h.api('GET', '/api/v1/preferences', { token: back });
    assert.deepEqual(preferences.body.channels, {});
    const profile = await h.api('GET', '/api/v1/users/erin', { token: back });
    assert.equal(profile.status, 200);
    assert.equal(profile.body.email ?? null, null);
    // Nora keeps hers.
    const nora = await h.token('nora');
    await eventually(async () => (await h.api('GET', '/api/v1/messages', { token: nora })).body.messages.length >= 1, 10_000, "nora's inbox");
    noraSocket.close();

    // Idempotent; an unknown uid is 204 too.
    assert.equal((await h.api('DELETE', '/api/v1/users/erin', { token: admin })).status, 204);
    assert.equal((await h.api('DELETE', '/api/v1/users/erin', { token: admin })).status, 204);
    assert.equal((await h.api('GET', '/api/v1/users/erin', { token: admin })).status, 404);
    assert.equal((await h.api('DELETE', '/api/v1/users/never-existed', { token: admin })).status, 204);
  });
});
