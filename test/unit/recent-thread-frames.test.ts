/** The thread frames a gateway remembers for late joins (src/gateway/recent-thread-frames.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RECENT_FRAMES_PER_THREAD, RECENT_FRAMES_TOTAL, RECENT_THREAD_FRAMES_MS, RecentThreadFrames } from '../../src/gateway/recent-thread-frames.js';

describe('recent thread frames', () => {
  it('gives the frames of a thread posted at or after the join, in the order they were published', () => {
    const recent = new RecentThreadFrames(() => 1_000);
    recent.remember('t', 'a', 10);
    recent.remember('other', 'x', 30);
    recent.remember('t', 'b', 30);
    recent.remember('t', 'c', 20);
    assert.deepEqual(recent.postedSince('t', 20), ['b', 'c']);
    assert.deepEqual(recent.postedSince('t', 31), []);
    assert.deepEqual(recent.postedSince('unknown', 0), []);
  });

  it('forgets frames published longer ago than RECENT_THREAD_FRAMES_MS', () => {
    let now = 0;
    const recent = new RecentThreadFrames(() => now);
    recent.remember('t', 'old', 1);
    now = 5;
    recent.remember('t', 'newer', 2);
    now = RECENT_THREAD_FRAMES_MS + 1;
    assert.deepEqual(recent.postedSince('t', 0), ['newer']);
    assert.equal(recent.size, 1);
    now = RECENT_THREAD_FRAMES_MS + 10;
    assert.deepEqual(recent.postedSince('t', 0), []);
    assert.equal(recent.size, 0);
  });

  it('keeps the newest RECENT_FRAMES_PER_THREAD of a thread and RECENT_FRAMES_TOTAL in all, forgetting the least recent threads first', () => {
    const recent = new RecentThreadFrames(() => 0);
    for (let i = 0; i < RECENT_FRAMES_PER_THREAD + 5; i++) recent.remember('busy', `f${i}`, i);
    const kept = recent.postedSince('busy', 0);
    assert.equal(kept.length, RECENT_FRAMES_PER_THREAD);
    assert.equal(kept[0], 'f5');
    const threads = Math.ceil(RECENT_FRAMES_TOTAL / RECENT_FRAMES_PER_THREAD);
    for (let t = 0; t < threads; t++) for (let i = 0; i < RECENT_FRAMES_PER_THREAD; i++) recent.remember(`t${t}`, `t${t}-${i}`, i);
    assert.ok(recent.size <= RECENT_FRAMES_TOTAL);
    assert.deepEqual(recent.postedSince('busy', 0), [], 'the least recently active thread went first');
    assert.equal(recent.postedSince(`t${threads - 1}`, 0).length, RECENT_FRAMES_PER_THREAD);
  });
});
