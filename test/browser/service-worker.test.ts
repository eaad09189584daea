/**
 * The service worker helper (GET /sdk/herald-sw.js, client/sw) in a real Chromium. A site on
 * another origin (its own node:http server) registers a worker that is one line,
 * `importScripts('<herald>/sdk/herald-sw.js')`. Herald runs as a child process with
 * HERALD_CORS_ORIGINS set to the site and sends web push to the loopback push service, which
 * decrypts each payload: the very payload Herald sent, its real receipt capability included, is
 * then delivered to the worker with the DevTools command `ServiceWorker.deliverPushMessage`.
 * Checked: the notification is shown (registration.getNotifications()) with title, body and tag,
 * a newer message of the topic replaces it, `delivered` is recorded for that device; a click
 * (a NotificationEvent dispatched in the worker on the notification it shows: no DevTools command
 * clicks a notification) records `clicked`, reads the message, goes for the tab already at the
 * link and sends a close push to the user's other browser; a read elsewhere sends this browser a close push which, delivered to the
 * worker, closes its notification. Chromium shows notifications through a desktop notification
 * server on a private D-Bus (test/fakes/notification-server.ts), as on a Linux desktop: each one
 * stays on display until it is closed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { type NotificationServer, startNotificationServer } from '../fakes/notification-server.js';
import { type FakeSubscription, type PushRecord, type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild } from '../helpers/herald.js';

const CHROMIUM = '/usr/bin/chromium';
const UID = 'sw-user';

type Herald = Awaited<ReturnType<typeof startChild>>;

interface Shown {
  title: string;
  body: string;
  tag: string;
  data: { id: string; link: string | null; receipt: string | null };
}

describe('the service worker helper in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let tab: Page;
  let cdp: CDPSession;
  let push: PushServiceFake;
  let desktop: NotificationServer;
  let herald: Herald;
  let pageServer: http.Server;
  let pageOrigin = '';
  let admin: string;
  let userToken: string;
  let registrationId = '';
  /** This browser's subscription at the push service, and another browser of the same user. */
  let here: FakeSubscription;
  let elsewhere: FakeSubscription;
  let hereDevice = '';
  const workerErrors: string[] = [];
  /** What the worker and Chromium did, with times: printed when a notification does not come. */
  const trace: string[] = [];
  const note = (what: string) => trace.push(`${Date.now() % 100_000} ${what}`);

  const send = async (msg: string, opts: Record<string, unknown>) => {
    const res = await herald.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: UID, opts } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  /** The payload the push service decrypted for `sub`, matching `match`. */
  const pushed = (sub: FakeSubscription, match: (payload: any) => boolean) =>
    eventually(async () => push.recordsFor(push.idOf(sub.endpoint)).find((r: PushRecord) => r.payload && match(r.payload))?.payload, 20_000, 'a push');
  const deliverToWorker = (payload: any) => {
    note(`push delivered to the worker: ${payload?.type ?? 'message'} ${payload?.id}`);
    return cdp.send('ServiceWorker.deliverPushMessage', { origin: pageOrigin, registrationId, data: JSON.stringify(payload) });
  };
  const notifications = () =>
    tab.evaluate(async () => {
      const registration = await (globalThis as any).navigator.serviceWorker.ready;
      return (await registration.getNotifications()).map((n: any) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
    }) as Promise<Shown[]>;
  const shownUntil = async (condition: (shown: Shown[]) => boolean, what: string) => {
    let last: Shown[] = [];
    try {
      return await eventually(
        async () => {
          last = await notifications();
          return condition(last) ? last : undefined;
        },
        20_000,
        what,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; shown: ${JSON.stringify(last)}; the worker logged: ${JSON.stringify(workerErrors)}; ` +
          `on the desktop: ${JSON.stringify(desktop.shown())}; what happened, in order: ${trace.join(' | ')}`,
      );
    }
  };
  /**
   * Waits for the desktop to show a notification whose body has `text`. Checked before asking the
   * page: Chromium's getNotifications() forgets a notification its worker has shown when the
   * call comes before the notification reaches the desktop (it drops what the platform does not
   * list yet), so a page asking too early would never see it.
   */
  const onDesktop = (text: string) =>
    eventually(async () => desktop.shown().find((n) => n.body.includes(text)), 20_000, `"${text}" on the desktop`).catch((error: Error) => {
      throw new Error(
        `${error.message}; on the desktop: ${JSON.stringify(desktop.shown())}; the worker logged: ${JSON.stringify(workerErrors)}; what happened, in order: ${trace.join(' | ')}`,
      );
    });
  const receiptOf = (id: string, device: string, state: string) =>
    eventually(
      async () => {
        const res = await herald.api('GET', `/api/v1/messages/${id}`, { token: admin });
        return res.body.receipts?.find((r: any) => r.channel === 'webpush' && r.device === device && r.state === state);
      },
      20_000,
      `webpush ${state} of ${device}`,
    );

  before(async () => {
    push = await startPushService();
    pageServer = http.createServer((req, res) => {
      if (req.url === '/sw.js') {
        // The whole of a site's worker that uses the helper.
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(`importScripts(${JSON.stringify(`${herald.url}/sdk/herald-sw.js`)});`);
      } else if (req.url === '/' || req.url?.startsWith('/orders/')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><meta charset="utf-8"><title>site</title><p>site');
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    herald = await startChild({
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
      HERALD_CORS_ORIGINS: pageOrigin,
    });
    admin = await herald.token('ops', { admin: true });
    userToken = await herald.token(UID);
    [here, elsewhere] = [push.subscription(), push.subscription()];
    for (const sub of [here, elsewhere]) {
      const res = await herald.api('POST', '/api/v1/native/subscribe', { token: userToken, body: sub });
      assert.equal(res.status, 201);
      if (sub === here) hereDevice = res.body.id;
    }

    desktop = await startNotificationServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox'],
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: desktop.busAddress },
    });
    context = await browser.newContext();
    await context.grantPermissions(['notifications'], { origin: pageOrigin });
    context.on('serviceworker', (worker) => {
      note('a worker started');
      worker.on('console', (m) => {
        note(`worker ${m.type()}: ${m.text()}`);
        if (m.type() !== 'log') workerErrors.push(m.text());
      });
    });
    tab = await context.newPage();
    await tab.goto(`${pageOrigin}/`);
    cdp = await context.newCDPSession(tab);
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }: { versions: Array<{ versionId: string; runningStatus: string; status: string }> }) =>
      note(`versions ${versions.map((v) => `${v.versionId} ${v.runningStatus}/${v.status}`).join(', ')}`),
    );
    const registered = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }: { versions: Array<{ registrationId: string; status: string }> }) => {
        const active = versions.find((v) => v.status === 'activated');
        if (active) resolve(active.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    await tab.evaluate(async () => {
      const sw = (globalThis as any).navigator.serviceWorker;
      await sw.register('/sw.js');
      await sw.ready;
    });
    registrationId = await registered;
  });

  after(async () => {
    await browser?.close();
    await herald?.kill();
    await Promise.all([push?.close(), desktop?.close(), new Promise((resolve) => pageServer?.close(resolve))]);
  });

  it('is served as a classic script that may be cached and revalidated', async () => {
    const res = await fetch(`${herald.url}/sdk/herald-sw.js`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
    assert.doesNotMatch(text, /^\s*(import|export)\b/m, 'a classic script: no module syntax');
    const again = await fetch(`${herald.url}/sdk/herald-sw.js`, { headers: { 'if-none-match': res.headers.get('etag') as string } });
    assert.equal(again.status, 304);
  });

  it('shows a push as a notification, replaces it with a newer one of its topic, and reports delivered with its capability', async () => {
    const first = await send('Your order shipped', { title: 'Shop', topic: 'orders', link: `${pageOrigin}/orders/1` });
    const payload = await pushed(here, (p) => p.id === first);
    assert.equal(typeof payload.receipt, 'string');
    await deliverToWorker(payload);
    assert.equal((await onDesktop('Your order shipped')).summary, 'Shop');
    const [shown] = await shownUntil((s) => s.length === 1, 'the notification');
    assert.equal(shown?.title, 'Shop');
    assert.equal(shown?.body, 'Your order shipped');
    assert.equal(shown?.tag, 'orders');
    assert.equal(shown?.data.id, first);
    assert.equal(shown?.data.link, `${pageOrigin}/orders/1`);
    await receiptOf(first, hereDevice, 'delivered');

    const second = await send('Your order arrived', { title: 'Shop', topic: 'orders', link: `${pageOrigin}/orders/1` });
    await deliverToWorker(await pushed(here, (p) => p.id === second));
    await onDesktop('Your order arrived');
    assert.equal(desktop.shown().length, 1, 'replaced on the desktop too');
    const replaced = await shownUntil((s) => s.length === 1 && s[0]?.data.id === second, 'the newer notification in its place');
    assert.equal(replaced[0]?.body, 'Your order arrived');
    await receiptOf(second, hereDevice, 'delivered');
    assert.deepEqual(workerErrors, []);
  });

  it('reports clicked on a click, which reads the message and closes it on the other browser', async () => {
    const id = (await notifications())[0]?.data.id as string;
    assert.ok(id);
    // A tab already at the message's link: the helper focuses it rather than opening another.
    const orderTab = await context.newPage();
    await orderTab.goto(`${pageOrigin}/orders/1`);
    const [worker] = context.serviceWorkers();
    assert.ok(worker, 'the worker is running');
    await worker.evaluate(async () => {
      const scope = globalThis as any;
      const [notification] = await scope.registration.getNotifications();
      scope.dispatchEvent(new scope.NotificationEvent('notificationclick', { notification }));
    });
    await receiptOf(id, hereDevice, 'clicked');
    const mine = await herald.api('GET', `/api/v1/messages/${id}`, { token: userToken });
    assert.notEqual(mine.body.state.read, null, 'the click read the message');
    await shownUntil((s) => s.length === 0, 'the clicked notification closed');
    // An event dispatched in the worker carries no user activation, so Chromium refuses the
    // focus (a real click would allow it): the refusal shows the helper went for that tab.
    await eventually(async () => workerErrors.some((e) => /focus/i.test(e)), 10_000, 'the helper to focus the tab at the link');
    assert.equal(workerErrors.length, 1, workerErrors.join('; '));
    workerErrors.length = 0;
    await orderTab.close();
    // Quiet everywhere: the other browser gets a close, this one (which clicked) none.
    assert.deepEqual(await pushed(elsewhere, (p) => p.type === 'close' && p.id === id), { type: 'close', id, tag: 'orders', reason: 'read' });
    assert.equal(push.recordsFor(push.idOf(here.endpoint)).filter((r) => r.payload?.type === 'close' && r.payload.id === id).length, 0);
  });

  it('closes the notification when the message is read elsewhere', async () => {
    const id = await send('Meeting moved to 3pm', { title: 'Calendar' });
    await deliverToWorker(await pushed(here, (p) => p.id === id));
    await onDesktop('Meeting moved to 3pm');
    const [shown] = await shownUntil((s) => s.some((n) => n.data.id === id), 'the notification');
    assert.equal(shown?.tag, id, 'no topic: the tag is the message id');
    // Read in the inbox (a token, no device): both browsers are told to close it.
    assert.equal((await herald.api('POST', '/api/v1/receipts', { token: userToken, body: { ids: [id], state: 'read' } })).status, 204);
    const close = await pushed(here, (p) => p.type === 'close' && p.id === id);
    await deliverToWorker(close);
    await shownUntil((s) => !s.some((n) => n.data.id === id), 'the notification closed by the withdrawal');
    await eventually(async () => !desktop.shown().some((n) => n.body.includes('Meeting moved')), 10_000, 'gone from the desktop too');
    assert.deepEqual(workerErrors, []);
  });

  it('opens the link on a click when no window is at it', async () => {
    const id = await send('Your invoice is ready', { title: 'Shop', link: `${pageOrigin}/orders/2` });
    await deliverToWorker(await pushed(here, (p) => p.id === id));
    await onDesktop('Your invoice is ready');
    await shownUntil((s) => s.some((n) => n.data.id === id), 'the notification');
    const [worker] = context.serviceWorkers();
    assert.ok(worker);
    await worker.evaluate(async (messageId) => {
      const scope = globalThis as any;
      const notification = (await scope.registration.getNotifications()).find((n: any) => n.data.id === messageId);
      scope.dispatchEvent(new scope.NotificationEvent('notificationclick', { notification }));
    }, id);
    await receiptOf(id, hereDevice, 'clicked');
    // As with focus: without a user's click Chromium refuses to open the window the helper asks for.
    await eventually(async () => workerErrors.some((e) => /open a window/i.test(e)), 10_000, 'the helper to open the link');
    assert.equal(workerErrors.length, 1, workerErrors.join('; '));
    workerErrors.length = 0;
  });
});
