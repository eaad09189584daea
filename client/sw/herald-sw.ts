/**
 * Herald's service worker helper, served at GET /sdk/herald-sw.js as one classic script for a
 * site's own worker: `importScripts('https://herald.example/sdk/herald-sw.js')`. Importing it adds
 * four listeners (docs/api.md, "Service worker helper"):
 *  - `push` with a Herald message: shows it as a notification (title, body, icon = the message's
 *    `data.icon` or the configured one, tag = opts.topic else the id, so a newer message of a
 *    topic replaces the older), then reports `delivered` with the push's receipt capability;
 *  - `push` with a withdrawal (`{"type":"close"}`: read on another device, or recalled): closes
 *    that message's notification;
 *  - `notificationclick` on a Herald notification: reports `clicked`, then focuses a window
 *    already at the message's link, or opens it;
 *  - `pushsubscriptionchange`: registers the new subscription with the renewal capability the
 *    last push carried (a worker has no user token), replacing the old one.
 * Pushes that are not Herald's are left to the site's own listeners. Herald's URL is
 * `self.HERALD_URL` when the worker sets it before importing, else where this script was loaded
 * from; a worker on another origin needs HERALD_CORS_ORIGINS to list its origin.
 */
import { type ClosePush, httpLink, type MessagePush, parsePush } from './payload.js';
import { forgetRenewal, keepRenewal, readRenewal } from './renewal.js';

declare const self: ServiceWorkerGlobalScope & { HERALD_URL?: string; herald?: HeraldWorker };

/** What `self.herald` offers the site's worker. */
interface HeraldWorker {
  /** `url`: Herald's base URL; `icon`: the icon of notifications whose message names none. */
  configure(options: { url?: string; icon?: string }): void;
}

/** The `pushsubscriptionchange` event (not in TypeScript's WebWorker library). */
interface PushSubscriptionChangeEvent extends ExtendableEvent {
  readonly newSubscription: PushSubscription | null;
  readonly oldSubscription: PushSubscription | null;
}

/** What a Herald notification keeps in its `data`. */
interface NotificationData {
  herald: true;
  id: string;
  link: string | null;
  receipt: string | null;
}

/** Where this script was loaded from, read from a stack trace while it is being evaluated (the only way a classic script knows). */
function loadedFrom(): string | undefined {
  const stack = new Error().stack ?? '';
  return /(https?:\/\/[^\s()]+?)\/sdk\/herald-sw\.js/.exec(stack)?.[1];
}

const settings = { url: (self.HERALD_URL ?? loadedFrom() ?? self.location.origin).replace(/\/+$/, ''), icon: undefined as string | undefined };

self.herald = {
  configure(options) {
    if (options.url !== undefined) settings.url = options.url.replace(/\/+$/, '');
    if (options.icon !== undefined) settings.icon = options.icon;
  },
};

const warn = (error: unknown): void => console.warn('herald-sw:', error);

/** Keeps the worker alive for `work`; a synthetic (untrusted) event cannot be extended, the work still runs. */
function extend(event: ExtendableEvent, work: Promise<unknown>): void {
  const settled = work.catch(warn);
  try {
    event.waitUntil(settled);
  } catch {
    // isTrusted is false: nothing to extend.
  }
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${settings.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Reports a receipt with the push's capability; a refusal is logged, never thrown (the notification matters more). */
async function report(capability: string | null, state: 'delivered' | 'clicked'): Promise<void> {
  if (capability === null) return;
  const response = await post('/api/v1/receipts', { capability, state });
  if (!response.ok) console.warn(`herald-sw: ${state} receipt refused (${response.status})`);
}

async function show(push: MessagePush): Promise<void> {
  // Storage failing (quota, private mode) must not keep the notification from showing.
  if (push.renew !== null) await keepRenewal(self.registration.scope, { url: settings.url, capability: push.renew }).catch(warn);
  const icon = typeof push.data?.icon === 'string' ? push.data.icon : settings.icon;
  const data: NotificationData = { herald: true, id: push.id, link: push.link, receipt: push.receipt };
  await self.registration.showNotification(push.title ?? '', { body: push.body, tag: push.tag, data, ...(icon !== undefined ? { icon } : {}) });
  await report(push.receipt, 'delivered');
}

async function close(push: ClosePush): Promise<void> {
  for (const notification of await self.registration.getNotifications({ tag: push.tag })) {
    if ((notification.data as NotificationData | null)?.id === push.id) notification.close();
  }
}

/**
 * The window comes first: a browser lets a worker focus or open one only shortly after the
 * click, so the receipt is sent alongside rather than before.
 */
async function clicked(notification: Notification): Promise<void> {
  const data = notification.data as NotificationData;
  notification.close();
  const reporting = report(data.receipt, 'clicked');
  try {
    const link = httpLink(data.link);
    if (link === null) return;
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((client) => client.url === link);
    if (open) await open.focus();
    else await self.clients.openWindow(link);
  } finally {
    await reporting;
  }
}

async function renew(event: PushSubscriptionChangeEvent): Promise<void> {
  const renewal = await readRenewal(self.registration.scope);
  if (!renewal) return;
  let subscription = event.newSubscription;
  const applicationServerKey = event.oldSubscription?.options.applicationServerKey;
  if (!subscription && applicationServerKey) subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  if (!subscription) return;
  const response = await fetch(`${renewal.url}/api/v1/native/renew`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ capability: renewal.capability, subscription: subscription.toJSON() }),
  });
  if (!response.ok) console.warn(`herald-sw: subscription not renewed (${response.status})`);
  // Used up either way: the next push brings a capability for the new subscription.
  await forgetRenewal(self.registration.scope);
}

self.addEventListener('push', (event) => {
  let raw: unknown;
  try {
    raw = event.data?.json();
  } catch {
    return;
  }
  const push = parsePush(raw);
  if (push) extend(event, push.type === 'close' ? close(push) : show(push));
});

self.addEventListener('notificationclick', (event) => {
  if ((event.notification.data as NotificationData | null)?.herald !== true) return;
  extend(event, clicked(event.notification));
});

self.addEventListener('pushsubscriptionchange', (event) => extend(event as PushSubscriptionChangeEvent, renew(event as PushSubscriptionChangeEvent)));
