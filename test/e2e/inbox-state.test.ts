/**
 * What an inbox lists, through real HTTP and WebSocket clients against a started Herald:
 *  - archive: POST /api/v1/receipts {"ids", "state": "archived"} takes the caller's messages out
 *    of its list and count (GET /api/v1/messages/{id} still shows them, with `state.archived`),
 *    records no receipt, and ignores other users' ids;
 *  - topic collapse: a newer message with the same opts.topic replaces the older in that
 *    recipient's inbox, and the live frame says `"replaces": "<older id>"`; a broadcast's frame
 *    carries the topic, and the inboxes collapse the same way;
 *  - recall: DELETE /api/v1/messages/{id} by the sender or an admin — a sent message leaves every
 *    inbox at once, sockets get `{"type": "recall", "id"}`, a web push copy is withdrawn with a
 *    close push (the loopback push service, the real CLI); a scheduled one is never sent; anyone
 *    else gets 404 and the message stays; hostile ids are 400 or 404, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PushServiceFake, pushServiceClientEnv, startPushService } from '../fakes/push-service.js';
import { eventually, startChild, startInProcess } from '../helpers/herald.js';

type Herald = Awaited<ReturnType<typeof startInProcess>>;

const listed = async (h: Pick<Herald, 'api'>, token: string): Promise<string[]> => {
  const res = await h.api('GET', '/api/v1/messages?limit=200', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.messages.map((m: { id: string }) => m.id);
};
const unread = async (h: Pick<Herald, 'api'>, token: string): Promise<number> => {
  const res = await h.api('GET', '/api/v1/messages/count?state=unread', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.count;
};

describe('archive, topic collapse and recall', () => {
  let h: Herald;
  let admin: string;
  const send = async (uid: string, msg: string, opts: Record<string, unknown> = {}, token = admin) => {
    const res = await h.api('POST', '/api/v1/send', { token, body: { msg, uid, opts } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };

  before(async () => {
    h = await startInProcess({ HERALD_USER_SEND: 'inapp' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('archives the caller’s own messages: no longer listed or counted, still shown by id, no receipt, others’ ids ignored', async () => {
    const token = await h.token('archivist');
    const other = await h.token('bystander');
    const ids = [await send('archivist', 'one'), await send('archivist', 'two'), await send('archivist', 'three')];
    const theirs = await send('bystander', 'not yours');
    for (const id of [...ids, theirs]) await h.triaged(id);
    const res = await h.api('POST', '/api/v1/receipts', { token, body: { ids: [ids[1], theirs], state: 'archived' } });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.deepEqual(await listed(h, token), [ids[2], ids[0]]);
    assert.equal(await unread(h, token), 2);
    const shown = await h.api('GET', `/api/v1/messages/${ids[1]}`, { token });
    assert.equal(shown.status, 200);
    assert.match(shown.body.state.archived, /^\d{4}-\d\d-\d\dT/);
    assert.equal(shown.body.state.read, null, 'archiving is not reading');
    assert.ok(!shown.body.receipts.some((r: { state: string }) => r.state === 'archived'));
    assert.deepEqual(await listed(h, other), [theirs], "another user's message stays in its inbox");
    const bad = await h.api('POST', '/api/v1/receipts', { token, body: { ids: ['../x'], state: 'archived' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json');
    assert.ok(
      bad.body.errors.some((e: { path: string }) => e.path.startsWith('ids')),
      JSON.stringify(bad.body),
    );
  });

  it('a newer message of a topic replaces the older in the inbox, and its frame names the one it replaces', async () => {
    const token = await h.token('fan');
    const socket = await h.socket('fan');
    const first = await send('fan', '1 – 0', { topic: 'match-42' });
    const unrelated = await send('fan', 'weather', { topic: 'weather' });
    await socket.until(() => socket.frames.some((f) => f.id === unrelated));
    const second = await send('fan', '1 – 1', { topic: 'match-42' });
    await socket.until(() => socket.frames.some((f) => f.id === second));
    const frames = socket.frames.filter((f) => f.type === 'message');
    const firstFrame = frames.find((f) => f.id === first);
    const secondFrame = frames.find((f) => f.id === second);
    assert.equal(firstFrame.topic, 'match-42');
    assert.equal(firstFrame.replaces, undefined);
    assert.equal(secondFrame.replaces, first);
    assert.deepEqual(await listed(h, token), [second, unrelated]);
    assert.equal(await unread(h, token), 2);
    socket.close();
  });

  it('a broadcast of a topic collapses every inbox; its frame carries the topic', async () => {
    const token = await h.token('listener');
    await h.api('PUT', '/api/v1/users/listener', { token: admin, body: {} });
    const socket = await h.socket('listener');
    const ids: string[] = [];
    for (const msg of ['edition 1', 'edition 2']) {
      const res = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg, opts: { topic: 'daily' } } });
      assert.equal(res.status, 202);
      ids.push(res.body.id);
      await h.triaged(res.body.id);
    }
    await socket.until(() => socket.frames.some((f) => f.id === ids[1]));
    assert.equal(socket.frames.find((f) => f.id === ids[1]).topic, 'daily');
    const mine = await listed(h, token);
    assert.ok(mine.includes(ids[1] as string) && !mine.includes(ids[0] as string), JSON.stringify(mine));
    socket.close();
  });

  it('recalls a sent message: it leaves the inbox at once, the socket gets a recall frame, a second recall is 204 too', async () => {
    const token = await h.token('reader');
    const socket = await h.socket('reader');
    const kept = await send('reader', 'kept');
    const id = await send('reader', 'sent by mistake');
    await h.triaged(id);
    await socket.until(() => socket.frames.some((f) => f.id === id));
    assert.equal(await unread(h, token), 2);
    const res = await h.api('DELETE', `/api/v1/messages/${id}`, { token: admin });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.deepEqual(await listed(h, token), [kept], 'gone from the list as soon as the recall is answered');
    assert.equal(await unread(h, token), 1);
    assert.equal((await h.api('GET', `/api/v1/messages/${id}`, { token })).status, 404);
    await socket.until(() => socket.frames.some((f) => f.type === 'recall' && f.id === id));
    const asAdmin = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
    assert.equal(asAdmin.body.status, 'recalled');
    assert.equal((await h.api('DELETE', `/api/v1/messages/${id}`, { token: admin })).status, 204);
    // Reading it now changes nothing the user can see.
    assert.equal((await h.api('POST', '/api/v1/receipts', { token, body: { ids: [id], state: 'read' } })).status, 204);
    assert.deepEqual(await listed(h, token), [kept]);
    socket.close();
  });

  it('recalling the newest message of a topic gives back the one it replaced, before its recall frame: sends and broadcasts', async () => {
    const token = await h.token('scorer');
    await h.api('PUT', '/api/v1/users/scorer', { token: admin, body: {} });
    const socket = await h.socket('scorer');
    const first = await send('scorer', '1 – 0', { topic: 'match-7' });
    const second = await send('scorer', '1 – 1', { topic: 'match-7' });
    const broadcasts: string[] = [];
    for (const msg of ['edition 1', 'edition 2']) {
      const res = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg, opts: { topic: 'evening' } } });
      assert.equal(res.status, 202);
      broadcasts.push(res.body.id);
    }
    for (const id of [first, second, ...broadcasts]) await h.triaged(id);
    assert.deepEqual(await listed(h, token), [broadcasts[1], second]);

    for (const [recalled, givenBack] of [
      [second, first],
      [broadcasts[1], broadcasts[0]],
    ] as const) {
      assert.equal((await h.api('DELETE', `/api/v1/messages/${recalled}`, { token: admin })).status, 204);
      await socket.until(() => socket.frames.some((f) => f.type === 'recall' && f.id === recalled));
      // The recall frame comes once the inbox lists the older one again: a client refetching on it finds it.
      assert.ok((await listed(h, token)).includes(givenBack as string), `${givenBack} listed again once ${recalled} was recalled`);
    }
    assert.deepEqual(await listed(h, token), [broadcasts[0], first]);
    assert.equal(await unread(h, token), 2);
    socket.close();
  });

  it('a topic message whose inbox entry is written after its recall swept gives back the older one itself', async () => {
    const token = await h.token('late');
    const socket = await h.socket('late');
    const older = await send('late', 'first edition', { topic: 'late-news' });
    await h.triaged(older);
    // The interleaving: triage has read the newer message (not recalled yet) and is about to add
    // its entry when the recall comes and its sweep passes this user; then the entry is written.
    const inbox = h.herald.stores.inbox;
    const add = inbox.add.bind(inbox);
    let recalled: string | undefined;
    inbox.add = async (uids, message) => {
      if (message.topic === 'late-news' && recalled === undefined) {
        recalled = message.id;
        assert.equal((await h.api('DELETE', `/api/v1/messages/${message.id}`, { token: admin })).status, 204);
        await socket.until(() => socket.frames.some((f) => f.type === 'recall' && f.id === message.id));
      }
      return add(uids, message);
    };
    try {
      const newer = await send('late', 'second edition', { topic: 'late-news' });
      await eventually(async () => (await h.api('GET', `/api/v1/messages/${newer}`, { token: admin })).body.status === 'recalled', 10_000, 'recalled');
      await eventually(async () => (await listed(h, token)).includes(older), 10_000, `${older} listed again`);
      assert.equal(recalled, newer);
      assert.ok(!socket.frames.some((f) => f.type === 'message' && f.id === newer), 'the recalled message was never framed');
    } finally {
      inbox.add = add;
      socket.close();
    }
  });

  it('lets a sender recall its own message, and nobody else but an admin: others get 404 and the message stays', async () => {
    const sender = await h.token('sender');
    const stranger = await h.token('stranger');
    const recipient = await h.token('recipient');
    const id = await send('recipient', 'from a user', {}, sender);
    await h.triaged(id);
    for (const token of [stranger, recipient]) {
      const res = await h.api('DELETE', `/api/v1/messages/${id}`, { token });
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'HERALD_NOT_FOUND');
    }
    assert.deepEqual(await listed(h, recipient), [id]);
    assert.equal((await h.api('DELETE', `/api/v1/messages/${id}`, { token: sender })).status, 204);
    assert.deepEqual(await listed(h, recipient), []);
    for (const [path, status] of [
      ['/api/v1/messages/not-an-id', 400],
      ['/api/v1/messages/%00', 400],
      ['/api/v1/messages/01a23768-11ea-727c-8283-9149b2bda62e', 404],
    ] as const) {
      const res = await h.api('DELETE', path, { token: admin });
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
    }
    assert.equal((await h.api('DELETE', `/api/v1/messages/${id}`)).status, 401);
  });

  it('cancels a scheduled message: it is never triaged or delivered', async () => {
    const token = await h.token('planner');
    const socket = await h.socket('planner');
    const id = await send('planner', 'tomorrow’s reminder', { delay: 1 });
    assert.equal((await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.status, 'scheduled');
    assert.equal((await h.api('DELETE', `/api/v1/messages/${id}`, { token: admin })).status, 204);
    // A message sent after the scheduled time reaches the socket: the scheduled one had its chance by then.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const later = await send('planner', 'after');
    await socket.until(() => socket.frames.some((f) => f.id === later));
    assert.ok(!socket.frames.some((f) => f.id === id), 'the recalled message never reached the socket');
    assert.deepEqual(await listed(h, token), [later]);
    assert.equal((await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.status, 'recalled');
    socket.close();
  });
});

describe('recall withdraws push copies (the real CLI, the loopback push service)', () => {
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

  it('a multicast recalled after its pushes went out: each browser gets a close push, and the inboxes are empty', async () => {
    const admin = await h.token('ops', { admin: true });
    const users = ['push-a', 'push-b'];
    const endpoints: string[] = [];
    for (const uid of users) {
      const subscription = push.subscription();
      const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: subscription });
      assert.equal(res.status, 201);
      endpoints.push(subscription.endpoint);
    }
    const sent = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'flash sale', uids: users, opts: { topic: 'sale' } } });
    assert.equal(sent.status, 202);
    const id: string = sent.body.id;
    const records = (endpoint: string) => push.recordsFor(push.idOf(endpoint));
    for (const endpoint of endpoints) {
      await eventually(async () => records(endpoint).some((r) => r.payload?.id === id && r.payload?.type === undefined), 20_000, 'the push');
    }
    assert.equal((await h.api('DELETE', `/api/v1/messages/${id}`, { token: admin })).status, 204);
    for (const endpoint of endpoints) {
      const close = await eventually(async () => records(endpoint).find((r) => r.payload?.type === 'close' && r.payload?.id === id), 20_000, 'the close push');
      assert.equal(close?.payload.reason, 'recall');
    }
    for (const uid of users) assert.deepEqual(await listed(h, await h.token(uid)), []);
  });
});
