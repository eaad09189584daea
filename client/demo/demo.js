// Herald's demo inbox: a whole web inbox on the browser SDK (GET /sdk/herald.js), written as a
// web developer would write one. Open /demo, paste a user token (`npx herald token --sub alice`)
// and send that user messages. Message text is shown with textContent only: messages are input
// from whoever sent them, never markup.
import { HeraldClient } from '/sdk/herald.js';

const TOKEN_KEY = 'herald.demo.token';
const PAGE = 20;

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
/** The messages shown, by id: { id, msg, title, urgency, link, createdAt, read }. */
let shown = new Map();
let cursor = null;

function showUnread(count) {
  ui.unread.textContent = String(count);
  ui.bell.setAttribute('aria-label', `Unread messages: ${count}`);
  ui.bell.classList.toggle('has-unread', count > 0);
}

function itemOf(message, read) {
  return {
    id: message.id,
    msg: message.msg,
    title: message.title,
    urgency: message.urgency,
    link: message.link,
    createdAt: message.createdAt,
    read,
  };
}

function render() {
  const items = [...shown.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  ui.list.replaceChildren(...items.map(renderItem));
  ui.empty.hidden = items.length > 0;
  ui.older.hidden = cursor === null;
}

function renderItem(item) {
  const li = document.createElement('li');
  li.className = item.read ? 'read' : 'unread';
  li.dataset.id = item.id;
  if (item.title) {
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = item.title;
    li.append(title);
  }
  const body = document.createElement('div');
  body.className = 'body';
  body.textContent = item.msg;
  li.append(body);

  const meta = document.createElement('div');
  meta.className = 'meta';
  const time = document.createElement('time');
  time.dateTime = item.createdAt;
  time.textContent = new Date(item.createdAt).toLocaleString();
  const urgency = document.createElement('span');
  urgency.className = `urgency-${item.urgency}`;
  urgency.textContent = item.urgency;
  meta.append(time, urgency);
  if (item.link) {
    const link = document.createElement('a');
    link.href = item.link;
    link.rel = 'noopener noreferrer';
    link.textContent = 'Open';
    link.addEventListener('click', () => herald.markClicked(item.id).catch(report));
    meta.append(link);
  }
  if (!item.read) {
    const read = document.createElement('button');
    read.type = 'button';
    read.textContent = 'Mark read';
    read.setAttribute('aria-label', `Mark read: ${item.title ?? item.msg}`);
    read.addEventListener('click', () => markRead([item.id]));
    meta.append(read);
  }
  li.append(meta);
  return li;
}

async function markRead(ids) {
  try {
    await herald.markRead(ids);
    for (const id of ids) {
      const item = shown.get(id);
      if (item) item.read = true;
    }
    render();
  } catch (error) {
    report(error);
  }
}

async function loadPage() {
  const page = await herald.messages({ limit: PAGE, ...(cursor ? { cursor } : {}) });
  for (const m of page.messages) shown.set(m.id, itemOf(m, m.state.read !== null));
  cursor = page.next;
  render();
}

function report(error) {
  ui.status.textContent = `Error: ${error.message ?? error}`;
}

async function connect(token) {
  herald = new HeraldClient({ url: location.origin, token: () => token });
  herald.on('status', (status) => {
    ui.status.textContent = STATUS_TEXT[status] ?? status;
  });
  herald.on('unread', showUnread);
  herald.on('message', (message) => {
    if (!shown.has(message.id)) shown.set(message.id, itemOf(message, false));
    render();
  });
  herald.on('error', report);
  await herald.connect();
  await loadPage();
  showUnread(await herald.unreadCount());
  ui.inbox.hidden = false;
  ui.signOut.hidden = false;
  ui.bell.disabled = false;
}

function disconnect() {
  herald?.close();
  herald = undefined;
  shown = new Map();
  cursor = null;
  sessionStorage.removeItem(TOKEN_KEY);
  ui.inbox.hidden = true;
  ui.signOut.hidden = true;
  ui.bell.disabled = true;
  ui.status.textContent = STATUS_TEXT.closed;
  showUnread(0);
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
ui.older.addEventListener('click', () => loadPage().catch(report));
ui.bell.addEventListener('click', () => ui.list.querySelector('li.unread button')?.focus());
ui.markAllRead.addEventListener('click', async () => {
  try {
    await herald.markAllRead();
    for (const item of shown.values()) item.read = true;
    render();
  } catch (error) {
    report(error);
  }
});
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
