/**
 * The gateway's thread topics and its catch-up on connect (src/gateway/thread-topics.ts,
 * src/gateway/catch-up.ts), over a real uWS server and real WebSocket clients. Signals are
 * emitted on the in-process server's bus, memberships written through its TimelineStore; a
 * store read is held (its answer kept until the test releases it) to drive the connect races
 * deterministically.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MembershipSignal, subjects, type ThreadFrame } from '../../src/bus/port.js';
import { buildMessage, messageFrame } from '../../src/exchange/message.js';
import type { Message } from '../../src/exchange/types.js';
import { newId } from '../../src/ids.js';
import { threadTimeline } from '../../src/store/port.js';
import { startInProcess, type TestSocket } from '../helpers/herald.js';

type Herald = Awaited<ReturnType<typeof startInProcess>>;

const message = (msg: string, target: Message['target']): Message =>
  buildMessage({ id: newId(), sender: 'ops', senderAdmin: true, target, msg, opts: undefined, now: Date.now() });

/**
 * Holds the answer of the next call of `object[method]` whose first argument is `uid`: the
 * read happens, its answer waits for `release()`. `called` resolves once the read was made.
 */
function holdNext<K extends string>(object: Record<K, (uid: string, ...rest: any[]) => Promise<any>>, method: K, uid: string) {
  const original = object[method];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let called!: () => void;
  const reached = new Promise<void>((resolve) => {
    called = resolve;
  });
  object[method] = (async (who: string, ...rest: any[]) => {
    if (who !== uid) return original.call(object, who, ...rest);
    object[method] = original;
    const answer = await original.call(object, who, ...rest);
    called();
    await gate;
    return answer;
  }) as (typeof object)[K];
  return { called: reached, release };
}

describe('gateway thread topics and catch-up', () => {
  let h: Herald;
  before(async () => {
    h = await startInProcess();
  });
  after(() => h.stop());

  const emitThread = (thread: string, frame: unknown, at = Date.now()) => h.herald.bus.emit(subjects.threadFrames, { thread, frame, at } satisfies ThreadFrame);
  const emitMembership = (signal: MembershipSignal) => h.herald.bus.emit(subjects.membershipChanged, signal);
  const threadMessage = (thread: string, msg: string) => messageFrame(message(msg, { kind: 'thread', thread }));
  /**
   * Resolves once a marker frame sent to `uid` after everything emitted so far reached `socket`:
   * signals are delivered in order here, and a caught-up socket's frames are sent at once.
   */
  const settled = async (socket: TestSocket, uid: string) => {
    const marker = messageFrame(message('marker', { kind: 'user', uid }));
    h.herald.bus.emit(subjects.userFrames(uid), marker);
    await socket.next((f) => f.id === marker.id);
  };
  const received = (socket: TestSocket, id: string) => socket.frames.filter((f) => f.id === id).length;

  it("sends a thread's frame to its members' sockets and not to others", async () => {
    await h.herald.stores.timelines.join('team.a', 'tm-alice', Date.now());
    const [alice1, alice2, bob] = await Promise.all([h.socket('tm-alice'), h.socket('tm-alice'), h.socket('tm-bob')]);
    await Promise.all([settled(alice1, 'tm-alice'), settled(alice2, 'tm-alice'), settled(bob, 'tm-bob')]);
    const frame = threadMessage('team.a', 'for the team');
    emitThread('team.a', frame);
    for (const socket of [alice1, alice2]) assert.equal((await socket.next((f) => f.id === frame.id)).msg, 'for the team');
    await settled(bob, 'tm-bob');
    assert.equal(received(bob, frame.id), 0);
    // A thread whose name extends another's is another topic.
    const other = threadMessage('team.a.b', 'another thread');
    emitThread('team.a.b', other);
    await settled(alice1, 'tm-alice');
    assert.equal(received(alice1, other.id), 0);
    for (const s of [alice1, alice2, bob]) s.close();
  });

  it('subscribes and unsubscribes the live sockets of a user who joins or leaves', async () => {
    const socket = await h.socket('tm-carol');
    await settled(socket, 'tm-carol');
    await h.herald.stores.timelines.join('news', 'tm-carol', Date.now());
    emitMembership({ uid: 'tm-carol', thread: 'news', member: true, at: Date.now() });
    const first = threadMessage('news', 'after the join');
    emitThread('news', first);
    await socket.next((f) => f.id === first.id);

    await h.herald.stores.timelines.leave('news', 'tm-carol', Date.now());
    emitMembership({ uid: 'tm-carol', thread: 'news', member: false, at: Date.now() });
    const second = threadMessage('news', 'after the leave');
    emitThread('news', second);
    await settled(socket, 'tm-carol');
    assert.equal(received(socket, second.id), 0);
    assert.equal(received(socket, first.id), 1);
    socket.close();
  });

  it('sends a thread frame that reached the gateway before the join it follows, once the join does', async () => {
    const uid = 'tm-gus';
    const socket = await h.socket(uid);
    await settled(socket, uid);
    const joinedAt = Date.now();
    await h.herald.stores.timelines.join('late-news', uid, joinedAt);
    // Triage posted these after the join, but their frames come before the join's signal.
    const before = threadMessage('late-news', 'posted before the join');
    emitThread('late-news', before, joinedAt - 1);
    const raced = threadMessage('late-news', 'posted after the join');
    emitThread('late-news', raced, joinedAt);
    await settled(socket, uid);
    assert.equal(received(socket, raced.id), 0, 'not subscribed yet');
    emitMembership({ uid, thread: 'late-news', member: true, at: joinedAt });
    const live = threadMessage('late-news', 'after the signal');
    emitThread('late-news', live, joinedAt + 1);
    await socket.next((f) => f.id === live.id);
    assert.deepEqual(
      socket
        .messages()
        .map((f) => f.id)
        .filter((id) => [before.id, raced.id, live.id].includes(id)),
      [raced.id, live.id],
      'the raced frame once, before the live one; the one posted before the join never',
    );
    socket.close();
  });

  it('sends a message exactly once when its frame arrives while a since= replay is being read', async () => {
    const uid = 'tm-dana';
    await h.api('GET', '/api/v1/messages', { token: await h.token(uid) }); // dana exists before the broadcast
    await h.herald.stores.timelines.join('ops', uid, Date.now() - 1000);
    const since = newId();
    const own = message('own, missed', { kind: 'user', uid });
    await h.herald.stores.inbox.add([uid], own);
    const inThread = message('thread, missed', { kind: 'thread', thread: 'ops' });
    await h.herald.stores.timelines.post(threadTimeline('ops'), inThread, Date.now());
    const broadcast = message('everyone, missed', { kind: 'everyone' });
    await h.herald.stores.timelines.post('everyone', broadcast, Date.now());

    const read = holdNext(h.herald.stores.inbox, 'list', uid);
    const opening = h.socket(uid, { since });
    await read.called; // the socket is open on the server; the replay has read the three messages
    // Their frames arrive now, after the read and before its answer, with one that is new.
    h.herald.bus.emit(subjects.userFrames(uid), messageFrame(own));
    emitThread('ops', messageFrame(inThread));
    h.herald.bus.emit(subjects.broadcastFrames, messageFrame(broadcast));
    const fresh = messageFrame(message('new', { kind: 'user', uid }));
    h.herald.bus.emit(subjects.userFrames(uid), fresh);
    read.release();
    const socket = await opening;
    await settled(socket, uid);
    const ids = socket.messages().map((f) => f.id);
    assert.deepEqual(ids.slice(0, 4), [own.id, inThread.id, broadcast.id, fresh.id]);
    for (const id of [own.id, inThread.id, broadcast.id, fresh.id]) assert.equal(received(socket, id), 1, `${id} once`);
    // Caught up, it receives broadcasts and its thread's frames as they come.
    const later = messageFrame(message('later', { kind: 'everyone' }));
    h.herald.bus.emit(subjects.broadcastFrames, later);
    const laterInThread = threadMessage('ops', 'later in the thread');
    emitThread('ops', laterInThread);
    await socket.next((f) => f.id === laterInThread.id);
    assert.equal(received(socket, later.id), 1);
    socket.close();
  });

  it('keeps the thread frames and membership changes that arrive while the memberships load', async () => {
    const uid = 'tm-erin';
    await h.herald.stores.timelines.join('desk', uid, Date.now());
    const load = holdNext(h.herald.stores.timelines, 'threadsOf', uid);
    const opening = h.socket(uid);
    await load.called;
    const held = threadMessage('desk', 'while loading');
    emitThread('desk', held);
    const notMine = threadMessage('elsewhere', 'not a member');
    emitThread('elsewhere', notMine);
    // A join during the load: a message posted before it is not the user's, one posted after it
    // is — also when its frame arrives before the join's signal.
    const joinedAt = Date.now();
    const beforeJoin = threadMessage('late', 'before the join');
    emitThread('late', beforeJoin, joinedAt - 1);
    await h.herald.stores.timelines.join('late', uid, joinedAt);
    const raced = threadMessage('late', 'after the join, ahead of its signal');
    emitThread('late', raced, joinedAt);
    emitMembership({ uid, thread: 'late', member: true, at: joinedAt });
    const afterJoin = threadMessage('late', 'after the join');
    emitThread('late', afterJoin, joinedAt + 1);
    load.release();
    const socket = await opening;
    await settled(socket, uid);
    assert.equal(received(socket, held.id), 1);
    assert.equal(received(socket, afterJoin.id), 1);
    assert.equal(received(socket, raced.id), 1);
    assert.equal(received(socket, notMine.id), 0);
    assert.equal(received(socket, beforeJoin.id), 0);
    // The join held during the load was applied: the socket is subscribed to the thread's topic.
    const next = threadMessage('late', 'caught up');
    emitThread('late', next);
    await socket.next((f) => f.id === next.id);
    socket.close();
  });

  it('closes a socket with 1013 when it holds too much while catching up', async () => {
    const uid = 'tm-frank';
    const read = holdNext(h.herald.stores.inbox, 'list', uid);
    const socket = await h.socket(uid, { since: newId() });
    await read.called;
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 20 && !socket.closed; i++) h.herald.bus.emit(subjects.userFrames(uid), messageFrame(message(big, { kind: 'user', uid })));
    read.release();
    await socket.until(() => socket.closed !== undefined, 10_000, 'close');
    assert.deepEqual(socket.closed, { code: 1013, reason: 'try again later' });
    assert.equal(socket.messages().length, 0);
    // A new socket of the user works.
    const again = await h.socket(uid);
    await settled(again, uid);
    again.close();
  });
});
