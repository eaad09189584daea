/**
 * One-click unsubscribe (RFC 8058) end to end: Herald sends through a real SMTP server (the
 * loopback fake), the test reads the List-Unsubscribe headers off the received mail, opens the
 * link (GET changes nothing), posts the one-click form without any login, and checks the
 * preferences changed and the next email of that scope is not sent. Then hostile input: a
 * tampered, expired or foreign token, other media types, a missing field, a huge body. And a
 * Herald without a public https URL sends no header at all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUnsubscribeTokens, UNSUBSCRIBE_SECONDS, unsubscribeBase } from '../../../src/auth/unsubscribe.js';
import { type ReceivedMail, type SmtpFake, startSmtpFake } from '../../fakes/smtp.js';
import { eventually, startInProcess } from '../../helpers/herald.js';

const TICKET_SECRET = 'ticket-secret-for-the-unsubscribe-test-0123456789';
const PUBLIC_URL = 'https://herald.test';

/** A header of the raw mail, unfolded; undefined when absent. */
function rawHeader(mail: ReceivedMail, name: string): string | undefined {
  const head = mail.raw.toString('utf8').split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** The path and query of the mail's List-Unsubscribe link (its host is HERALD_PUBLIC_URL's, a proxy in front of Herald). */
function unsubscribePath(mail: ReceivedMail): string {
  const header = rawHeader(mail, 'List-Unsubscribe');
  const match = /^<(https:\/\/herald\.test\/unsubscribe\?token=[^>]+)>$/.exec(header ?? '');
  assert.ok(match?.[1], `List-Unsubscribe: ${header}`);
  const url = new URL(match[1]);
  return `${url.pathname}${url.search}`;
}

describe('List-Unsubscribe: one-click unsubscribe from a real email', () => {
  let smtp: SmtpFake;
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    smtp = await startSmtpFake();
    h = await startInProcess({ HERALD_SMTP_URL: smtp.url, HERALD_PUBLIC_URL: PUBLIC_URL, HERALD_TICKET_SECRET: TICKET_SECRET });
    admin = await h.token('ops', { admin: true });
    for (const uid of ['uma', 'bob']) {
      assert.equal((await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { email: `${uid}@example.com` } })).status, 200);
    }
  });
  after(async () => {
    await h.stop();
    await smtp.close();
  });

  const form = (path: string, body: string, contentType = 'application/x-www-form-urlencoded') =>
    fetch(h.url + path, { method: 'POST', headers: { 'content-type': contentType }, body });
  const send = async (uid: string, opts: Record<string, unknown>) => {
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { uid, msg: 'weekly news', opts: { channels: ['email'], ...opts } } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const emailed = async (id: string) => {
    await h.triaged(id);
    return eventually(
      async () => {
        const receipts = (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts as Array<{
          channel: string;
          state: string;
          reason?: string;
        }>;
        return receipts.find((r) => r.channel === 'email' && r.state !== 'queued');
      },
      10_000,
      `the email receipt of ${id}`,
    );
  };
  const mailOf = async (id: string) => (await smtp.waitForMessages(smtp.received.length)).find((m) => rawHeader(m, 'X-Herald-Message-Id') === id);
  const preferencesOf = async (uid: string) => (await h.api('GET', '/api/v1/preferences', { token: await h.token(uid) })).body;

  it('switches the category off with one POST, no login; the next email of it is not sent', async () => {
    const id = await send('uma', { category: 'news' });
    assert.equal((await emailed(id)).state, 'sent');
    const mail = await mailOf(id);
    assert.ok(mail, 'the email reached the SMTP server');
    assert.equal(rawHeader(mail, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
    const path = unsubscribePath(mail);

    // GET shows a page with a button and changes nothing.
    const page = await fetch(h.url + path);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const html = await page.text();
    assert.match(html, /<form method="post" action="">/);
    assert.match(html, /name="List-Unsubscribe" value="One-Click"/);
    assert.match(html, /news/);
    assert.deepEqual((await preferencesOf('uma')).categories, {});

    const posted = await form(path, 'List-Unsubscribe=One-Click');
    assert.equal(posted.status, 200, await posted.clone().text());
    assert.match(await posted.text(), /no longer receive/);
    assert.deepEqual((await preferencesOf('uma')).categories, { news: { enabled: false } });
    // Again: idempotent.
    assert.equal((await form(path, 'List-Unsubscribe=One-Click')).status, 200);
    assert.deepEqual((await preferencesOf('uma')).categories, { news: { enabled: false } });
    assert.deepEqual((await preferencesOf('bob')).categories, {}, 'nobody else changed');

    const before = smtp.received.length;
    const next = await send('uma', { category: 'news' });
    const suppressed = await emailed(next);
    assert.equal(suppressed.state, 'suppressed');
    assert.equal(suppressed.reason, 'category:news');
    const other = await send('uma', { category: 'billing' });
    assert.equal((await emailed(other)).state, 'sent', 'another category still reaches the user');
    await smtp.waitForMessages(before + 1);
    assert.equal(smtp.received.length, before + 1, 'only the billing email was sent');
  });

  it('a message without a category offers to switch email off, and does', async () => {
    const id = await send('bob', {});
    await emailed(id);
    const mail = await mailOf(id);
    assert.ok(mail);
    const path = unsubscribePath(mail);
    assert.match(await (await fetch(h.url + path)).text(), /Stop receiving emails\?/);
    assert.equal((await form(path, 'List-Unsubscribe=One-Click')).status, 200);
    assert.equal((await preferencesOf('bob')).channels.email, false);
    const next = await send('bob', {});
    const receipt = await emailed(next);
    assert.equal(receipt.state, 'suppressed');
    assert.equal(receipt.reason, 'preference');
    // Bob can switch email back on himself.
    assert.equal((await h.api('PUT', '/api/v1/preferences', { token: await h.token('bob'), body: { channels: { email: true } } })).status, 200);
  });

  it('refuses tampered, expired, foreign and missing tokens, other media types, a missing field and huge bodies', async () => {
    const tokens = createUnsubscribeTokens(TICKET_SECRET);
    const good = await tokens.sign('uma', { category: 'hostile' });
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'bob' })).toString('base64url')}.${signature}`;
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    const expired = await createUnsubscribeTokens(TICKET_SECRET, { now: () => Date.now() - (UNSUBSCRIBE_SECONDS + 60) * 1000 }).sign('uma', {
      category: 'hostile',
    });
    const otherKey = await createUnsubscribeTokens('another-ticket-secret-of-another-herald-0123').sign('uma', { category: 'hostile' });
    const ticket = (await h.api('POST', '/api/v1/ws/token', { token: await h.token('uma') })).body.token as string;
    const userJwt = await h.token('uma');
    const bad = { forged, flipped, expired, otherKey, ticket, userJwt, garbage: 'not-a-token', huge: 'x'.repeat(5000) };
    for (const [name, token] of Object.entries(bad)) {
      const path = `/unsubscribe?token=${encodeURIComponent(token)}`;
      const posted = await form(path, 'List-Unsubscribe=One-Click');
      assert.equal(posted.status, 400, `${name}: ${posted.status}`);
      assert.match(posted.headers.get('content-type') ?? '', /application\/problem\+json/, name);
      assert.equal(((await posted.json()) as { errors: Array<{ path: string }> }).errors[0]?.path, 'token', name);
      const page = await fetch(h.url + path, { headers: { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' } });
      assert.equal(page.status, 400, `${name} GET`);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await page.text(), /does not work/);
      const asApi = await fetch(h.url + path);
      assert.equal(asApi.status, 400, `${name} GET without Accept: text/html`);
      assert.match(asApi.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
    assert.equal((await form('/unsubscribe', 'List-Unsubscribe=One-Click')).status, 400);
    assert.equal((await fetch(`${h.url}/unsubscribe`)).status, 400);

    const path = `/unsubscribe?token=${encodeURIComponent(good)}`;
    for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x', '']) {
      const res = await form(path, 'List-Unsubscribe=One-Click', type);
      assert.equal(res.status, 415, `${type || 'no content type'}: ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
    for (const body of ['', 'List-Unsubscribe=Yes', 'one-click=1', 'List-Unsubscribe=One-Click'.toLowerCase()]) {
      const res = await form(path, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.status}`);
      assert.equal(((await res.json()) as { errors: Array<{ path: string }> }).errors[0]?.path, 'List-Unsubscribe');
    }
    const huge = await form(path, `List-Unsubscribe=One-Click&pad=${'x'.repeat(70_000)}`);
    assert.equal(huge.status, 413);
    assert.match(huge.headers.get('content-type') ?? '', /application\/problem\+json/);
    const preferences = await preferencesOf('uma');
    assert.equal(preferences.categories.hostile, undefined, 'no refused request switched anything off');
    assert.deepEqual((await preferencesOf('bob')).categories, {}, 'a forged sub never reached bob');

    // The same good token, properly posted, works (so the refusals above were about the input).
    assert.equal((await form(path, 'List-Unsubscribe=One-Click')).status, 200);
    assert.deepEqual((await preferencesOf('uma')).categories.hostile, { enabled: false });
  });

  it('a token signed before its user was erased writes nothing', async () => {
    const token = await createUnsubscribeTokens(TICKET_SECRET).sign('gone', { category: 'news' });
    assert.equal((await h.api('PUT', '/api/v1/users/gone', { token: admin, body: { email: 'gone@example.com' } })).status, 200);
    assert.equal((await h.api('DELETE', '/api/v1/users/gone', { token: admin })).status, 204);
    assert.equal((await form(`/unsubscribe?token=${encodeURIComponent(token)}`, 'List-Unsubscribe=One-Click')).status, 200);
    assert.equal((await h.api('GET', '/api/v1/users/gone', { token: admin })).status, 404);
  });
});

describe('List-Unsubscribe without a public https URL', () => {
  it('decides the link base from HERALD_PUBLIC_URL: https, or http on loopback only', () => {
    assert.equal(unsubscribeBase(undefined), undefined);
    assert.equal(unsubscribeBase(''), undefined);
    assert.equal(unsubscribeBase('http://herald.example.com'), undefined);
    assert.equal(unsubscribeBase('ftp://herald.example.com'), undefined);
    assert.equal(unsubscribeBase('https://herald.example.com'), 'https://herald.example.com/unsubscribe');
    assert.equal(unsubscribeBase('https://example.com/herald/'), 'https://example.com/herald/unsubscribe');
    assert.equal(unsubscribeBase('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/unsubscribe');
    assert.equal(unsubscribeBase('http://localhost:8080'), 'http://localhost:8080/unsubscribe');
  });

  it('sends emails without the headers when HERALD_PUBLIC_URL is unset', async () => {
    const smtp = await startSmtpFake();
    const h = await startInProcess({ HERALD_SMTP_URL: smtp.url });
    try {
      const admin = await h.token('ops', { admin: true });
      await h.api('PUT', '/api/v1/users/ned', { token: admin, body: { email: 'ned@example.com' } });
      const res = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'ned', msg: 'plain', opts: { channels: ['email'], category: 'news' } } });
      const [mail] = await smtp.waitForMessages(1);
      assert.ok(mail);
      assert.equal(rawHeader(mail, 'X-Herald-Message-Id'), res.body.id);
      assert.equal(rawHeader(mail, 'List-Unsubscribe'), undefined);
      assert.equal(rawHeader(mail, 'List-Unsubscribe-Post'), undefined);
    } finally {
      await h.stop();
      await smtp.close();
    }
  });
});
