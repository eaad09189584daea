/**
 * Input rules over real HTTP: audiences that would select everyone, links and link-like email
 * vars outside http(s) and HERALD_LINK_SCHEMES, control characters in search `q`, report and
 * search dates out of range, and uids with format characters (bidi controls, zero-width).
 * Every refusal is a 400 problem+json naming the field.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { startInProcess, TEST_SECRET } from '../helpers/herald.js';

describe('input rules', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess({ HERALD_LINK_SCHEMES: 'myapp' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  /** Asserts a 400 problem+json whose errors name `path` (or a path under it), and returns it. */
  const assertNames = (res: { status: number; headers: Headers; body: any }, path: string) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.body.code, 'HERALD_INVALID_REQUEST');
    const paths: string[] = (res.body.errors ?? []).map((e: any) => e.path);
    assert.ok(
      paths.some((p) => p === path || p.startsWith(`${path}.`)),
      `${path} in ${JSON.stringify(paths)}`,
    );
    return res;
  };
  const multicast = (raw: string) => h.api('POST', '/api/v1/multicast', { token: admin, raw, headers: { 'content-type': 'application/json' } });
  const send = (opts: Record<string, unknown>, token = admin) => h.api('POST', '/api/v1/send', { token, body: { msg: 'x', uid: 'bob', opts } });

  it('refuses an empty audience and one made only of reserved keys, naming audience.where', async () => {
    assertNames(await multicast('{"msg":"x","audience":{"where":{}}}'), 'audience.where');
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      assertNames(await multicast(`{"msg":"x","audience":{"where":{"${key}":{"plan":"pro"}}}}`), 'audience.where');
      assertNames(await multicast(`{"msg":"x","audience":{"where":{"${key}":"pro"}}}`), 'audience.where');
    }
    // A real condition is still accepted.
    assert.equal((await multicast('{"msg":"x","audience":{"where":{"plan":"pro"}}}')).status, 202);
  });

  it('accepts http(s) and configured app links; refuses javascript, data, vbscript, file and unknown schemes', async () => {
    for (const link of ['https://shop.example/o/1', 'http://shop.example/o/1', 'myapp://orders/1']) {
      assert.equal((await send({ link })).status, 202, link);
    }
    for (const link of [
      'javascript:alert(1)',
      'JavaScript:alert(document.domain)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'otherapp://x',
    ]) {
      const res = assertNames(await send({ link }), 'opts.link');
      assert.match(res.body.errors[0].message, /links are (never|not) accepted/, link);
    }
  });

  it('holds link-like email vars to the same rule, nested too, and leaves prose alone', async () => {
    assert.equal(
      (await send({ email: { vars: { name: 'Ada', note: 'Note: bring ID', when: '10:30', site: 'https://ok.example', app: 'myapp://x' } } })).status,
      202,
    );
    assertNames(await send({ email: { vars: { cta: 'javascript:alert(1)' } } }), 'opts.email.vars.cta');
    assertNames(await send({ email: { vars: { cta: 'javascript: alert(1)' } } }), 'opts.email.vars.cta');
    assertNames(await send({ email: { vars: { items: [{ link: 'https://ok.example' }, { link: 'data:text/html,x' }] } } }), 'opts.email.vars.items.1.link');
    assertNames(await send({ email: { vars: { other: 'otherapp://x' } } }), 'opts.email.vars.other');
  });

  it('refuses NUL and other control characters in search q, naming q', async () => {
    for (const q of ['a%00b', '%00', 'a%0Ab', 'a%1Bb']) assertNames(await h.api('GET', `/api/v1/messages/search?q=${q}`, { token: admin }), 'q');
    assert.equal((await h.api('GET', '/api/v1/messages/search?q=order', { token: admin })).status, 200);
  });

  it('refuses report and search dates outside 1970..9999 and from after to, naming the field', async () => {
    const far = encodeURIComponent('+010000-01-01T00:00:00.000Z');
    const early = encodeURIComponent('1969-12-31T23:59:59Z');
    const ancient = encodeURIComponent('-000001-01-01T00:00:00.000Z');
    for (const base of ['/api/v1/reports?', '/api/v1/messages/search?q=x&']) {
      assertNames(await h.api('GET', `${base}from=${far}`, { token: admin }), 'from');
      assertNames(await h.api('GET', `${base}to=${far}`, { token: admin }), 'to');
      assertNames(await h.api('GET', `${base}from=${early}`, { token: admin }), 'from');
      assertNames(await h.api('GET', `${base}to=${ancient}`, { token: admin }), 'to');
      assertNames(await h.api('GET', `${base}from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, { token: admin }), 'from');
      assert.equal((await h.api('GET', `${base}from=2026-01-01T00:00:00Z&to=9999-12-31T00:00:00Z`, { token: admin })).status, 200, base);
    }
  });

  it('refuses uids with format characters (bidi controls, zero-width) wherever a uid is accepted', async () => {
    const sneaky = ['bob\u200b', 'ali\u202ece', '\u2066bob', 'bo\ufeffb', 'b\u200dob'];
    for (const uid of sneaky) {
      assertNames(await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'x', uid } }), 'uid');
      assertNames(await h.api('PUT', `/api/v1/users/${encodeURIComponent(uid)}`, { token: admin, body: { locale: 'en' } }), 'uid');
      assertNames(await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'x', uids: ['ok', uid] } }), 'uids.1');
      assertNames(await h.api('GET', `/api/v1/messages/search?q=x&uid=${encodeURIComponent(uid)}`, { token: admin }), 'uid');
      // A token whose sub has one is not a caller.
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uid)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(TEST_SECRET));
      const res = await h.api('GET', '/api/v1/messages', { token });
      assert.equal(res.status, 401, uid);
      assert.equal(res.body.code, 'HERALD_UNAUTHORIZED');
    }
    // Printable non-ASCII uids are still fine.
    assert.equal((await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'x', uid: 'zoë-日本' } })).status, 202);
  });
});
