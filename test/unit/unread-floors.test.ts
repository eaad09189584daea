/**
 * The rules of unread floors (src/store/unread-floors.ts): when a floor may be used after a
 * restore, and how far a count raises it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLOOR_STEP_MS, POST_VISIBLE_MS, raisedFloor, usableFloor } from '../../src/store/unread-floors.js';

describe('unread floors', () => {
  it('a floor set before the timeline’s last restore hold ends is not used', () => {
    assert.equal(usableFloor(undefined, undefined), undefined);
    assert.equal(usableFloor({ floorAt: 10, setAt: 100 }, undefined), 10);
    assert.equal(usableFloor({ floorAt: 10, setAt: 100 }, 99), 10);
    assert.equal(usableFloor({ floorAt: 10, setAt: 100 }, 100), undefined);
    assert.equal(usableFloor({ floorAt: 10, setAt: 100 }, 5_000), undefined);
  });

  it('rises to the first unread entry, never past a minute before the newest, and only by a step', () => {
    const newest = 1_000 * POST_VISIBLE_MS;
    const now = newest + 5_000;
    assert.equal(raisedFloor(undefined, undefined, undefined, now), undefined, 'no entry: no floor');
    assert.equal(raisedFloor(undefined, 5_000, newest, now), 5_000, 'the first unread entry');
    assert.equal(raisedFloor(undefined, undefined, newest, now), newest - POST_VISIBLE_MS, 'none unread: a minute before the newest');
    assert.equal(raisedFloor(undefined, newest, newest, now), newest - POST_VISIBLE_MS, 'an unread entry of the last minute does not move it past');
    assert.equal(raisedFloor(5_000, 5_000, newest, now), undefined, 'unchanged: no write');
    assert.equal(raisedFloor(5_000, 5_000 + FLOOR_STEP_MS - 1, newest, now), undefined, 'less than a step: no write');
    assert.equal(raisedFloor(5_000, 5_000 + FLOOR_STEP_MS, newest, now), 5_000 + FLOOR_STEP_MS);
    assert.equal(raisedFloor(undefined, undefined, now + 3_600_000, now), now - POST_VISIBLE_MS, 'a post time ahead of the clock moves it no further than now');
  });
});
