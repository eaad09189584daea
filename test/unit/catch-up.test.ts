/** What a catching-up socket is sent once it is caught up (src/gateway/catch-up.ts CatchUp.settle). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATCH_UP_MAX_CHARS, CatchUp, heldFrame } from '../../src/gateway/catch-up.js';
import { MAX_THREADS_PER_SOCKET } from '../../src/gateway/thread-topics.js';

const frame = (id: string) => ({ type: 'message', id });
const held = (id: string, thread?: string) => heldFrame(JSON.stringify(frame(id)), frame(id), thread);

describe('catch-up', () => {
  it('sends the replay first, then what was held in order, each message once', () => {
    const c = new CatchUp();
    for (const h of [held('b'), held('x'), heldFrame('{"type":"read","ids":["a"]}', { type: 'read', ids: ['a'] }), held('x'), held('c')]) c.hold(h);
    const { texts } = c.settle(
      ['a', 'b'].map((id) => ({ id, text: JSON.stringify(frame(id)) })),
      new Set(),
    );
    assert.deepEqual(
      texts.map((t) => JSON.parse(t)),
      [frame('a'), frame('b'), frame('x'), { type: 'read', ids: ['a'] }, frame('c')],
    );
  });

  it("keeps a thread's frame when the user was a member as it was emitted, whenever the memberships were read", () => {
    const holding = () => {
      const c = new CatchUp();
      c.hold(held('kept', 'loaded'));
      c.hold(held('not-a-member', 'other'));
      c.hold(held('before-leave', 'left'));
      c.hold({ kind: 'membership', thread: 'left', member: false });
      c.hold(held('after-leave', 'left'));
      c.hold(held('before-join', 'joined'));
      c.hold({ kind: 'membership', thread: 'joined', member: true });
      c.hold(held('after-join', 'joined'));
      return c;
    };
    // `loaded` read before the changes (it holds `left`) or after them (it holds `joined`): the same answer.
    for (const loaded of [new Set(['loaded', 'left']), new Set(['loaded', 'joined'])]) {
      const { texts, threads } = holding().settle([], loaded);
      assert.deepEqual(
        texts.map((t) => JSON.parse(t).id),
        ['kept', 'before-leave', 'after-join'],
      );
      assert.deepEqual([...threads].sort(), ['joined', 'loaded']);
    }
  });

  it('answers false once it holds more than CATCH_UP_MAX_CHARS', () => {
    const c = new CatchUp();
    const text = 'x'.repeat(CATCH_UP_MAX_CHARS / 4);
    for (let i = 0; i < 4; i++) assert.equal(c.hold({ kind: 'frame', text }), true);
    assert.equal(c.hold({ kind: 'frame', text: 'x' }), false);
  });

  it('subscribes no more than MAX_THREADS_PER_SOCKET threads', () => {
    const c = new CatchUp();
    c.hold({ kind: 'membership', thread: 'one-too-many', member: true });
    const loaded = new Set(Array.from({ length: MAX_THREADS_PER_SOCKET }, (_, i) => `t${i}`));
    assert.equal(c.settle([], loaded).threads.has('one-too-many'), false);
  });
});
