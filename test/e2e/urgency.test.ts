/** Urgency orders work: a backlog of low-urgency messages never stands in front of a high one. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startInProcess } from '../helpers/herald.js';

describe('urgency', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_BODY_LIMIT: '262144' });
  });
  after(() => h.stop());

  it('delivers a high-urgency send while a large low-urgency backlog is still being triaged', async () => {
    const admin = await h.token('ops', { admin: true });
    const vip = await h.socket('vip');
    const uids = Array.from({ length: 5000 }, (_, i) => `crowd-${i}`);
    const accepted = await Promise.all(
      Array.from({ length: 16 }, (_, i) => h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: `digest ${i}`, uids, opts: { urgency: 'low' } } })),
    );
    for (const res of accepted) assert.equal(res.status, 202);
    const low = accepted.map((res) => res.body.id as string).sort();
    const high = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'now!', uid: 'vip', opts: { urgency: 'high' } } });
    await vip.next((f) => f.id === high.body.id, 30_000);
    const lastLow = await h.api('GET', `/api/v1/messages/${low[low.length - 1]}`, { token: admin });
    assert.notEqual(lastLow.body.status, 'triaged', 'the high message overtook the low backlog');
    vip.close();
  });
});
