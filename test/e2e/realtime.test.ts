/** The flow of a message through a started Herald: REST in → WebSocket frame → inbox and receipts. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startInProcess, type TestSocket } from '../helpers/herald.js';

describe('realtime delivery', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess();
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('delivers a send to every socket of the recipient, and to nobody else', async () => {
    const [a1, a2, b] = await Promise.all([h.socket('alice'), h.socket('alice'), h.socket('bob')]);
    const sent = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { msg: 'hello', uid: 'alice', opts: { title: 'Hi', data: { k: 1 }, urgency: 'high', link: 'https://example.com/x' } },
    });
    assert.equal(sent.status, 202);
    assert.match(sent.body.id, /^[0-9a-f-]{36}$/);
    for (const socket of [a1, a2]) {
      const frame = await socket.next((f) => f.id === sent.body.id);
      assert.deepEqual(
        { type: frame.type, msg: frame.msg, title: frame.title, data: frame.data, urgency: frame.urgency, link: frame.link },
        { type: 'message', msg: 'hello', title: 'Hi', data: { k: 1 }, urgency: 'high', link: 'https://example.com/x' },
      );
      assert.ok(!Number.isNaN(Date.parse(frame.createdAt)));
    }
    // bob gets a message of his own afterwards, and never alice's.
    const other = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'for bob', uid: 'bob' } });
    await b.next((f) => f.id === other.body.id);
    assert.equal(b.messages().filter((f) => f.id === sent.body.id).length, 0);
    for (const s of [a1, a2, b]) s.close();
  });

  it('lets any user send to another (docs/api.md: send takes any token)', async () => {
    const dana = await h.socket('dana');
    const sent = await h.api('POST', '/api/v1/send', { token: await h.token('carol'), body: { msg: 'from carol', uid: 'dana' } });
    assert.equal(sent.status, 202);
    await dana.next((f) => f.id === sent.body.id);
    dana.close();
  });

  it('multicasts to a list of uids, counting recipients', async () => {
    const uids = ['m1', 'm2', 'm3'];
    const sockets = await Promise.all(uids.map((u) => h.socket(u)));
    const res = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'to three', uids: [...uids, 'm1'] } });
    assert.equal(res.status, 202);
    assert.equal(res.body.recipients, 3);
    for (const s of sockets) await s.next((f) => f.id === res.body.id);
    for (const s of sockets) s.close();
  });

  it('broadcasts to every live socket once, and puts the message in every known inbox', async () => {
    const uids = Array.from({ length: 60 }, (_, i) => `bc-${i}`);
    const sockets: TestSocket[] = [];
    for (const uid of uids) sockets.push(await h.socket(uid), await h.socket(uid));
    // A known user who is offline still gets it in the inbox.
    const offline = await h.token('bc-offline');
    await h.api('GET', '/api/v1/messages', { token: offline });

    const res = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'everyone', opts: { urgency: 'low' } } });
    assert.equal(res.status, 202);
    for (const s of sockets) await s.next((f) => f.id === res.body.id);
    for (const s of sockets) assert.equal(s.messages().filter((f) => f.id === res.body.id).length, 1);
    await eventually(
      async () => {
        const inbox = await h.api('GET', '/api/v1/messages', { token: offline });
        return inbox.body.messages.some((m: { id: string }) => m.id === res.body.id);
      },
      10_000,
      'broadcast in offline inbox',
    );
    for (const s of sockets) s.close();
  });

  it('records ack and read frames as receipts and inbox state', async () => {
    const s = await h.socket('erin');
    const token = await h.token('erin');
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'track me', uid: 'erin' } });
    await s.next((f) => f.id === sent.body.id);

    let inbox = await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token });
    assert.equal(inbox.body.state.delivered, null);
    assert.equal(inbox.body.state.read, null);

    s.send({ type: 'ack', ids: [sent.body.id] });
    inbox = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token });
        return r.body.state.delivered ? r : undefined;
      },
      10_000,
      'delivered state',
    );
    assert.equal(inbox.body.state.read, null);
    assert.ok(inbox.body.receipts.some((r: any) => r.channel === 'realtime' && r.state === 'delivered'));

    s.send({ type: 'read', ids: [sent.body.id] });
    inbox = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token });
        return r.body.state.read ? r : undefined;
      },
      10_000,
      'read state',
    );
    assert.ok(inbox.body.receipts.some((r: any) => r.channel === 'realtime' && r.state === 'read'));
    const unread = await h.api('GET', '/api/v1/messages?state=unread', { token });
    assert.ok(!unread.body.messages.some((m: any) => m.id === sent.body.id));
    s.close();
  });

  it('answers ping with pong and rejects malformed frames with an error frame', async () => {
    const s = await h.socket('frank');
    s.send({ type: 'ping' });
    await s.next((f) => f.type === 'pong');
    s.ws.send('not json');
    const error = await s.next((f) => f.type === 'error');
    assert.equal(error.code, 'HERALD_INVALID_FRAME');
    s.send({ type: 'ack', ids: ['not-an-id'] });
    await s.until(() => s.frames.filter((f) => f.type === 'error').length === 2);
    assert.match(s.frames.filter((f) => f.type === 'error')[1].detail, /ids/);
    s.close();
  });

  it('replays unread messages newer than since= on reconnect, oldest first', async () => {
    const token = await h.token('gina');
    const first = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'seen', uid: 'gina' } });
    const missed = [];
    for (const msg of ['missed 1', 'missed 2', 'missed 3'])
      missed.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: 'gina' } })).body.id);
    await eventually(async () => (await h.api('GET', '/api/v1/messages', { token })).body.messages.length === 4, 10_000, 'inbox of 4');
    // One of the missed ones was read elsewhere: it is not replayed.
    await h.api('POST', '/api/v1/receipts', { token, body: { ids: [missed[1]], state: 'read' } });

    const s = await h.socket('gina', { since: first.body.id });
    await s.until(() => s.messages().length >= 2);
    assert.deepEqual(
      s.messages().map((f) => f.id),
      [missed[0], missed[2]],
    );
    s.close();
  });

  it('sends a scheduled message when its time comes, not before', async () => {
    const s = await h.socket('hank');
    const token = await h.token('hank');
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'later', uid: 'hank', opts: { delay: 1 } } });
    assert.equal(res.status, 202);
    const before = await h.api('GET', '/api/v1/messages', { token });
    assert.ok(!before.body.messages.some((m: any) => m.id === res.body.id), 'not in the inbox before its time');
    const frame = await s.next((f) => f.id === res.body.id);
    assert.equal(frame.msg, 'later');
    const admins = await h.api('GET', `/api/v1/messages/${res.body.id}`, { token: admin });
    assert.ok(Date.now() - Date.parse(admins.body.scheduledFor) >= 0);
    s.close();
  });

  it('skips a channel the user switched off, recording why', async () => {
    const token = await h.token('ivy');
    const put = await h.api('PUT', '/api/v1/preferences', { token, body: { channels: { realtime: false } } });
    assert.equal(put.status, 200);
    assert.deepEqual((await h.api('GET', '/api/v1/preferences', { token })).body.channels, { realtime: false });
    const s = await h.socket('ivy');
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'quiet please', uid: 'ivy', opts: { channels: ['realtime'] } } });
    const detail = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${res.body.id}`, { token });
        return r.status === 200 && r.body.receipts.length > 0 ? r : undefined;
      },
      10_000,
      'suppressed receipt',
    );
    assert.deepEqual(
      detail.body.receipts.map((r: any) => [r.channel, r.state, r.reason]),
      [['realtime', 'suppressed', 'preference']],
    );
    // The message is still in the inbox, and no frame came.
    s.send({ type: 'ping' });
    await s.next((f) => f.type === 'pong');
    assert.equal(s.messages().length, 0);
    s.close();
  });

  it('suppresses a disabled category on every channel', async () => {
    const token = await h.token('jack');
    await h.api('PUT', '/api/v1/preferences', { token, body: { categories: { marketing: { enabled: false } } } });
    const s = await h.socket('jack');
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'buy!', uid: 'jack', opts: { category: 'marketing' } } });
    const detail = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${res.body.id}`, { token });
        return r.status === 200 && r.body.receipts.length > 0 ? r : undefined;
      },
      10_000,
      'receipt',
    );
    assert.deepEqual(detail.body.receipts[0].reason, 'category:marketing');
    s.close();
  });

  it('does not deliver an expired message', async () => {
    const token = await h.token('kim');
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'stale', uid: 'kim', opts: { ttl: 0 } } });
    assert.equal(res.status, 202);
    const detail = await h.triaged(res.body.id, admin);
    assert.deepEqual(
      detail.body.receipts.map((r: any) => [r.uid, r.channel, r.state]),
      [['kim', 'inbox', 'expired']],
    );
    assert.equal((await h.api('GET', '/api/v1/messages', { token })).body.messages.length, 0);
  });

  it('returns the same id for a repeated idempotency key, and 409 for a different body', async () => {
    const body = { msg: 'once', uid: 'lee', opts: { idempotencyKey: 'order-42' } };
    const first = await h.api('POST', '/api/v1/send', { token: admin, body });
    const again = await h.api('POST', '/api/v1/send', { token: admin, body: { opts: body.opts, uid: 'lee', msg: 'once' } });
    assert.equal(again.status, 202);
    assert.equal(again.body.id, first.body.id);
    const conflict = await h.api('POST', '/api/v1/send', { token: admin, body: { ...body, msg: 'twice' } });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.code, 'HERALD_IDEMPOTENCY_CONFLICT');
    const token = await h.token('lee');
    await eventually(async () => (await h.api('GET', '/api/v1/messages', { token })).body.messages.length === 1, 10_000, 'one message');
  });
});
