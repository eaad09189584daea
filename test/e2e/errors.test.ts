/** Every error status of docs/api.md, as problem+json naming what is wrong; and users kept apart. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { eventually, startInProcess, TEST_SECRET, TestSocket } from '../helpers/herald.js';

describe('errors', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  let user: string;
  before(async () => {
    h = await startInProcess({ HERALD_BODY_LIMIT: '2048' });
    admin = await h.token('ops', { admin: true });
    user = await h.token('alice');
  });
  after(() => h.stop());

  const assertProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.body.status, status);
    assert.equal(res.body.code, code);
    assert.equal(typeof res.body.title, 'string');
    assert.equal(typeof res.body.type, 'string');
    assert.ok(res.headers.get('x-request-id'));
    assert.ok(!JSON.stringify(res.body).includes('    at '), 'no stack trace');
  };

  it('400 lists every invalid field of the body by path', async () => {
    const res = await h.api('POST', '/api/v1/send', {
      token: user,
      body: { msg: '', uid: 'has space', opts: { urgency: 'urgent', ttl: -1, channels: ['pigeon'], bogus: 1 } },
    });
    assertProblem(res, 400, 'HERALD_INVALID_REQUEST');
    const paths = res.body.errors.map((e: any) => e.path).sort();
    for (const path of ['msg', 'uid', 'opts.urgency', 'opts.ttl', 'opts.channels.0']) assert.ok(paths.includes(path), `${path} in ${paths}`);
    assert.ok(
      res.body.errors.some((e: any) => e.path === 'opts' && /bogus/.test(e.message)),
      'unknown field named',
    );
  });

  it('400 for malformed JSON, a missing body, and bad query parameters', async () => {
    assertProblem(
      await h.api('POST', '/api/v1/send', { token: user, raw: '{"msg": ', headers: { 'content-type': 'application/json' } }),
      400,
      'HERALD_INVALID_JSON',
    );
    assertProblem(await h.api('POST', '/api/v1/send', { token: user }), 400, 'HERALD_INVALID_REQUEST');
    for (const [query, param] of [
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=201', 'limit'],
      ['state=bogus', 'state'],
      ['since=xyz', 'since'],
      ['nope=1', '(body)'],
    ]) {
      const res = await h.api('GET', `/api/v1/messages?${query}`, { token: user });
      assertProblem(res, 400, 'HERALD_INVALID_REQUEST');
      if (param !== '(body)') assert.equal(res.body.errors[0].path, param, query);
    }
  });

  it('400 for an unknown email template and for at with delay', async () => {
    // An admin's: a user may not give email options at all (HERALD_USER_SEND=inapp).
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'x', uid: 'bob', opts: { email: { template: 'nope' } } } });
    assertProblem(res, 400, 'HERALD_INVALID_REQUEST');
    assert.equal(res.body.errors[0].path, 'opts.email.template');
    const both = await h.api('POST', '/api/v1/send', { token: user, body: { msg: 'x', uid: 'bob', opts: { delay: 5, at: new Date().toISOString() } } });
    assert.equal(both.body.errors[0].path, 'opts.delay');
  });

  it('401 without a token, with a bad signature, expired, or with a ws ticket as API token', async () => {
    assertProblem(await h.api('POST', '/api/v1/send', { body: { msg: 'x', uid: 'bob' } }), 401, 'HERALD_UNAUTHORIZED');
    assertProblem(await h.api('GET', '/api/v1/messages', { headers: { authorization: 'Basic abc' } }), 401, 'HERALD_UNAUTHORIZED');
    const forged = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ops')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('wrong-secret'));
    const bad = await h.api('GET', '/api/v1/messages', { token: forged });
    assertProblem(bad, 401, 'HERALD_UNAUTHORIZED');
    assert.match(bad.body.detail, /signature/);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_SECRET));
    const old = await h.api('GET', '/api/v1/messages', { token: expired });
    assertProblem(old, 401, 'HERALD_UNAUTHORIZED');
    assert.match(old.body.detail, /expired/);
    const none = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET));
    assertProblem(await h.api('GET', '/api/v1/messages', { token: none }), 401, 'HERALD_UNAUTHORIZED');
    const ticket = await h.api('POST', '/api/v1/ws/token', { token: user });
    assertProblem(await h.api('GET', '/api/v1/messages', { token: ticket.body.token }), 401, 'HERALD_UNAUTHORIZED');
  });

  it('401 before the WebSocket upgrade without a valid ticket', async () => {
    const wsUrl = h.url.replace('http', 'ws');
    await assert.rejects(TestSocket.open(`${wsUrl}/ws`), (e: any) => e.status === 401);
    await assert.rejects(TestSocket.open(`${wsUrl}/ws?token=garbage`), (e: any) => e.status === 401);
    await assert.rejects(TestSocket.open(`${wsUrl}/ws?token=${user}`), (e: any) => e.status === 401, 'an API token is not a ticket');
  });

  it('403 for a non-admin on admin endpoints', async () => {
    assertProblem(await h.api('POST', '/api/v1/broadcast', { token: user, body: { msg: 'x' } }), 403, 'HERALD_FORBIDDEN');
    assertProblem(await h.api('POST', '/api/v1/multicast', { token: user, body: { msg: 'x', uids: ['a'] } }), 403, 'HERALD_FORBIDDEN');
    assertProblem(await h.api('GET', '/api/v1/messages/search?q=x', { token: user }), 403, 'HERALD_FORBIDDEN');
    assertProblem(await h.api('GET', '/api/v1/reports', { token: user }), 403, 'HERALD_FORBIDDEN');
    assertProblem(await h.api('PUT', '/api/v1/users/bob', { token: user, body: { email: 'bob@example.com' } }), 403, 'HERALD_FORBIDDEN');
    assertProblem(await h.api('PUT', '/api/v1/users/alice', { token: user, body: { attributes: { plan: 'pro' } } }), 403, 'HERALD_FORBIDDEN');
    // Contact fields are admin-only by default (HERALD_USER_CONTACTS=admin, test/e2e/send-policy.test.ts); the rest of one's own record is not.
    assertProblem(await h.api('PUT', '/api/v1/users/alice', { token: user, body: { email: 'alice@example.com' } }), 403, 'HERALD_FORBIDDEN');
    assert.equal((await h.api('PUT', '/api/v1/users/alice', { token: user, body: { locale: 'fr' } })).status, 200);
  });

  it('404 for unknown routes and unknown messages, 405 with Allow for a wrong method', async () => {
    assertProblem(await h.api('GET', '/api/v1/nope'), 404, 'HERALD_NOT_FOUND');
    assertProblem(await h.api('GET', '/api/v1/messages/0190a4a0-0000-7000-8000-000000000000', { token: admin }), 404, 'HERALD_NOT_FOUND');
    const wrong = await h.api('GET', '/api/v1/send', { token: user });
    assertProblem(wrong, 405, 'HERALD_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.get('allow'), 'POST, OPTIONS');
    assert.equal((await h.api('PATCH', '/api/v1/preferences', { token: user })).headers.get('allow'), 'GET, PUT, OPTIONS');
  });

  it('413 for a body over the limit, declared or chunked', async () => {
    const big = { msg: 'x'.repeat(3000), uid: 'bob' };
    assertProblem(await h.api('POST', '/api/v1/send', { token: user, body: big }), 413, 'HERALD_PAYLOAD_TOO_LARGE');
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${h.url}/api/v1/send`,
        { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 6; i++) req.write('x'.repeat(500));
      req.end();
    });
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).code, 'HERALD_PAYLOAD_TOO_LARGE');
    // A small chunked body is read whole.
    const ok = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${h.url}/api/v1/send`,
        { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"msg": "chunked", ');
      req.end('"uid": "bob"}');
    });
    assert.equal(ok, 202);
  });

  it('survives clients that abort mid-body or mid-request, and keeps serving', async () => {
    const before = await h.api('GET', '/metrics');
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const req = http.request(`${h.url}/api/v1/send`, { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-length': '500' } });
        req.on('error', () => resolve());
        req.write('{"msg": "half');
        setImmediate(() => {
          req.destroy();
          resolve();
        });
      });
    }
    assert.equal(before.status, 200);
    const ok = await h.api('POST', '/api/v1/send', { token: user, body: { msg: 'after the aborts', uid: 'bob' } });
    assert.equal(ok.status, 202);
    // Nothing half-received was accepted.
    const inbox = await h.api('GET', '/api/v1/messages?limit=200', { token: await h.token('bob') });
    assert.ok(!inbox.body.messages.some((m: any) => m.msg.startsWith('half')));
  });

  it('keeps users apart: no reading or acknowledging another user’s message', async () => {
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'private', uid: 'victim' } });
    const victim = await h.token('victim');
    await eventually(async () => (await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token: victim })).status === 200, 10_000, 'in victim inbox');
    assertProblem(await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token: user }), 404, 'HERALD_NOT_FOUND');
    assert.equal(
      (await h.api('GET', '/api/v1/messages', { token: user })).body.messages.some((m: any) => m.id === sent.body.id),
      false,
    );
    assert.equal((await h.api('POST', '/api/v1/receipts', { token: user, body: { ids: [sent.body.id], state: 'read' } })).status, 204);
    const mallory = await h.socket('alice');
    mallory.send({ type: 'read', ids: [sent.body.id] });
    mallory.send({ type: 'ping' });
    await mallory.next((f) => f.type === 'pong');
    mallory.close();
    const seen = await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token: victim });
    assert.equal(seen.body.state.read, null);
    assert.deepEqual(seen.body.receipts, []);
    // The admin sees every recipient's receipts.
    assert.equal((await h.api('GET', `/api/v1/messages/${sent.body.id}`, { token: admin })).body.target.uid, 'victim');
  });

  it('never echoes secrets: tokens are not in error bodies', async () => {
    const res = await h.api('GET', '/api/v1/messages?limit=0', { token: user });
    assert.ok(!JSON.stringify(res.body).includes(user));
  });
});
