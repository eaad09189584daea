/**
 * The demo inbox (GET /demo, client/demo/) in a real Chromium, as a person uses it: the page is
 * opened from Herald itself, a user token is pasted into the "User token" field, messages sent
 * over REST appear in the list as they are sent, the bell counts them as the API does, "Mark
 * read" and "Mark all read" change the server's count, "Archive" and a recall take a message off
 * the list, and hostile message text is shown as text. The page's files carry a
 * Content-Security-Policy that forbids inline scripts, and the page works under it (Chromium
 * enforces it: a violation would leave the page dead).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { eventually, startChild } from '../helpers/herald.js';

const CHROMIUM = '/usr/bin/chromium';
const UID = 'dora';

type Herald = Awaited<ReturnType<typeof startChild>>;

describe('the demo inbox in Chromium', () => {
  let browser: Browser;
  let tab: Page;
  let herald: Herald;
  let admin: string;
  let userToken: string;
  const pageErrors: string[] = [];

  const send = async (msg: string, opts: Record<string, unknown> = {}) => {
    const res = await herald.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: UID, opts } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const apiUnread = async () => (await herald.api('GET', '/api/v1/messages/count?state=unread', { token: userToken })).body.count as number;
  const bell = () => tab.getByRole('button', { name: /^Unread messages: \d+$/ });
  const bellSays = async (count: number) => {
    await tab.waitForFunction((n) => (globalThis as any).document.getElementById('bell')?.getAttribute('aria-label') === `Unread messages: ${n}`, count, {
      timeout: 30_000,
    });
  };

  before(async () => {
    herald = await startChild();
    admin = await herald.token('ops', { admin: true });
    userToken = await herald.token(UID);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    tab = await browser.newPage();
    tab.on('pageerror', (error) => pageErrors.push(String(error)));
    tab.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    await herald?.kill();
  });

  it('serves its files with a Content-Security-Policy that allows only its own scripts, and revalidates them by ETag', async () => {
    for (const path of ['/demo', '/demo/demo.js', '/demo/demo.css', '/demo/sw.js']) {
      const res = await fetch(`${herald.url}${path}`);
      assert.equal(res.status, 200, path);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300', path);
      const etag = res.headers.get('etag') as string;
      const again = await fetch(`${herald.url}${path}`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304, path);
    }
    const html = await (await fetch(`${herald.url}/demo`)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  });

  it('signs in with a pasted user token and lists the inbox, the bell counting unread messages', { timeout: 60_000 }, async () => {
    await send('sent before the page opened', { title: 'Earlier' });
    await tab.goto(`${herald.url}/demo`);
    await tab.getByLabel('User token').fill(userToken);
    await tab.getByRole('button', { name: 'Connect' }).click();
    await tab.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    await tab.getByRole('list', { name: 'Messages' }).getByText('sent before the page opened').waitFor();
    await bellSays(1);
    assert.equal(await bell().isEnabled(), true);
    assert.equal(await tab.evaluate(() => (globalThis as any).location.href.includes('ey')), false, 'the token is not put in the URL');
  });

  it('adds live messages as they are sent, as text however they are written', { timeout: 60_000 }, async () => {
    const hostile = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    await send(hostile, { title: '<script>window.pwned=2</script>' });
    const list = tab.getByRole('list', { name: 'Messages' });
    await list.getByText(hostile, { exact: true }).waitFor({ timeout: 30_000 });
    await bellSays(2);
    assert.equal(await tab.locator('#messages img, #messages b, #messages script').count(), 0, 'no markup from a message');
    assert.equal(await tab.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);
    assert.equal(await apiUnread(), 2);
  });

  it('marks one message read, then all, and the server counts what the bell shows', { timeout: 60_000 }, async () => {
    const first = await send('read me first');
    await tab.getByRole('list', { name: 'Messages' }).getByText('read me first').waitFor({ timeout: 30_000 });
    await bellSays(3);
    await tab.getByRole('button', { name: 'Mark read: read me first' }).click();
    await bellSays(2);
    // The SDK moves the count as soon as the read is taken (offline-first); the server follows.
    await eventually(async () => (await apiUnread()) === 2, 10_000, 'the server counts the read');
    const detail = await herald.api('GET', `/api/v1/messages/${first}`, { token: userToken });
    assert.notEqual(detail.body.state.read, null, 'the message the button named is the one read');

    await tab.getByRole('button', { name: 'Mark all read' }).click();
    await bellSays(0);
    await eventually(async () => (await apiUnread()) === 0, 10_000, 'the server counts them read');
    assert.equal(await tab.locator('#messages li.unread').count(), 0);
    assert.deepEqual(pageErrors, [], 'no script error and no CSP violation in the page');
  });

  it('archives a message with its button, and drops a message its sender recalled', { timeout: 60_000 }, async () => {
    const list = tab.getByRole('list', { name: 'Messages' });
    const archived = await send('archive me');
    const recalled = await send('recall me');
    await list.getByText('recall me').waitFor({ timeout: 30_000 });
    await tab.getByRole('button', { name: 'Archive: archive me' }).click();
    await list.getByText('archive me').waitFor({ state: 'detached', timeout: 30_000 });
    await eventually(
      async () => {
        const res = await herald.api('GET', '/api/v1/messages', { token: userToken });
        return !res.body.messages.some((m: { id: string }) => m.id === archived);
      },
      10_000,
      'the server no longer lists the archived message',
    );
    assert.equal((await herald.api('DELETE', `/api/v1/messages/${recalled}`, { token: admin })).status, 204);
    await list.getByText('recall me').waitFor({ state: 'detached', timeout: 30_000 });
    await bellSays(0);
  });

  it('reconnects by itself after a reload, with the token kept in session storage', { timeout: 60_000 }, async () => {
    await tab.reload();
    await tab.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    await send('after the reload');
    await tab.getByRole('list', { name: 'Messages' }).getByText('after the reload').waitFor({ timeout: 30_000 });
    await bellSays(1);
  });
});
