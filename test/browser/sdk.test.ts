/**
 * The browser SDK (client/, served at GET /sdk/herald.js) in a real Chromium: playwright-core
 * drives /usr/bin/chromium (`npm run test:browser` installs it when missing). A page on another
 * origin (its own node:http server on another port) imports the SDK from Herald, a child process
 * with HERALD_CORS_ORIGINS set to the page's origin. The page connects, receives the messages
 * sent over REST once each, counts unread as the API does, pages the inbox and sees refusals as
 * HeraldErrors; after a kill -9 of Herald it reconnects by itself once Herald is back on the same
 * port and data dir, gets the message sent while it was away exactly once (since=) and live ones
 * again; close() stops it. The restarted Herald waits for the kernel to free the killed process's
 * port (its sockets' TIME_WAIT, about a minute: src/listen.ts), so that test takes about a minute.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { eventually, startChild, tempDataDir } from '../helpers/herald.js';

const CHROMIUM = '/usr/bin/chromium';

const UID = 'alice';

/**
 * The test page: imports the SDK from Herald and records every event of a client in `log`.
 * `start(options)` creates the client (its token through a function, as an app would) and
 * resolves once connect() does.
 */
const page = (heraldUrl: string) => `<!doctype html>
<meta charset="utf-8">
<title>Herald SDK test page</title>
<script type="module">
  import { HeraldClient, HeraldError } from '${heraldUrl}/sdk/herald.js';
  window.HeraldError = HeraldError;
  window.start = async ({ url, token, reconnect }) => {
    const log = (window.log = { statuses: [], messages: [], unread: [], errors: [] });
    const herald = (window.herald = new HeraldClient({ url, token: async () => token, reconnect }));
    herald.on('status', (s) => log.statuses.push(s));
    herald.on('message', (m) => log.messages.push(m));
    herald.on('unread', (n) => log.unread.push(n));
    herald.on('error', (e) => log.errors.push(String(e)));
    await herald.connect();
    return herald.status;
  };
  window.sdkLoaded = true;
</script>`;

/** What the page recorded (globalThis.log). */
interface PageLog {
  statuses: string[];
  messages: Array<{ id: string; msg: string; type: string }>;
  unread: number[];
  errors: string[];
}

type Herald = Awaited<ReturnType<typeof startChild>>;

describe('the browser SDK in Chromium', () => {
  let browser: Browser;
  let tab: Page;
  let pageServer: http.Server;
  let pageOrigin: string;
  let herald: Herald;
  let heraldUrl = '';
  let port = '';
  const dataDir = tempDataDir();
  let admin: string;
  let userToken: string;
  const sent: string[] = [];

  const start = (env: Record<string, string> = {}) =>
    startChild({ HERALD_DATA_DIR: dataDir, HERALD_CORS_ORIGINS: pageOrigin, HERALD_WEBPUSH_ALLOW_PRIVATE: 'true', ...env });
  const send = async (h: Herald, msg: string) => {
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: UID } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const apiUnread = async (h: Herald) => (await h.api('GET', '/api/v1/messages/count?state=unread', { token: userToken })).body.count as number;
  const log = () => tab.evaluate(() => (globalThis as any).log as PageLog);
  /** Waits in the page until its log satisfies `condition` (a function of the log, as source). */
  const until = async (condition: string, arg: unknown = null) => {
    await tab.waitForFunction(
      ([source, value]) => {
        const log = (globalThis as any).log;
        return log !== undefined && new Function('log', 'arg', `return (${source});`)(log, value);
      },
      [condition, arg] as const,
      { timeout: 30_000, polling: 50 },
    );
  };

  before(async () => {
    pageServer = http.createServer((req, res) => {
      if (req.url !== '/') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(heraldUrl));
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    herald = await start();
    heraldUrl = herald.url;
    port = new URL(heraldUrl).port;
    assert.notEqual(new URL(heraldUrl).origin, pageOrigin, 'the page is on another origin than Herald');
    admin = await herald.token('ops', { admin: true });
    userToken = await herald.token(UID);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    tab = await browser.newPage();
    const pageErrors: string[] = [];
    tab.on('pageerror', (error) => pageErrors.push(String(error)));
    await tab.goto(`${pageOrigin}/`);
    await tab
      .waitForFunction(() => (globalThis as any).sdkLoaded === true, null, { timeout: 30_000 })
      .catch((error: Error) => {
        throw new Error(`the page did not load the SDK: ${pageErrors.join('; ') || error.message}`);
      });
  });

  after(async () => {
    await browser?.close();
    await herald?.kill();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  it('is served as a small, self-contained ES module that may be cached and revalidated', async () => {
    const res = await fetch(`${heraldUrl}/sdk/herald.js`, { headers: { origin: pageOrigin } });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
    assert.equal(res.headers.get('access-control-allow-origin'), pageOrigin);
    assert.match(text, /export\s*\{[^}]*HeraldClient/);
    assert.doesNotMatch(text, /\bimport\b/, 'imports nothing: no runtime dependency');
    // Offline cache, outbox and the tab group included (about 19.5 KB minified).
    assert.ok(text.length < 24 * 1024, `the bundle stays small (${text.length} bytes)`);
    const etag = res.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]+"$/);
    const again = await fetch(`${heraldUrl}/sdk/herald.js`, { headers: { 'if-none-match': etag as string } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(again.headers.get('content-length'), null, 'a 304 claims no length for the 200 it stands for');
  });

  it('connects from a page of another origin and receives each message sent over REST once', { timeout: 60_000 }, async () => {
    // A fast backoff (waits below a second) keeps the reconnect test short.
    const options = { url: heraldUrl, token: userToken, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } };
    const status = await tab.evaluate((o) => (globalThis as any).start(o), options);
    assert.equal(status, 'open');
    for (const text of ['one', 'two', 'three']) sent.push(await send(herald, text));
    await until('log.messages.length >= 3');
    const seen = await log();
    assert.deepEqual(
      seen.messages.map((m) => [m.type, m.id, m.msg]),
      [
        ['message', sent[0], 'one'],
        ['message', sent[1], 'two'],
        ['message', sent[2], 'three'],
      ],
    );
    assert.deepEqual(seen.statuses, ['connecting', 'open']);
    // The SDK acknowledged them: their realtime receipts became delivered.
    await eventually(async () => {
      const detail = await herald.api('GET', `/api/v1/messages/${sent[2]}`, { token: userToken });
      return detail.body.state?.delivered !== null && detail.body.receipts.some((r: any) => r.channel === 'realtime' && r.state === 'delivered');
    });
  });

  it('reports the unread count as the API counts it, after new messages, markRead and markClicked', { timeout: 60_000 }, async () => {
    assert.equal(await apiUnread(herald), 3);
    await until('log.unread.at(-1) === 3');
    const afterRead = await tab.evaluate(async (id) => {
      const herald = (globalThis as any).herald;
      await herald.markRead([id]);
      return { event: (globalThis as any).log.unread.at(-1), count: await herald.unreadCount() };
    }, sent[0]);
    assert.equal(await apiUnread(herald), 2);
    assert.deepEqual(afterRead, { event: 2, count: 2 });
    const afterClick = await tab.evaluate(async (id) => {
      const herald = (globalThis as any).herald;
      await herald.markClicked(id);
      return { event: (globalThis as any).log.unread.at(-1), count: await herald.unreadCount() };
    }, sent[1]);
    assert.equal(await apiUnread(herald), 1);
    assert.deepEqual(afterClick, { event: 1, count: 1 });
    const detail = await herald.api('GET', `/api/v1/messages/${sent[1]}`, { token: userToken });
    assert.ok(detail.body.receipts.some((r: any) => r.channel === 'inbox' && r.state === 'clicked'));
  });

  it('pages the inbox, and answers a refusal of the API with a HeraldError', async () => {
    const pages = await tab.evaluate(async () => {
      const herald = (globalThis as any).herald;
      const first = await herald.messages({ limit: 2 });
      const second = await herald.messages({ limit: 2, cursor: first.next });
      const unread = await herald.messages({ state: 'unread' });
      return { first, second, unread };
    });
    assert.deepEqual(
      pages.first.messages.map((m: any) => m.id),
      [sent[2], sent[1]],
    );
    assert.equal(typeof pages.first.next, 'string');
    assert.deepEqual(
      pages.second.messages.map((m: any) => m.id),
      [sent[0]],
    );
    assert.equal(pages.second.next, null);
    assert.deepEqual(
      pages.unread.messages.map((m: any) => [m.id, m.state.read]),
      [[sent[2], null]],
    );
    const refused = await tab.evaluate(async () => {
      try {
        await (globalThis as any).herald.messages({ limit: 1000 });
        return 'resolved';
      } catch (error: any) {
        return {
          isHeraldError: error instanceof (globalThis as any).HeraldError,
          status: error.status,
          code: error.code,
          detail: error.detail,
          paths: error.errors.map((e: any) => e.path),
        };
      }
    });
    assert.notEqual(refused, 'resolved');
    assert.deepEqual(
      { ...(refused as any), detail: undefined },
      { isHeraldError: true, status: 400, code: 'HERALD_INVALID_REQUEST', detail: undefined, paths: ['limit'] },
    );
    assert.match((refused as any).detail, /limit/);
  });

  it('after kill -9 of Herald and a restart on the same port, reconnects and gets what was sent meanwhile exactly once', { timeout: 240_000 }, async () => {
    const killed = await herald.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    await until("log.statuses.at(-1) === 'reconnecting'");

    // Meanwhile (the page cannot reach Herald's port), a message is sent through a Herald on the
    // same data dir but another port, and that Herald stops.
    const interim = await start();
    const meanwhile = await send(interim, 'sent while the page was away');
    await interim.triaged(meanwhile);
    const stopped = await interim.kill('SIGTERM');
    assert.equal(stopped.code, 0, interim.stderr());

    // Sockets of the killed process still hold the port (TIME_WAIT, up to a minute): Herald
    // waits for the kernel to release it instead of exiting (src/listen.ts).
    herald = await start({ HERALD_PORT: port });
    assert.match(herald.stdout() + herald.stderr(), /waiting for the kernel to release it/);
    assert.equal(herald.url, heraldUrl);
    await until('log.messages.some((m) => m.id === arg)', meanwhile);
    const live = await send(herald, 'live again');
    await until('log.messages.some((m) => m.id === arg)', live);

    const seen = await log();
    const ids = seen.messages.map((m) => m.id);
    assert.deepEqual(ids, [...sent, meanwhile, live], 'what was sent meanwhile, then the live one, each once');
    assert.deepEqual(seen.statuses, ['connecting', 'open', 'reconnecting', 'open']);
    assert.deepEqual(seen.errors, []);
    assert.equal(await apiUnread(herald), 3);
    await until('log.unread.at(-1) === 3');
  });

  it('marks all read, and the unread count follows', { timeout: 60_000 }, async () => {
    assert.equal(await apiUnread(herald), 3);
    const after = await tab.evaluate(async () => {
      const herald = (globalThis as any).herald;
      await herald.markAllRead();
      return { event: (globalThis as any).log.unread.at(-1), count: await herald.unreadCount() };
    });
    assert.deepEqual(after, { event: 0, count: 0 });
    assert.equal(await apiUnread(herald), 0);
  });

  it('close() closes the socket and stops reconnecting', { timeout: 60_000 }, async () => {
    const status = await tab.evaluate(() => {
      (globalThis as any).herald.close();
      return (globalThis as any).herald.status;
    });
    assert.equal(status, 'closed');
    await eventually(async () => /^herald_ws_connections 0$/m.test((await herald.api('GET', '/metrics')).body), 10_000, 'no socket left');
    assert.equal((await log()).statuses.at(-1), 'closed');
  });
});
