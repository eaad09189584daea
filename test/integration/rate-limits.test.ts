/**
 * Rate limits counted in Redis (HERALD_REDIS_URL): two Herald processes sharing one Redis limit as
 * one — sends through both count against one budget. Keys are namespaced by HERALD_CLUSTER_NAME,
 * unique per run here so runs never share counters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startInProcess } from '../helpers/herald.js';
import { servicesEnv, waitForPort } from '../helpers/services.js';

const { redisUrl, endpoints } = servicesEnv();

describe('rate limits in Redis, shared by two processes', () => {
  let a: Awaited<ReturnType<typeof startInProcess>>;
  let b: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    await waitForPort(endpoints.redis.host, endpoints.redis.port, 3_000);
    const env = {
      HERALD_REDIS_URL: redisUrl,
      HERALD_CLUSTER_NAME: `rl${randomBytes(6).toString('hex')}`,
      HERALD_RATE_SEND: '6',
      HERALD_RATE_SEND_BURST: '0',
      HERALD_RATE_RECIPIENT: '4',
      HERALD_RATE_WS_TICKET: '2',
    };
    a = await startInProcess(env);
    b = await startInProcess(env);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("counts a sender's sends through both processes against one HERALD_RATE_SEND budget", async () => {
    const token = await a.token('shared-sender');
    const send = (h: typeof a, k: number) => h.api('POST', '/api/v1/send', { token, body: { uid: `r${k}`, msg: 'hi' } });
    for (let k = 0; k < 6; k++) {
      const res = await send(k % 2 === 0 ? a : b, k);
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    for (const h of [a, b]) {
      const over = await send(h, 99);
      assert.equal(over.status, 429, JSON.stringify(over.body));
      assert.equal(over.body.code, 'HERALD_RATE_LIMITED');
      assert.match(over.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal(over.headers.get('ratelimit-limit'), '6');
      assert.equal(over.headers.get('ratelimit-remaining'), '0');
    }
  });

  it('counts sends to one recipient and tickets across both processes', async () => {
    for (let k = 0; k < 4; k++) {
      const h = k % 2 === 0 ? a : b;
      const res = await h.api('POST', '/api/v1/send', { token: await h.token(`fan${k}`), body: { uid: 'star', msg: 'hi' } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const over = await b.api('POST', '/api/v1/send', { token: await b.token('fan9'), body: { uid: 'star', msg: 'hi' } });
    assert.equal(over.status, 429);
    const token = await a.token('ticket-user');
    assert.equal((await a.api('POST', '/api/v1/ws/token', { token })).status, 200);
    assert.equal((await b.api('POST', '/api/v1/ws/token', { token })).status, 200);
    assert.equal((await a.api('POST', '/api/v1/ws/token', { token })).status, 429);
  });
});
