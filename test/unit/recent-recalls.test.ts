/** RecentRecalls (src/pipeline/recent-recalls.ts): when triage may trust the message its event carries. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createRecentRecalls } from '../../src/pipeline/recent-recalls.js';

const idAt = (msecs: number) => uuidv7({ msecs });

describe('RecentRecalls', () => {
  it('knows a message created once it listens, allowing for clock skew; reads any older one', () => {
    let clock = 10_000;
    const recalls = createRecentRecalls({ clockSkewMs: 500, now: () => clock });
    clock = 20_000;
    assert.equal(recalls.status(idAt(10_499)), 'unknown', 'created within the skew of the start');
    assert.equal(recalls.status(idAt(10_500)), 'not-recalled');
    assert.equal(recalls.status('not-a-uuid'), 'unknown');
    const recalled = idAt(15_000);
    recalls.note({ id: recalled });
    assert.equal(recalls.status(recalled), 'recalled');
  });

  it('after a gap in the listening, trusts only what was created past it', () => {
    let clock = 1_000;
    const recalls = createRecentRecalls({ clockSkewMs: 0, now: () => clock });
    const before = idAt(2_000);
    assert.equal(recalls.status(before), 'not-recalled');
    clock = 3_000;
    recalls.gap();
    assert.equal(recalls.status(before), 'unknown', 'its recall may have been sent during the gap');
    assert.equal(recalls.status(idAt(3_000)), 'not-recalled');
  });

  it('forgetting a recall to stay within its limit distrusts every message created before', () => {
    let clock = 0;
    const recalls = createRecentRecalls({ clockSkewMs: 0, limit: 2, now: () => clock });
    const [a, b, c, fresh] = [idAt(100), idAt(200), idAt(300), idAt(400)];
    recalls.note({ id: a });
    recalls.note({ id: b });
    assert.equal(recalls.status(fresh), 'not-recalled');
    clock = 350;
    recalls.note({ id: c });
    assert.equal(recalls.status(a), 'unknown', 'forgotten: read it');
    assert.equal(recalls.status(b), 'recalled');
    assert.equal(recalls.status(c), 'recalled');
    assert.equal(recalls.status(idAt(300)), 'unknown');
    assert.equal(recalls.status(fresh), 'not-recalled');
  });
});
