/**
 * Rate limits (HERALD_RATE_*) over real HTTP against a started Herald, with small limits so the
 * tests stay short. The same limits counted in Redis by two processes: test/integration/rate-limits.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiResponse, startInProcess } from '../helpers/herald.js';

type Herald = Awaited<ReturnType<typeof startInProcess>>;

/** A 429 as the contract promises: problem+json HERALD_RATE_LIMITED, Retry-After and RateLimit-*. */
function assertLimited(res: ApiResponse, limit: number, maxSeconds = 60) {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal(res.body.code, 'HERALD_RATE_LIMITED');
  const retryAfter = res.headers.get('retry-after') ?? '';
  assert.match(retryAfter, /^[1-9]\d*$/, `Retry-After ${retryAfter}`);
  assert.ok(Number(retryAfter) <= maxSeconds, `Retry-After ${retryAfter} ≤ ${maxSeconds}`);
  assert.equal(res.headers.get('ratelimit-limit'), String(limit));
  assert.equal(res.headers.get('ratelimit-remaining'), '0');
  assert.equal(res.headers.get('ratelimit-reset'), retryAfter);
}

describe('rate limits', () => {
  let h: Herald;
  before(async () => {
    h = await startInProcess({
      HERALD_RATE_SEND: '4',
      HERALD_RATE_SEND_BURST: '0',
      HERALD_RATE_RECIPIENT: '3',
      HERALD_RATE_WS_TICKET: '2',
      HERALD_RATE_UNAUTHENTICATED: '3',
    });
  });
  after(() => h.stop());

  const send = async (from: string, to: string, options: { admin?: boolean } = {}) =>
    h.api('POST', '/api/v1/send', { token: await h.token(from, options), body: { uid: to, msg: `from ${from}` } });

  it('refuses a non-admin sender over HERALD_RATE_SEND with 429, Retry-After and RateLimit-*', async () => {
    for (let k = 1; k <= 4; k++) {
      const res = await send('alice', `alice-to-${k}`);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.ok(res.headers.get('ratelimit-limit'), 'an accepted send carries RateLimit-*');
    }
    const over = await send('alice', 'alice-to-5');
    assertLimited(over, 4);
    assert.match(over.body.detail, /HERALD_RATE_SEND/);
    // Another sender has its own budget.
    assert.equal((await send('alan', 'alan-to-1')).status, 202);
  });

  it('does not count requests refused before they are accepted', async () => {
    const token = await h.token('vera');
    for (let k = 0; k < 6; k++) {
      const res = await h.api('POST', '/api/v1/send', { token, body: { uid: `vera-to-${k}` } });
      assert.equal(res.status, 400);
    }
    for (let k = 0; k < 4; k++) assert.equal((await send('vera', `vera-to-${k}`)).status, 202);
  });

  it('does not limit admins (HERALD_RATE_ADMINS=false)', async () => {
    for (let k = 0; k < 12; k++) {
      const res = await send('ops', 'alice-to-1', { admin: true });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.headers.get('ratelimit-limit'), null);
    }
  });

  it('limits sends to one recipient from non-admin senders, whoever sends (HERALD_RATE_RECIPIENT)', async () => {
    for (const from of ['bob', 'carol', 'dan']) assert.equal((await send(from, 'erin')).status, 202);
    const over = await send('frank', 'erin');
    assertLimited(over, 3);
    assert.match(over.body.detail, /HERALD_RATE_RECIPIENT/);
    assert.equal((await send('frank', 'gina')).status, 202, 'another recipient is not limited');
    assert.equal((await send('ops', 'erin', { admin: true })).status, 202, 'an admin may still message the recipient');
  });

  it('limits WebSocket tickets per user (HERALD_RATE_WS_TICKET)', async () => {
    const token = await h.token('tom');
    for (let k = 0; k < 2; k++) assert.equal((await h.api('POST', '/api/v1/ws/token', { token })).status, 200);
    assertLimited(await h.api('POST', '/api/v1/ws/token', { token }), 2);
    assert.equal((await h.api('POST', '/api/v1/ws/token', { token: await h.token('tina') })).status, 200);
    const admin = await h.token('ops', { admin: true });
    for (let k = 0; k < 4; k++) assert.equal((await h.api('POST', '/api/v1/ws/token', { token: admin })).status, 200);
  });

  it('limits requests without a valid token per address (HERALD_RATE_UNAUTHENTICATED), but not probes or valid tokens', async () => {
    const statuses: number[] = [];
    for (let k = 0; k < 2; k++) statuses.push((await h.api('GET', '/openapi.json')).status);
    statuses.push((await h.api('GET', '/api/v1/messages', { token: 'not-a-token' })).status);
    assert.deepEqual(statuses, [200, 200, 401]);
    assertLimited(await h.api('GET', '/openapi.json'), 3);
    assertLimited(await h.api('POST', '/api/v1/send', { token: 'not-a-token', body: { uid: 'x', msg: 'y' } }), 3);
    assert.equal((await h.api('GET', '/healthz')).status, 200, '/healthz is not counted');
    const res = await h.api('GET', '/api/v1/messages', { token: await h.token('tina') });
    assert.equal(res.status, 200, 'a request with a valid token is not counted against the address');
  });
});

describe('rate limits: burst', () => {
  let h: Herald;
  before(async () => {
    h = await startInProcess({ HERALD_RATE_SEND: '60', HERALD_RATE_SEND_BURST: '3', HERALD_RATE_RECIPIENT: '0' });
  });
  after(() => h.stop());

  it('lets a sender send HERALD_RATE_SEND_BURST in a row, then refuses until the burst window (60×burst/rate s) has passed', async () => {
    const token = await h.token('bursty');
    const send = (k: number) => h.api('POST', '/api/v1/send', { token, body: { uid: `b${k}`, msg: 'burst' } });
    for (let k = 0; k < 3; k++) assert.equal((await send(k)).status, 202);
    const over = await send(3);
    // Burst 3 at 60/min: the burst window is 3 s.
    assertLimited(over, 3, 3);
    await new Promise((resolve) => setTimeout(resolve, Number(over.headers.get('retry-after')) * 1000 + 100));
    const again = await send(4);
    assert.equal(again.status, 202, JSON.stringify(again.body));
  });
});

describe('rate limits: Redis unreachable', () => {
  let h: Herald;
  before(async () => {
    // Nothing listens on port 1: every Redis command fails at once.
    h = await startInProcess({ HERALD_REDIS_URL: 'redis://127.0.0.1:1', HERALD_RATE_SEND: '3', HERALD_RATE_SEND_BURST: '0', HERALD_LOG_LEVEL: 'silent' });
  });
  after(() => h.stop());

  it('keeps serving and counts in this process instead (no 500s)', async () => {
    const token = await h.token('offline');
    const statuses: number[] = [];
    for (let k = 0; k < 4; k++) statuses.push((await h.api('POST', '/api/v1/send', { token, body: { uid: `o${k}`, msg: 'hi' } })).status);
    assert.deepEqual(statuses, [202, 202, 202, 429]);
  });
});
