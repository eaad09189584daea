/**
 * The browser SDK across tabs and offline, in a real Chromium (playwright-core, /usr/bin/chromium)
 * against a real Herald (a child process). The tabs are pages of one browser context (one
 * profile: they share IndexedDB, Web Locks and BroadcastChannel, as a user's tabs do), each a
 * page of the app's origin that bundles the SDK (a copy of GET /sdk/herald.js served from the
 * app's origin, as an app shipping @herald/client would), so a page still loads while Herald is
 * down. What the server sees is read from the server: its socket gauge (herald_ws_connections in
 * /metrics: only this test's user connects) and its unread count.
 *
 * Two tabs share one socket and each gets every live message once; a read in one tab reaches the
 * other at once, even offline; a read taken offline is queued and replayed when the browser is
 * back online, and after a reload too; closing the leader tab hands the socket over, resuming with
 * since=; a read on another device reaches every tab (read frame); archive(), a recall and a
 * topic's newer message leave the inbox everywhere; an erased user's tabs stop for good (4410)
 * and keep nothing; with Herald down a new tab shows the cached inbox.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { eventually, startChild, tempDataDir } from '../helpers/herald.js';

const CHROMIUM = '/usr/bin/chromium';
const UID = 'tabs-user';

/** The app's page: records every event of its client in `log`; `start(options)` connects (without awaiting it). */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Herald SDK tabs test page</title>
<script type="module">
  import { HeraldClient } from '/herald.js';
  window.start = ({ url, token }) => {
    const log = (window.log = { statuses: [], messages: [], unread: [], errors: [], inbox: [], reads: [], archived: [], recalled: [] });
    const herald = (window.herald = new HeraldClient({ url, token: async () => token, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }));
    herald.on('status', (s) => log.statuses.push(s));
    herald.on('message', (m) => log.messages.push(m.id));
    herald.on('unread', (n) => log.unread.push(n));
    herald.on('error', (e) => log.errors.push(String(e)));
    herald.on('inbox', (list) => log.inbox.push(list.map((m) => ({ id: m.id, read: m.state.read !== null }))));
    herald.on('read', (r) => log.reads.push(r));
    herald.on('archive', (ids) => log.archived.push(...ids));
    herald.on('recall', (id) => log.recalled.push(id));
    herald.connect().catch((e) => log.errors.push('connect: ' + e));
  };
  window.sdkLoaded = true;
</script>`;

interface PageLog {
  statuses: string[];
  messages: string[];
  unread: number[];
  errors: string[];
  inbox: Array<Array<{ id: string; read: boolean }>>;
  reads: Array<{ ids: string[]; all: boolean }>;
  archived: string[];
  recalled: string[];
}

type Herald = Awaited<ReturnType<typeof startChild>>;

describe('the browser SDK across tabs and offline, in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let pageServer: http.Server;
  let pageOrigin: string;
  let sdk = '';
  let herald: Herald;
  let admin: string;
  let userToken: string;
  const dataDir = tempDataDir();

  const send = async (msg: string, opts?: { topic: string }) => {
    const res = await herald.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: UID, ...(opts ? { opts } : {}) } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const apiUnread = async () => (await herald.api('GET', '/api/v1/messages/count?state=unread', { token: userToken })).body.count as number;
  const sockets = async () => {
    const match = /^herald_ws_connections (\d+)$/m.exec((await herald.api('GET', '/metrics')).body);
    return Number(match?.[1]);
  };
  const log = (tab: Page) => tab.evaluate(() => (globalThis as any).log as PageLog);
  /** Waits in `tab` until its log satisfies `condition` (a function of log and arg, as source). */
  const until = (tab: Page, condition: string, arg: unknown = null) =>
    tab.waitForFunction(
      ([source, value]) => {
        const log = (globalThis as any).log;
        return log !== undefined && new Function('log', 'arg', `return (${source});`)(log, value);
      },
      [condition, arg] as const,
      { timeout: 30_000, polling: 50 },
    );
  /** A new tab of the context (by default the user's) with a client started in it. */
  const openTab = async (inContext = context, token = userToken) => {
    const tab = await inContext.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(`${pageOrigin}/`);
    await tab
      .waitForFunction(() => (globalThis as any).sdkLoaded === true, null, { timeout: 30_000 })
      .catch((error: Error) => {
        throw new Error(`the page did not load the SDK: ${errors.join('; ') || error.message}`);
      });
    await tab.evaluate((o) => (globalThis as any).start(o), { url: herald.url, token });
    return tab;
  };
  const lastInbox = async (tab: Page) => (await log(tab)).inbox.at(-1) ?? [];
  /** Runs `work` with a second tab open beside `second` (closed after). */
  const withOther = async (work: (other: Page) => Promise<void>) => {
    const other = await openTab();
    try {
      await until(other, "log.statuses.at(-1) === 'open'");
      await work(other);
    } finally {
      await other.close();
    }
  };

  before(async () => {
    pageServer = http.createServer((req, res) => {
      if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      else if (req.url === '/herald.js') res.writeHead(200, { 'content-type': 'application/javascript; charset=utf-8' }).end(sdk);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    herald = await startChild({ HERALD_DATA_DIR: dataDir, HERALD_CORS_ORIGINS: pageOrigin });
    sdk = await (await fetch(`${herald.url}/sdk/herald.js`)).text();
    admin = await herald.token('ops', { admin: true });
    userToken = await herald.token(UID);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext();
  });

  after(async () => {
    await browser?.close();
    await herald?.kill();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  let first: Page;
  let second: Page;
  const sent: string[] = [];

  it('two tabs share one socket, and each gets every live message once', { timeout: 90_000 }, async () => {
    first = await openTab();
    await until(first, "log.statuses.at(-1) === 'open'");
    second = await openTab();
    await until(second, "log.statuses.at(-1) === 'open'");
    assert.equal(await sockets(), 1, 'one socket for the two tabs');
    for (const text of ['one', 'two', 'three']) sent.push(await send(text));
    for (const tab of [first, second]) await until(tab, 'log.messages.length >= 3 && log.unread.at(-1) === 3');
    // Anything late would have arrived by the time a fourth message has.
    sent.push(await send('four'));
    for (const tab of [first, second]) {
      await until(tab, 'log.messages.includes(arg)', sent[3]);
      const seen = await log(tab);
      assert.deepEqual(seen.messages, sent, 'each message once, in order');
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(
        (await lastInbox(tab)).map((m) => m.id),
        [...sent].reverse(),
      );
    }
    assert.deepEqual((await log(second)).statuses, ['connecting', 'open'], 'the second tab followed the first');
    assert.equal(await sockets(), 1);
    assert.equal(await apiUnread(), 4);
  });

  it('a read in one tab shows in the other at once; taken offline it is queued, and replayed once back online', { timeout: 90_000 }, async () => {
    const online = await second.evaluate((id) => (globalThis as any).herald.markRead(id), sent[0]);
    assert.equal(online, 'sent');
    assert.equal(await apiUnread(), 3);
    await until(first, 'log.reads.some((r) => r.ids.includes(arg)) && log.unread.at(-1) === 3', sent[0]);

    await context.setOffline(true);
    const offline = await second.evaluate((id) => (globalThis as any).herald.markRead(id), sent[1]);
    assert.equal(offline, 'queued', 'no network: queued');
    // The other tab knows at once, through the browser, not the server.
    await until(first, 'log.reads.some((r) => r.ids.includes(arg)) && log.unread.at(-1) === 2', sent[1]);
    const shown = await first.evaluate(() => (globalThis as any).herald.inbox.map((m: any) => [m.id, m.state.read !== null]));
    assert.deepEqual(shown, [
      [sent[3], false],
      [sent[2], false],
      [sent[1], true],
      [sent[0], true],
    ]);
    assert.equal(await second.evaluate(() => (globalThis as any).herald.unreadCount()), 2, 'offline, the count known locally');
    assert.equal(await apiUnread(), 3, 'the server has not heard of it');

    await context.setOffline(false);
    await eventually(async () => (await apiUnread()) === 2, 30_000, 'the queued read replayed');
    const detail = await herald.api('GET', `/api/v1/messages/${sent[1]}`, { token: userToken });
    assert.notEqual(detail.body.state.read, null);
    for (const tab of [first, second]) assert.equal((await log(tab)).unread.at(-1), 2);
  });

  it('closing the leader tab hands the socket to the other, which resumes with since=', { timeout: 90_000 }, async () => {
    await first.close();
    const meanwhile = await send('sent during the handover');
    await until(second, 'log.messages.includes(arg)', meanwhile);
    await eventually(async () => (await sockets()) === 1, 20_000, 'the second tab holds the one socket');
    const live = await send('live after the handover');
    await until(second, 'log.messages.includes(arg)', live);
    const seen = await log(second);
    assert.deepEqual(seen.messages, [...sent, meanwhile, live], 'each once');
    // The reads of the previous test came back as the server's read frames too: reported once.
    for (const id of [sent[0], sent[1]]) assert.equal(seen.reads.filter((r) => r.ids.includes(id as string)).length, 1, `one read event for ${id}`);
    assert.deepEqual(seen.statuses, ['connecting', 'open', 'reconnecting', 'open']);
    sent.push(meanwhile, live);
    assert.equal(await sockets(), 1);
    await until(second, 'log.unread.at(-1) === 4');
    assert.equal(await apiUnread(), 4);
  });

  it('a read queued offline is replayed by the next page, after every tab was closed', { timeout: 90_000 }, async () => {
    await context.setOffline(true);
    assert.equal(await second.evaluate((id) => (globalThis as any).herald.markRead(id), sent[2]), 'queued');
    await second.close();
    await context.setOffline(false);
    assert.equal(await apiUnread(), 4, 'no page left to send it');
    const third = await openTab();
    await until(third, "log.statuses.at(-1) === 'open'");
    await eventually(async () => (await apiUnread()) === 3, 30_000, 'the next page replayed it');
    await until(third, 'log.unread.at(-1) === 3');
    second = third;
  });

  it('a queued read refused for its expired token stays queued, and the next page with a valid token sends it', { timeout: 90_000 }, async () => {
    await context.setOffline(true);
    assert.equal(await second.evaluate((id) => (globalThis as any).herald.markRead(id), sent[4]), 'queued');
    await second.close();
    await context.setOffline(false);
    // The same user, whose token has expired: every request it makes is refused with 401.
    const stale = await openTab(context, await herald.token(UID, { ttlSeconds: -3_600 }));
    await until(stale, "log.errors.some((e) => e.includes('HERALD_UNAUTHORIZED'))");
    assert.equal(await apiUnread(), 3, 'not sent: the token was refused');
    // A receipt of the page itself is kept too, and the app told.
    assert.equal(await stale.evaluate((id) => (globalThis as any).herald.markRead(id), sent[5]), 'queued');
    await stale.close();
    assert.equal(await apiUnread(), 3);

    const next = await openTab();
    await until(next, "log.statuses.at(-1) === 'open'");
    await eventually(async () => (await apiUnread()) === 1, 30_000, 'both reads sent with the valid token');
    await until(next, 'log.unread.at(-1) === 1');
    second = next;
  });

  it('archive() takes messages out of the inbox and its count, in every tab', { timeout: 90_000 }, async () => {
    await withOther(async (other) => {
      const archived = sent[3] as string;
      assert.equal(await second.evaluate((id) => (globalThis as any).herald.archive([id]), archived), 'sent');
      await until(other, 'log.archived.includes(arg)', archived);
      for (const tab of [second, other]) {
        assert.ok(!(await lastInbox(tab)).some((m) => m.id === archived));
        await until(tab, 'log.unread.at(-1) === 0');
      }
      assert.equal(await apiUnread(), 0);
      const listed = await herald.api('GET', '/api/v1/messages?limit=50', { token: userToken });
      assert.ok(!listed.body.messages.some((m: { id: string }) => m.id === archived), 'not listed by the API');
    });
  });

  it('a read elsewhere (another device, over REST) reaches every tab through the read frame', { timeout: 90_000 }, async () => {
    await withOther(async (other) => {
      const id = await send('read on another device');
      for (const tab of [second, other]) await until(tab, 'log.messages.includes(arg)', id);
      const before = await apiUnread();
      const res = await herald.api('POST', '/api/v1/receipts', { token: userToken, body: { ids: [id], state: 'read' } });
      assert.equal(res.status, 204);
      for (const tab of [second, other]) {
        await until(tab, 'log.reads.some((r) => r.ids.includes(arg))', id);
        assert.equal((await lastInbox(tab)).find((m) => m.id === id)?.read, true);
        await until(tab, 'log.unread.at(-1) === arg', before - 1);
      }
    });
  });

  it('a recalled message leaves every tab (recall frame)', { timeout: 90_000 }, async () => {
    await withOther(async (other) => {
      const id = await send('to be recalled');
      for (const tab of [second, other]) await until(tab, 'log.messages.includes(arg)', id);
      const before = await apiUnread();
      const res = await herald.api('DELETE', `/api/v1/messages/${id}`, { token: admin });
      assert.equal(res.status, 204, JSON.stringify(res.body));
      for (const tab of [second, other]) {
        await until(tab, 'log.recalled.includes(arg)', id);
        assert.ok(!(await lastInbox(tab)).some((m) => m.id === id));
        await until(tab, 'log.unread.at(-1) === arg', before - 1);
      }
    });
  });

  it('a newer message of the same topic replaces the older in every tab (replaces)', { timeout: 90_000 }, async () => {
    await withOther(async (other) => {
      const older = await send('score 1-0', { topic: 'match-42' });
      for (const tab of [second, other]) await until(tab, 'log.messages.includes(arg)', older);
      const before = await apiUnread();
      const newer = await send('score 2-0', { topic: 'match-42' });
      for (const tab of [second, other]) {
        await until(tab, 'log.messages.includes(arg)', newer);
        const ids = (await lastInbox(tab)).map((m) => m.id);
        assert.ok(ids.includes(newer) && !ids.includes(older), 'the older one left the inbox');
        await until(tab, 'log.unread.at(-1) === arg', before);
      }
      assert.equal(await apiUnread(), before, 'one replaced by the other');

      // Recalled, the newer gives the older back: every tab shows it again.
      const recall = await herald.api('DELETE', `/api/v1/messages/${newer}`, { token: admin });
      assert.equal(recall.status, 204);
      for (const tab of [second, other]) {
        await until(tab, 'log.recalled.includes(arg)', newer);
        await until(tab, 'log.inbox.at(-1).some((m) => m.id === arg[0]) && !log.inbox.at(-1).some((m) => m.id === arg[1])', [older, newer]);
        await until(tab, 'log.unread.at(-1) === arg', before);
      }
    });
  });

  it("a broadcast's frame names no replaces: the SDK drops the older message of its topic itself", { timeout: 90_000 }, async () => {
    await withOther(async (other) => {
      const broadcast = async (msg: string) => {
        const res = await herald.api('POST', '/api/v1/broadcast', { token: admin, body: { msg, opts: { topic: 'weather' } } });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        return res.body.id as string;
      };
      const older = await broadcast('rain at noon');
      for (const tab of [second, other]) await until(tab, 'log.messages.includes(arg)', older);
      const before = await apiUnread();
      const newer = await broadcast('sun at noon');
      for (const tab of [second, other]) {
        await until(tab, 'log.messages.includes(arg)', newer);
        const ids = (await lastInbox(tab)).map((m) => m.id);
        assert.ok(ids.includes(newer) && !ids.includes(older), 'the older one left the inbox');
        await until(tab, 'log.unread.at(-1) === arg', before);
      }
      const listed = await herald.api('GET', '/api/v1/messages?limit=50', { token: userToken });
      const ids = listed.body.messages.map((m: { id: string }) => m.id);
      assert.ok(ids.includes(newer) && !ids.includes(older), 'the API lists the same');
    });
  });

  it('a user erased (close code 4410) stops every tab for good and leaves nothing cached', { timeout: 90_000 }, async () => {
    const uid = 'erased-user';
    const token = await herald.token(uid);
    const profile = await browser.newContext();
    try {
      const tabs = [await openTab(profile, token)];
      await until(tabs[0] as Page, "log.statuses.at(-1) === 'open'");
      tabs.push(await openTab(profile, token));
      await until(tabs[1] as Page, "log.statuses.at(-1) === 'open'");
      const res = await herald.api('POST', '/api/v1/send', { token: admin, body: { msg: 'before the erasure', uid } });
      assert.equal(res.status, 202);
      for (const tab of tabs) await until(tab, 'log.messages.includes(arg) && log.inbox.at(-1).some((m) => m.id === arg)', res.body.id);
      const cached = (tab: Page) =>
        tab.evaluate(
          (scope) =>
            new Promise((resolve, reject) => {
              const open = (globalThis as any).indexedDB.open('herald-sdk');
              open.onerror = () => reject(open.error);
              open.onsuccess = () => {
                const get = open.result.transaction('inbox').objectStore('inbox').get(scope);
                get.onsuccess = () => resolve(get.result?.messages?.length ?? 0);
              };
            }),
          `${herald.url} ${uid}`,
        );
      await eventually(async () => ((await cached(tabs[0] as Page)) as number) > 0, 10_000, 'cached before');

      assert.equal((await herald.api('DELETE', `/api/v1/users/${uid}`, { token: admin })).status, 204);
      for (const tab of tabs) {
        await until(tab, "log.statuses.at(-1) === 'closed' && log.errors.some((e) => e.includes('HERALD_USER_ERASED'))");
        assert.deepEqual((await log(tab)).inbox.at(-1), []);
      }
      await eventually(async () => (await cached(tabs[1] as Page)) === 0, 10_000, 'the cache is cleared');
      // Neither tab reconnected (which would take a ticket and so recreate the user): only the other user's socket is left.
      await eventually(async () => (await sockets()) === 1, 10_000, "only the other user's socket");
      const user = await herald.api('GET', `/api/v1/users/${uid}`, { token: admin });
      assert.equal(user.status, 404, 'the user was not recreated');
    } finally {
      await profile.close();
    }
  });

  it('with Herald down, a new tab shows the cached inbox and count', { timeout: 90_000 }, async () => {
    const unread = await apiUnread();
    await until(second, 'log.unread.at(-1) === arg', unread);
    const expected = await lastInbox(second);
    assert.ok(expected.length >= 5);
    await second.close();
    await herald.kill('SIGTERM');
    const tab = await openTab();
    await until(tab, 'log.inbox.length > 0');
    const seen = await log(tab);
    assert.deepEqual(seen.inbox[0], expected, 'the inbox as the last tab left it');
    assert.equal(seen.unread[0], unread);
    assert.notEqual(seen.statuses.at(-1), 'open');
    const page = await tab.evaluate(() => (globalThis as any).herald.messages({ state: 'unread' }));
    assert.equal(page.cached, true);
    assert.deepEqual(
      page.messages.map((m: { id: string }) => m.id),
      expected.filter((m) => !m.read).map((m) => m.id),
    );
    await tab.close();
  });
});
