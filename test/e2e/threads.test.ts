/**
 * Threads and the everyone-timeline through real HTTP and WebSocket clients against a started
 * Herald:
 *  - membership over REST: admins add anyone; a user joins only threads HERALD_THREADS_SELF_JOIN
 *    opens, and never adds someone else; leaving; listings paged; hostile names refused as 400;
 *  - a thread message (POST /api/v1/multicast {"thread"}) is seen by the members at the time it is
 *    sent — not by a user who joins later, still by one who left after — and read state is each
 *    member's own; a member's live socket gets it; a member's browser gets its web push (the
 *    loopback push service, the real CLI), a non-member's does not;
 *  - a broadcast is seen by the users that existed when it was sent, not by one created after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { subjects } from '../../src/bus/port.js';
import { buildMessage } from '../../src/exchange/message.js';
import { newId } from '../../src/ids.js';
import { type PushServiceFake, pushServiceClientEnv, startPushService } from '../fakes/push-service.js';
import { eventually, startChild, startInProcess } from '../helpers/herald.js';

type Herald = Awaited<ReturnType<typeof startInProcess>>;

const listed = async (h: Pick<Herald, 'api'>, token: string, query = ''): Promise<string[]> => {
  const res = await h.api('GET', `/api/v1/messages?limit=200${query}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.messages.map((m: { id: string }) => m.id);
};
const unread = async (h: Pick<Herald, 'api'>, token: string): Promise<number> => {
  const res = await h.api('GET', '/api/v1/messages/count?state=unread', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.count;
};

describe('threads', () => {
  let h: Herald;
  let admin: string;
  const member = (thread: string, uid: string) => `/api/v1/threads/${encodeURIComponent(thread)}/members/${encodeURIComponent(uid)}`;
  const sendToThread = async (thread: string, msg: string) => {
    const res = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg, thread } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.recipients, null);
    await h.triaged(res.body.id);
    return res.body.id as string;
  };

  before(async () => {
    h = await startInProcess({ HERALD_THREADS_SELF_JOIN: 'public.*,lobby' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('admins add anyone; a user joins only open threads, never adds someone else, and may always leave', async () => {
    const token = await h.token('joiner');
    const added = await h.api('PUT', member('staff', 'joiner'), { token: admin });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.thread, 'staff');
    assert.equal(added.body.uid, 'joiner');
    assert.match(added.body.joinedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await h.api('PUT', member('staff', 'joiner'), { token: admin })).status, 204, 'already a member');

    const closed = await h.api('PUT', member('secret', 'joiner'), { token });
    assert.equal(closed.status, 403);
    assert.equal(closed.headers.get('content-type'), 'application/problem+json');
    assert.match(closed.body.detail, /HERALD_THREADS_SELF_JOIN/);
    assert.equal((await h.api('PUT', member('public.news', 'someone-else'), { token })).status, 403, 'a user adds only itself');
    assert.equal((await h.api('PUT', member('public.news', 'joiner'), { token })).status, 201);
    assert.equal((await h.api('PUT', member('lobby', 'joiner'), { token })).status, 201);
    assert.equal((await h.api('PUT', member('lobby2', 'joiner'), { token })).status, 403, 'an exact name is not a prefix');

    const mine = await h.api('GET', '/api/v1/threads?limit=2', { token });
    assert.equal(mine.status, 200);
    assert.deepEqual(
      mine.body.threads.map((t: { thread: string }) => t.thread),
      ['lobby', 'public.news'],
    );
    assert.equal(mine.body.next, 'public.news');
    const rest = await h.api('GET', `/api/v1/threads?limit=2&cursor=${mine.body.next}`, { token });
    assert.deepEqual(
      rest.body.threads.map((t: { thread: string }) => t.thread),
      ['staff'],
    );
    assert.equal(rest.body.next, null);

    assert.equal((await h.api('GET', '/api/v1/threads/staff/members', { token })).status, 403, 'members are for admins');
    const members = await h.api('GET', '/api/v1/threads/staff/members', { token: admin });
    assert.deepEqual(
      members.body.members.map((m: { uid: string }) => m.uid),
      ['joiner'],
    );

    assert.equal((await h.api('DELETE', member('staff', 'someone-else'), { token })).status, 403);
    assert.equal((await h.api('DELETE', member('staff', 'joiner'), { token })).status, 204, 'a member leaves a thread it could not join');
    assert.equal((await h.api('DELETE', member('staff', 'joiner'), { token })).status, 204, 'and again: nothing to do');
    assert.deepEqual((await h.api('GET', '/api/v1/threads/staff/members', { token: admin })).body.members, []);
  });

  it('refuses hostile thread names and uids as 400 naming the field', async () => {
    for (const name of ['a b', 'x'.repeat(129), 'a/b', '%00', 'ünï', '..%2F']) {
      const res = await h.api('PUT', `/api/v1/threads/${encodeURIComponent(name)}/members/u-1`, { token: admin });
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.errors?.[0]?.path, 'thread', name);
    }
    const badUid = await h.api('PUT', `/api/v1/threads/ok/members/${encodeURIComponent('a b')}`, { token: admin });
    assert.equal(badUid.status, 400);
    assert.equal(badUid.body.errors?.[0]?.path, 'uid');
    const badSend = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'x', thread: 'ok', uids: ['u-1'] } });
    assert.equal(badSend.status, 400, 'uids and thread together');
    const badCursor = await h.api('GET', '/api/v1/threads?cursor=a%20b', { token: admin });
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.errors?.[0]?.path, 'cursor');
  });

  it('a thread message is seen by the members when it is sent: not by one who joins later, still by one who left after', async () => {
    const tokens = Object.fromEntries(await Promise.all(['early', 'leaver', 'late', 'outsider'].map(async (uid) => [uid, await h.token(uid)] as const)));
    for (const uid of ['early', 'leaver']) assert.equal((await h.api('PUT', member('club', uid), { token: admin })).status, 201);
    const first = await sendToThread('club', 'first');
    assert.equal((await h.api('DELETE', member('club', 'leaver'), { token: admin })).status, 204);
    assert.equal((await h.api('PUT', member('club', 'late'), { token: admin })).status, 201);
    const second = await sendToThread('club', 'second');

    assert.deepEqual(await listed(h, tokens.early as string), [second, first]);
    assert.deepEqual(await listed(h, tokens.leaver as string), [first]);
    assert.deepEqual(await listed(h, tokens.late as string), [second]);
    assert.deepEqual(await listed(h, tokens.outsider as string), []);
    assert.equal((await h.api('GET', `/api/v1/messages/${second}`, { token: tokens.leaver as string })).status, 404, 'not the leaver’s');

    // Read state is each member's own.
    const read = await h.api('POST', '/api/v1/receipts', { token: tokens.early as string, body: { ids: [first, second], state: 'read' } });
    assert.equal(read.status, 204);
    assert.equal(await unread(h, tokens.early as string), 0);
    assert.deepEqual(await listed(h, tokens.early as string, '&state=unread'), []);
    assert.equal(await unread(h, tokens.leaver as string), 1);
    assert.equal(await unread(h, tokens.late as string), 1);
    const shown = await h.api('GET', `/api/v1/messages/${first}`, { token: tokens.early as string });
    assert.equal(shown.status, 200);
    assert.match(shown.body.state.read, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await h.api('GET', `/api/v1/messages/${first}`, { token: tokens.leaver as string })).body.state.read, null);
  });

  it('an audience may name a thread: its members now that match the other conditions, counted and sent to', async () => {
    for (const [uid, plan] of [
      ['aud-a', 'pro'],
      ['aud-b', 'free'],
      ['aud-c', 'pro'],
      ['aud-out', 'pro'],
    ] as const) {
      assert.equal((await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { attributes: { plan } } })).status, 200);
    }
    for (const uid of ['aud-a', 'aud-b', 'aud-c']) assert.equal((await h.api('PUT', member('guild', uid), { token: admin })).status, 201);
    assert.equal((await h.api('DELETE', member('guild', 'aud-c'), { token: admin })).status, 204);
    const count = async (audience: object) => (await h.api('POST', '/api/v1/audience/count', { token: admin, body: { audience } })).body;
    assert.deepEqual(await count({ thread: 'guild' }), { count: 2, capped: false });
    assert.deepEqual(await count({ thread: 'guild', where: { plan: 'pro' } }), { count: 1, capped: false });
    assert.deepEqual(await count({ thread: 'nobody-here' }), { count: 0, capped: false });

    const res = await h.api('POST', '/api/v1/multicast', {
      token: admin,
      body: { msg: 'pros of the guild', audience: { thread: 'guild', where: { plan: 'pro' } } },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const triaged = await h.triaged(res.body.id, admin);
    // A target of its own kind: a Herald that predates it fails on it rather than select everyone.
    assert.deepEqual(triaged.body.target, { kind: 'members', thread: 'guild', audience: { where: { plan: 'pro' } } });
    for (const uid of ['aud-a', 'aud-b', 'aud-c', 'aud-out']) {
      assert.deepEqual(await listed(h, await h.token(uid)), uid === 'aud-a' ? [res.body.id] : [], uid);
    }
    const refused = await h.api('POST', '/api/v1/audience/count', { token: admin, body: { audience: { thread: 'no spaces' } } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errors?.[0]?.path, 'audience.thread', JSON.stringify(refused.body));
  });

  it('a member’s live socket gets the thread message; a non-member’s does not', async () => {
    assert.equal((await h.api('PUT', member('live', 'listener'), { token: admin })).status, 201);
    const listener = await h.socket('listener');
    const bystander = await h.socket('bystander');
    try {
      // Both sockets are open and their subscriptions made: a broadcast reaches both first.
      const ready = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'ready?' } });
      await listener.next((f) => f.id === ready.body.id);
      await bystander.next((f) => f.id === ready.body.id);
      const id = await sendToThread('live', 'members only');
      const frame = await listener.next((f) => f.type === 'message' && f.id === id);
      assert.equal(frame.msg, 'members only');
      const after = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'after' } });
      await bystander.next((f) => f.id === after.body.id);
      assert.ok(!bystander.messages().some((f) => f.id === id), 'the non-member got no frame of it');
    } finally {
      listener.close();
      bystander.close();
    }
  });

  it('a broadcast is seen by the users that existed when it was sent, not by one created after', async () => {
    const before = await h.token('before-broadcast');
    assert.equal((await h.api('GET', '/api/v1/messages', { token: before })).status, 200, 'the first request creates the user');
    const sent = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'to all' } });
    assert.equal(sent.status, 202);
    await h.triaged(sent.body.id);
    assert.ok((await listed(h, before)).includes(sent.body.id));
    const afterwards = await h.token('after-broadcast');
    assert.ok(!(await listed(h, afterwards)).includes(sent.body.id));
    assert.equal((await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token: afterwards })).status, 404);
  });

  it('tallies the sockets a broadcast’s and a thread message’s publish reached: the admin view and the reports count them', async () => {
    const sockets = await Promise.all(['tally-a', 'tally-a', 'tally-b'].map((uid) => h.socket(uid)));
    // Only these three are open (the earlier tests' sockets have closed): the counts below are exact.
    await eventually(async () => /^herald_ws_connections 3$/m.test(await (await fetch(`${h.url}/metrics`)).text()), 10_000, 'three live sockets');
    assert.equal((await h.api('PUT', member('tallied', 'tally-b'), { token: admin })).status, 201);
    const before = (await h.api('GET', '/api/v1/reports?groupBy=channel', { token: admin })).body.rows.find((r: any) => r.key === 'realtime')?.count ?? 0;
    const broadcast = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'count the sockets' } });
    const inThread = await sendToThread('tallied', 'count the members’ sockets');
    await h.triaged(broadcast.body.id);
    for (const socket of sockets) await socket.next((f) => f.id === broadcast.body.id);
    await sockets[2]?.next((f) => f.id === inThread);
    const talliesOf = async (id: string, count: number) =>
      eventually(
        async () => {
          const res = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
          return res.body.tallies?.[0]?.count === count ? res.body.tallies : undefined;
        },
        10_000,
        `a tally of ${count}`,
      );
    // Every socket of this gateway reached, each counted: three for everyone, the member's one for the thread.
    const tallies = await talliesOf(broadcast.body.id, 3);
    assert.equal(tallies.length, 1);
    assert.equal(tallies[0].channel, 'realtime');
    assert.equal(tallies[0].state, 'sent');
    assert.match(tallies[0].at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual((await talliesOf(inThread, 1)).length, 1);
    const report = await h.api('GET', '/api/v1/reports?groupBy=channel', { token: admin });
    assert.equal(report.body.rows.find((r: any) => r.key === 'realtime')?.count, before + 3 + 1);
    const own = await h.api('GET', `/api/v1/messages/${inThread}`, { token: await h.token('tally-b') });
    assert.equal(own.body.tallies, undefined, 'a recipient sees no tallies');
    for (const socket of sockets) socket.close();
  });

  it('a broadcast part-way through its fan-out when Herald gained timelines goes on per inbox: each user lists it once', async () => {
    const uids = ['legacy-a', 'legacy-b', 'legacy-c'];
    const tokens = await Promise.all(uids.map((uid) => h.token(uid)));
    for (const token of tokens) assert.equal((await h.api('GET', '/api/v1/messages', { token })).status, 200, 'the first request creates the user');
    // As a Herald without timelines left it: accepted, expanded up to legacy-a, an inbox entry written for it.
    const message = buildMessage({
      id: newId(),
      sender: 'ops',
      senderAdmin: true,
      target: { kind: 'everyone' },
      msg: 'from before',
      opts: undefined,
      now: Date.now(),
    });
    await h.herald.stores.messages.insert({ message, status: 'accepted' });
    await h.herald.stores.inbox.add(['legacy-a'], message);
    await h.herald.stores.messages.setStatus(message.id, 'accepted', 'legacy-a');
    await h.herald.bus.publish(subjects.accepted(message.urgency), { messageId: message.id });
    await h.triaged(message.id);
    for (const [index, uid] of uids.entries()) {
      const token = tokens[index] as string;
      assert.deepEqual(
        (await listed(h, token)).filter((id) => id === message.id),
        [message.id],
        uid,
      );
      assert.equal(await unread(h, token), 1, uid);
    }
    assert.equal(await h.herald.stores.timelines.posted('everyone', message.id), false, 'not posted');
  });
});

describe('a thread message reaches members’ browsers (the real CLI, the loopback push service)', () => {
  let push: PushServiceFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  before(async () => {
    push = await startPushService();
    h = await startChild(pushServiceClientEnv());
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await push?.close();
  });

  it('pushes to the member’s subscription and not to the non-member’s', async () => {
    const admin = await h.token('ops', { admin: true });
    const endpoints = new Map<string, string>();
    for (const uid of ['push-member', 'push-outsider']) {
      const subscription = push.subscription();
      assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: subscription })).status, 201);
      endpoints.set(uid, subscription.endpoint);
    }
    assert.equal((await h.api('PUT', '/api/v1/threads/alerts/members/push-member', { token: admin })).status, 201);
    const sent = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'thread alert', thread: 'alerts' } });
    assert.equal(sent.status, 202);
    const records = (uid: string) => push.recordsFor(push.idOf(endpoints.get(uid) as string));
    await eventually(async () => records('push-member').some((r) => r.payload?.id === sent.body.id), 20_000, 'the member’s push');
    await h.triaged(sent.body.id);
    // The outsider's browser gets a later broadcast but never the thread message.
    const broadcast = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'everyone' } });
    await eventually(async () => records('push-outsider').some((r) => r.payload?.id === broadcast.body.id), 20_000, 'the outsider’s broadcast push');
    assert.ok(!records('push-outsider').some((r) => r.payload?.id === sent.body.id));
  });
});
