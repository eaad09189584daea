/**
 * The admin console (GET /console, client/console/) in a real Chromium, as an admin uses it: the
 * token is pasted into the "Admin token" field, the live panel counts a connected WebSocket, a
 * broadcast composed in the page reaches that socket, a scheduled message is cancelled with its
 * button and never delivered, and a message found by search opens its receipt funnel. Controls
 * are reached by their accessible names only (getByLabel / getByRole). The page runs under its
 * Content-Security-Policy (Chromium enforces it) and shows hostile message text as text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { eventually, startInProcess, type TestSocket } from '../helpers/herald.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = '<img src=x onerror="globalThis.pwned=1">broadcast to all';

describe('the admin console in Chromium', () => {
  let browser: Browser;
  let tab: Page;
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  let watcher: TestSocket;
  const pageErrors: string[] = [];

  before(async () => {
    h = await startInProcess();
    admin = await h.token('ops', { admin: true });
    watcher = await h.socket('watcher');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    tab = await browser.newPage();
    tab.on('pageerror', (error) => pageErrors.push(String(error)));
    tab.on('console', (message) => {
      // The refused sign-in (a user token) is a 403 the browser logs: expected, not a page error.
      if (message.type() === 'error' && !/status of 403/.test(message.text())) pageErrors.push(message.text());
    });
  });

  after(async () => {
    watcher?.close();
    await browser?.close();
    await h?.stop();
  });

  it('serves its files under a strict Content-Security-Policy, with no inline script', async () => {
    for (const path of ['/console', '/console/console.js', '/console/console.css']) {
      const res = await fetch(`${h.url}${path}`);
      assert.equal(res.status, 200, path);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      const again = await fetch(`${h.url}${path}`, { headers: { 'if-none-match': res.headers.get('etag') as string } });
      assert.equal(again.status, 304, path);
    }
    const html = await (await fetch(`${h.url}/console`)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline handler');
  });

  it('refuses a user token, then signs in with the admin token and shows the live figures', { timeout: 60_000 }, async () => {
    const requested: string[] = [];
    tab.on('request', (request) => requested.push(request.url()));
    await tab.goto(`${h.url}/console`);
    await tab.getByLabel('Admin token', { exact: true }).fill(await h.token('mallory'));
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('status').filter({ hasText: 'Not signed in: 403' }).waitFor({ timeout: 15_000 });

    await tab.getByLabel('Admin token', { exact: true }).fill(admin);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('status').filter({ hasText: 'Signed in' }).waitFor({ timeout: 15_000 });
    // The watcher's socket is counted.
    await tab.waitForFunction(() => Number((globalThis as any).document.getElementById('sockets').textContent) >= 1, undefined, { timeout: 15_000 });
    const urgencies = await tab.getByRole('table', { name: 'Accepted messages per minute by urgency' }).locator('tbody tr td:first-child').allTextContents();
    assert.deepEqual(urgencies, ['very-low', 'low', 'normal', 'high']);
    assert.equal(await tab.evaluate(() => (globalThis as any).sessionStorage.getItem('herald.console.token')), admin);
    assert.ok(!requested.some((url) => url.includes(admin)), 'the token is never in a URL');
  });

  it('broadcasts from the composer, and a connected WebSocket client receives it', { timeout: 60_000 }, async () => {
    await tab.getByRole('textbox', { name: 'Message', exact: true }).fill(HOSTILE);
    await tab.getByLabel('Title', { exact: true }).fill('Maintenance');
    await tab.getByLabel('Urgency', { exact: true }).selectOption('high');
    await tab.waitForFunction(() => /\d/.test((globalThis as any).document.getElementById('everyone-size').textContent), undefined, { timeout: 15_000 });
    await tab.getByRole('button', { name: 'Broadcast' }).click();
    const result = tab.getByRole('status').filter({ hasText: 'Broadcast accepted' });
    await result.waitFor({ timeout: 15_000 });
    const id = ((await result.textContent()) ?? '').match(/accepted: (\S+)/)?.[1];
    const frame = await watcher.next((f) => f.type === 'message' && f.id === id, 15_000);
    assert.equal(frame.msg, HOSTILE);
    assert.equal(frame.title, 'Maintenance');
    assert.equal(frame.urgency, 'high');
    // The accepted high message shows in the live figures within a refresh.
    await tab.waitForFunction(
      () => {
        const rows = [...(globalThis as any).document.querySelectorAll('#accepted tr')] as any[];
        return rows.some((r) => r.cells[0].textContent === 'high' && Number(r.cells[2].textContent) >= 1);
      },
      undefined,
      { timeout: 15_000 },
    );
  });

  it('lists a scheduled message and cancels it with its button: it is never delivered', { timeout: 90_000 }, async () => {
    const dueInMs = 5_000;
    // datetime-local takes local time: the browser's, which is this machine's, as here.
    const due = new Date(Date.now() + dueInMs);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = `${due.getFullYear()}-${pad(due.getMonth() + 1)}-${pad(due.getDate())}T${pad(due.getHours())}:${pad(due.getMinutes())}:${pad(due.getSeconds())}`;
    await tab.getByRole('textbox', { name: 'Message', exact: true }).fill('scheduled, then cancelled');
    await tab.getByLabel('Title', { exact: true }).fill('');
    await tab.getByLabel('Urgency', { exact: true }).selectOption('');
    await tab.getByLabel('Schedule', { exact: true }).fill(local);
    await tab.getByLabel('Recipient uid', { exact: true }).fill('watcher');
    await tab.getByRole('button', { name: 'Send', exact: true }).click();
    const result = tab.getByRole('status').filter({ hasText: 'Send accepted' });
    await result.waitFor({ timeout: 15_000 });
    const id = ((await result.textContent()) ?? '').match(/accepted: (\S+)/)?.[1] as string;
    const cancel = tab.getByRole('button', { name: 'Cancel scheduled message: scheduled, then cancelled' });
    await cancel.click();
    await tab
      .getByRole('status')
      .filter({ hasText: `Cancelled ${id}` })
      .waitFor({ timeout: 15_000 });
    await cancel.waitFor({ state: 'detached', timeout: 15_000 });
    await tab.getByLabel('Schedule', { exact: true }).fill('');

    // Past its time, a message sent after it arrives: the cancelled one never did.
    await new Promise((resolve) => setTimeout(resolve, dueInMs + 1_000));
    const after = await h.api('POST', '/api/v1/send', { token: admin, body: { uid: 'watcher', msg: 'after the cancelled one' } });
    await watcher.next((f) => f.type === 'message' && f.id === after.body.id, 15_000);
    assert.ok(!watcher.messages().some((f) => f.id === id), 'the cancelled message reached the socket');
    const inbox = await h.api('GET', '/api/v1/messages', { token: await h.token('watcher') });
    assert.ok(!inbox.body.messages.some((m: any) => m.id === id), 'the cancelled message is in the inbox');
    const scheduled = await h.api('GET', '/api/v1/messages/scheduled', { token: admin });
    assert.ok(!scheduled.body.messages.some((m: any) => m.id === id));
  });

  it('finds a message and shows its receipts as a funnel per channel, with why a channel did not deliver', { timeout: 60_000 }, async () => {
    // watcher has no email address yet: the email channel is skipped, with its reason.
    const sent = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { uid: 'watcher', msg: 'funnel zebra message', opts: { channels: ['realtime', 'email'] } },
    });
    await watcher.next((f) => f.type === 'message' && f.id === sent.body.id, 15_000);
    await h.api('POST', '/api/v1/receipts', { token: await h.token('watcher'), body: { ids: [sent.body.id], state: 'read' } });

    await tab.getByLabel('Search messages', { exact: true }).fill('zebra');
    const open = tab.getByRole('button', { name: 'Receipts of: funnel zebra message' });
    await eventually(
      async () => {
        await tab.getByRole('button', { name: 'Search', exact: true }).click();
        return (await open.count()) === 1;
      },
      15_000,
      'the message found',
    );
    await open.click();
    const funnel = tab.getByRole('table', { name: /Receipts of “funnel zebra message”/ });
    await funnel.waitFor({ timeout: 15_000 });
    const rows = await funnel.locator('tbody tr').evaluateAll((trs: any[]) => trs.map((tr) => [...tr.cells].map((td: any) => td.textContent)));
    // Per channel: queued, sent, delivered, read, clicked, failed, skipped. The socket got the frame
    // (sent; this test client sends no ack); the inbox entry was read, so it counts as queued,
    // sent and delivered too; email was skipped.
    assert.deepEqual(rows, [
      ['email', '0', '0', '0', '0', '0', '0', '1'],
      ['inbox', '1', '1', '1', '1', '0', '0', '0'],
      ['realtime', '1', '1', '0', '0', '0', '0', '0'],
    ]);
    assert.deepEqual(await tab.getByRole('list', { name: 'Why not delivered' }).getByRole('listitem').allTextContents(), [
      'email suppressed: no-email-address × 1',
    ]);
  });

  it('looks up a user: contacts, devices, preferences and inbox', { timeout: 30_000 }, async () => {
    await h.api('PUT', '/api/v1/users/watcher', { token: admin, body: { email: 'watcher@example.com' } });
    await tab.getByLabel('User id', { exact: true }).fill('watcher');
    await tab.getByRole('button', { name: 'Look up' }).click();
    await tab.getByText('watcher@example.com').waitFor({ timeout: 15_000 });
    await tab.getByRole('list', { name: 'Inbox' }).getByText('funnel zebra message').waitFor();
    await tab.getByRole('list', { name: 'Devices' }).getByText('No devices.').waitFor();
  });

  it('showed hostile text as text, with no script run and no page error', async () => {
    assert.equal(await tab.evaluate(() => (globalThis as any).pwned), undefined);
    await tab.getByLabel('Search messages', { exact: true }).fill('broadcast');
    await tab.getByRole('button', { name: 'Search', exact: true }).click();
    await tab.getByRole('list', { name: 'Search results' }).getByText(HOSTILE).waitFor({ timeout: 15_000 });
    assert.equal(await tab.locator('#search-results img').count(), 0);
    assert.deepEqual(pageErrors, []);
  });
});
