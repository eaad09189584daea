// Herald's demo inbox: a whole web inbox on the browser SDK (GET /sdk/herald.js), written as a
// web developer would write one. The list is rendered from the SDK's `inbox` event, so it shows
// the cached inbox at once (offline too), and every change — here, in another tab, on another
// device — arrives the same way. Open /demo, paste a user token (`npx herald token --sub alice`)
// and send that user messages. Message text is shown with textContent only: messages are input
// from whoever sent them, never markup.
import { HeraldClient } from '/sdk/herald.js';

const TOKEN_KEY = 'herald.demo.token';
const PAGE = 20;
/** The SDK's inbox holds the newest 100 messages (its cacheSize): older ones are paged on demand. */
const INBOX_SIZE = 100;

const $ = (id) => document.getElementById(id);
const ui = {
  signIn: $('sign-in'),
  token: $('token'),
  signOut: $('sign-out'),
  status: $('status'),
  inbox: $('inbox'),
  list: $('messages'),
  empty: $('empty'),
  older: $('older'),
  bell: $('bell'),
  unread: $('unread'),
  markAllRead: $('mark-all-read'),
  enableNotifications: $('enable-notifications'),
};

const STATUS_TEXT = {
  connecting: 'Connecting…',
  open: 'Connected: new messages appear as they are sent.',
  reconnecting: 'Connection lost, reconnecting…',
  closed: 'Not connected.',
};

let herald;
/** The inbox as the SDK keeps it (the `inbox` event: cached first, then fresh, then on every change). */
let newest = [];
/** Older pages loaded with "Show older messages", by id. */
let older = new Map();
let moreOlder = true;

function showUnread(count) {
  ui.unread.textContent = String(count);
  ui.bell.setAttribute('aria-label', `Unread messages: ${count}`);
  ui.bell.classList.toggle('has-unread', count > 0);
}

function render() {
  const byId = new Map(older);
  for (const message of newest) byId.set(message.id, message);
  const items = [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  ui.list.replaceChildren(...items.map(renderItem));
  ui.empty.hidden = items.length > 0;
  ui.older.hidden = items.length < INBOX_SIZE || !moreOlder;
}

function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function renderItem(message) {
  const read = message.state.read !== null;
  const name = message.title ?? message.msg;
  const li = document.createElement('li');
  li.className = read ? 'read' : 'unread';
  li.dataset.id = message.id;
  if (message.title) {
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = message.title;
    li.append(title);
  }
  const body = document.createElement('div');
  body.className = 'body';
  body.textContent = message.msg;
  li.append(body);

  const meta = document.createElement('div');
  meta.className = 'meta';
  const time = document.createElement('time');
  time.dateTime = message.createdAt;
  time.textContent = new Date(message.createdAt).toLocaleString();
  const urgency = document.createElement('span');
  urgency.className = `urgency-${message.urgency}`;
  urgency.textContent = message.urgency;
  meta.append(time, urgency);
  if (message.link) {
    const link = document.createElement('a');
    link.href = message.link;
    link.rel = 'noopener noreferrer';
    link.textContent = 'Open';
    link.addEventListener('click', () => herald.markClicked(message.id).catch(report));
    meta.append(link);
  }
  // The SDK changes its inbox at once (in every tab) and queues the receipt when offline.
  if (!read) meta.append(button('Mark read', `Mark read: ${name}`, () => herald.markRead([message.id]).catch(report)));
  meta.append(button('Archive', `Archive: ${name}`, () => herald.archive([message.id]).catch(report)));
  li.append(meta);
  return li;
}

async function loadOlder() {
  const ids = [...older.keys(), ...newest.map((m) => m.id)].sort();
  const page = await herald.messages({ limit: PAGE, ...(ids[0] ? { cursor: ids[0] } : {}) });
  for (const message of page.messages) older.set(message.id, message);
  moreOlder = page.next !== null;
  render();
}

function report(error) {
  ui.status.textContent = `Error: ${error.message ?? error}`;
}

function forget(ids) {
  for (const id of ids) older.delete(id);
  render();
}

async function connect(token) {
  herald = new HeraldClient({ url: location.origin, token: () => token });
  herald.on('status', (status) => {
    ui.status.textContent = STATUS_TEXT[status] ?? status;
  });
  herald.on('inbox', (messages) => {
    newest = messages;
    render();
  });
  herald.on('unread', showUnread);
  // Changes to messages of older pages, which the SDK's inbox does not hold.
  herald.on('read', ({ ids, all }) => {
    for (const message of older.values()) if (all || ids.includes(message.id)) message.state = { ...message.state, read: new Date().toISOString() };
    render();
  });
  herald.on('archive', forget);
  herald.on('recall', (id) => forget([id]));
  herald.on('message', (message) => {
    if (message.replaces) forget([message.replaces]);
  });
  herald.on('error', report);
  ui.inbox.hidden = false;
  ui.signOut.hidden = false;
  ui.bell.disabled = false;
  await herald.connect();
}

function disconnect() {
  herald?.clearCache();
  herald?.close();
  herald = undefined;
  newest = [];
  older = new Map();
  moreOlder = true;
  sessionStorage.removeItem(TOKEN_KEY);
  ui.inbox.hidden = true;
  ui.signOut.hidden = true;
  ui.bell.disabled = true;
  ui.status.textContent = STATUS_TEXT.closed;
  showUnread(0);
  render();
}

ui.signIn.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  ui.token.value = '';
  disconnect();
  sessionStorage.setItem(TOKEN_KEY, token);
  connect(token).catch((error) => {
    report(error);
    herald?.close();
  });
});
ui.signOut.addEventListener('click', disconnect);
ui.older.addEventListener('click', () => loadOlder().catch(report));
ui.bell.addEventListener('click', () => ui.list.querySelector('li.unread button')?.focus());
ui.markAllRead.addEventListener('click', () => herald.markAllRead().catch(report));
ui.enableNotifications.addEventListener('click', async () => {
  try {
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) throw new Error('this browser has no web push');
    const registration = await navigator.serviceWorker.register('/demo/sw.js', { scope: '/demo/' });
    await navigator.serviceWorker.ready;
    await herald.enableWebPush(registration);
    ui.enableNotifications.textContent = 'Notifications enabled';
    ui.enableNotifications.disabled = true;
  } catch (error) {
    report(error);
  }
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) connect(saved).catch(report);
