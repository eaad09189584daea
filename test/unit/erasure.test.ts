/** RecentErasures (src/pipeline/recent-erasures.ts): which late receipts an erasure covers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createRecentErasures } from '../../src/pipeline/recent-erasures.js';

const idAt = (msecs: number) => uuidv7({ msecs });

describe('RecentErasures', () => {
  it('covers messages created up to the erasure, not later ones, nor other users', () => {
    const erasures = createRecentErasures();
    erasures.note({ uid: 'gone', at: 1_000_000 });
    assert.equal(erasures.covers('gone', idAt(999_999)), true);
    assert.equal(erasures.covers('gone', idAt(1_000_000)), true);
    assert.equal(erasures.covers('gone', idAt(1_000_001)), false);
    assert.equal(erasures.covers('other', idAt(1)), false);
  });

  it('keeps the latest erasure of a uid and forgets the oldest past its limit', () => {
    const erasures = createRecentErasures(2);
    erasures.note({ uid: 'a', at: 100 });
    erasures.note({ uid: 'b', at: 100 });
    erasures.note({ uid: 'a', at: 200 });
    erasures.note({ uid: 'c', at: 100 });
    assert.equal(erasures.covers('b', idAt(50)), false, 'b was the oldest');
    assert.equal(erasures.covers('a', idAt(150)), true);
    assert.equal(erasures.covers('c', idAt(50)), true);
  });
});
