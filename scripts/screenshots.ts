/**
 * node --import tsx scripts/screenshots.ts — screenshots of Herald's pages for the docs, taken in
 * Chromium (/usr/bin/chromium; `bash scripts/ensure-chromium.sh` installs it) against a Herald
 * started here with some data: docs/screenshots/console.png, the admin console signed in, with
 * live figures, scheduled messages, a receipt funnel and a user looked up; docs/screenshots/demo.png,
 * the demo inbox of alice, one message read.
 */
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { startInProcess } from '../test/helpers/herald.js';

const OUT = new URL('../docs/screenshots/', import.meta.url);

async function main() {
  const h = await startInProcess({ HERALD_LOG_LEVEL: 'error' });
  const admin = await h.token('ops', { admin: true });
  const send = async (path: string, body: unknown) => {
    const res = await h.api('POST', path, { token: admin, body });
    if (res.status !== 202) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  for (const [uid, plan] of [
    ['alice', 'pro'],
    ['bob', 'pro'],
    ['carol', 'free'],
  ] as const) {
    await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { email: `${uid}@example.com`, locale: 'en', attributes: { plan } } });
  }
  await h.api('PUT', '/api/v1/preferences', { token: await h.token('alice'), body: { channels: { sms: false }, categories: {} } });
  const sockets = await Promise.all(['alice', 'bob'].map((uid) => h.socket(uid)));
  const welcome = await send('/api/v1/send', { uid: 'alice', msg: 'Welcome aboard, your workspace is ready', opts: { title: 'Welcome' } });
  await send('/api/v1/multicast', { msg: 'Pro plan: new reports are available', audience: { where: { plan: 'pro' } }, opts: { urgency: 'low' } });
  await send('/api/v1/broadcast', { msg: 'Maintenance tonight 22:00–23:00 UTC', opts: { title: 'Maintenance', urgency: 'high' } });
  await send('/api/v1/send', { uid: 'bob', msg: 'Your invoice for December', opts: { at: new Date(Date.now() + 86_400_000).toISOString(), topic: 'billing' } });
  await send('/api/v1/broadcast', { msg: 'Happy new year from the team', opts: { at: new Date(Date.now() + 30 * 86_400_000).toISOString() } });
  await h.triaged(welcome);
  await h.api('POST', '/api/v1/receipts', { token: await h.token('alice'), body: { ids: [welcome], state: 'read' } });

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await tab.goto(`${h.url}/console`);
    await tab.getByLabel('Admin token', { exact: true }).fill(admin);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('status').filter({ hasText: 'Signed in' }).waitFor();
    await tab.getByRole('textbox', { name: 'Message', exact: true }).fill('Release 2.4 is out');
    await tab.getByLabel('Audience attributes', { exact: false }).fill('{"plan": "pro"}');
    await tab.getByText(/^\d+ users$/).waitFor();
    await tab.getByLabel('Search messages', { exact: true }).fill('welcome');
    const receipts = tab.getByRole('button', { name: /^Receipts of: Welcome aboard/ });
    for (let attempt = 0; attempt < 50 && (await receipts.count()) === 0; attempt++) {
      await tab.getByRole('button', { name: 'Search', exact: true }).click();
      await tab.waitForTimeout(100);
    }
    await receipts.click();
    await tab.getByRole('table', { name: /Receipts of/ }).waitFor();
    await tab.getByLabel('User id', { exact: true }).fill('alice');
    await tab.getByRole('button', { name: 'Look up' }).click();
    await tab.getByText('alice@example.com').waitFor();
    // Rates need a reading 5 s old: wait for the refresh that has one.
    await tab.getByText(/^Rates over the last \d+ s$/).waitFor({ timeout: 20_000 });
    fs.mkdirSync(OUT, { recursive: true });
    const file = new URL('console.png', OUT);
    await tab.screenshot({ path: file.pathname, fullPage: true });
    console.log(`wrote ${file.pathname}`);

    const inbox = await browser.newPage({ viewport: { width: 900, height: 640 } });
    await inbox.goto(`${h.url}/demo`);
    await inbox.getByLabel('User token', { exact: true }).fill(await h.token('alice'));
    await inbox.getByRole('button', { name: 'Connect' }).click();
    await inbox.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await inbox.getByRole('list', { name: 'Messages' }).getByText('Welcome aboard, your workspace is ready').waitFor();
    await inbox.getByRole('button', { name: 'Unread messages: 2' }).waitFor();
    const demo = new URL('demo.png', OUT);
    await inbox.screenshot({ path: demo.pathname, fullPage: true });
    console.log(`wrote ${demo.pathname}`);
  } finally {
    await browser.close();
    for (const socket of sockets) socket.close();
    await h.stop();
  }
}

await main();
