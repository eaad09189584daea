/** RecentErasures (src/pipeline/recent-erasures.ts): which late receipts an erasure covers; which recipients of a page triage keeps (erasure.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { recipientsNotErased } from '../../src/pipeline/erasure.js';
import { createRecentErasures } from '../../src/pipeline/recent-erasures.js';
import type { RecipientFacts } from '../../src/store/port.js';
import { makeMessage } from '../contract/contract-helpers.js';

const NO_FACTS: RecipientFacts = { contact: {}, preferences: { channels: {}, categories: {} }, devices: [] };

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

describe('recipientsNotErased', () => {
  const facts = new Map<string, RecipientFacts>([
    ['before', { ...NO_FACTS, erasedAt: 500 }],
    ['at', { ...NO_FACTS, erasedAt: 1_000 }],
    ['after', { ...NO_FACTS, erasedAt: 1_500 }],
    ['never', NO_FACTS],
  ]);
  const uids = ['before', 'at', 'after', 'never', 'unknown'];

  it('drops, whatever the target, the recipients erased at or after the message was created', () => {
    for (const target of [{ kind: 'user', uid: 'at' }, { kind: 'everyone' }, { kind: 'thread', thread: 't' }] as const) {
      const message = makeMessage({ target, createdAt: 1_000 });
      assert.deepEqual(recipientsNotErased(message, uids, facts), ['before', 'never', 'unknown'], target.kind);
    }
  });
});
