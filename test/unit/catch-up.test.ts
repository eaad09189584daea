/** What a catching-up socket is sent once it is caught up (src/gateway/catch-up.ts CatchUp.settle). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATCH_UP_MAX_CHARS, CatchUp, heldFrame } from '../../src/gateway/catch-up.js';
import { MAX_THREADS_PER_SOCKET } from '../../src/gateway/thread-topics.js';

const frame = (id: string) => ({ type: 'message', id });
/** A held frame; a thread's is posted at `postedAt`. */
const held = (id: string, thread?: string, postedAt = 0) =>
  heldFrame(JSON.stringify(frame(id)), frame(id), thread === undefined ? undefined : { thread, postedAt });
const joinedAt = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('catch-up', () => {
  it('sends the replay first, then what was held in order, each message once', () => {
    const c = new CatchUp();
    for (const h of [held('b'), held('x'), heldFrame('{"type":"read","ids":["a"]}', { type: 'read', ids: ['a'] }), held('x'), held('c')]) c.hold(h);
    const { texts } = c.settle(
      ['a', 'b'].map((id) => ({ id, text: JSON.stringify(frame(id)) })),
      new Map(),
    );
    assert.deepEqual(
      texts.map((t) => JSON.parse(t)),
      [frame('a'), frame('b'), frame('x'), { type: 'read', ids: ['a'] }, frame('c')],
    );
  });

  it("keeps a thread's frame when the user was a member as it was posted, whenever the memberships were read", () => {
    // Times: `loaded` joined at 0; `left` joined at 0 and left at 20; `joined` joined at 40.
    const holding = () => {
      const c = new CatchUp();
      c.hold(held('kept', 'loaded', 5));
      c.hold(held('not-a-member', 'other', 5));
      c.hold(held('before-leave', 'left', 10));
      c.hold({ kind: 'membership', thread: 'left', member: false, at: 20 });
      c.hold(held('after-leave', 'left', 30));
      c.hold(held('before-join', 'joined', 35));
      c.hold({ kind: 'membership', thread: 'joined', member: true, at: 40 });
      c.hold(held('after-join', 'joined', 50));
      return c;
    };
    // `loaded` read before the changes (it holds `left`) or after them (it holds `joined`): the same answer.
    for (const loaded of [joinedAt({ loaded: 0, left: 0 }), joinedAt({ loaded: 0, joined: 40 })]) {
      const { texts, threads } = holding().settle([], loaded);
      assert.deepEqual(
        texts.map((t) => JSON.parse(t).id),
        ['kept', 'before-leave', 'after-join'],
      );
      assert.deepEqual([...threads].sort(), ['joined', 'loaded']);
    }
  });

  it('keeps a frame of a message posted after a join whose signal arrived after the frame', () => {
    for (const loaded of [joinedAt({}), joinedAt({ late: 40 })]) {
      const c = new CatchUp();
      c.hold(held('posted-before', 'late', 35));
      c.hold(held('posted-after', 'late', 45));
      c.hold({ kind: 'membership', thread: 'late', member: true, at: 40 });
      assert.deepEqual(
        c.settle([], loaded).texts.map((t) => JSON.parse(t).id),
        ['posted-after'],
      );
    }
    // A loaded join still decides before a thread's first held change: a message posted before
    // the join is not the user's though a leave follows.
    const leaving = new CatchUp();
    leaving.hold(held('before-the-join', 'club', 5));
    leaving.hold(held('while-a-member', 'club', 15));
    leaving.hold({ kind: 'membership', thread: 'club', member: false, at: 20 });
    assert.deepEqual(
      leaving.settle([], joinedAt({ club: 10 })).texts.map((t) => JSON.parse(t).id),
      ['while-a-member'],
    );
    // Without a held change, the loaded join decides.
    const c = new CatchUp();
    c.hold(held('older', 'desk', 5));
    c.hold(held('newer', 'desk', 15));
    assert.deepEqual(
      c.settle([], joinedAt({ desk: 10 })).texts.map((t) => JSON.parse(t).id),
      ['newer'],
    );
  });

  it('answers false once it holds more than CATCH_UP_MAX_CHARS', () => {
    const c = new CatchUp();
    const text = 'x'.repeat(CATCH_UP_MAX_CHARS / 4);
    for (let i = 0; i < 4; i++) assert.equal(c.hold({ kind: 'frame', text }), true);
    assert.equal(c.hold({ kind: 'frame', text: 'x' }), false);
  });

  it('subscribes no more than MAX_THREADS_PER_SOCKET threads', () => {
    const c = new CatchUp();
    c.hold({ kind: 'membership', thread: 'one-too-many', member: true, at: 1 });
    const loaded = new Map(Array.from({ length: MAX_THREADS_PER_SOCKET }, (_, i) => [`t${i}`, 0] as const));
    assert.equal(c.settle([], loaded).threads.has('one-too-many'), false);
  });
});
