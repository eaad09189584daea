// Herald's admin console (GET /console): one page over the admin API. Sign in with an admin
// token (kept in session storage, sent only as a bearer header, never in a URL). Everything a
// message or a user holds is shown with textContent only: messages are hostile input.
const TOKEN_KEY = 'herald.console.token';
const LIVE_EVERY_MS = 3000;
const AUDIENCE_DEBOUNCE_MS = 300;

const $ = (id) => document.getElementById(id);

let token = null;
let liveTimer;

/** An element with text (never markup) and children. */
function el(tag, text, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  node.append(...children);
  return node;
}

function row(...cells) {
  return el('tr', null, ...cells.map((cell) => (cell instanceof Node ? el('td', null, cell) : el('td', cell))));
}

/** A refusal as the API words it: problem+json detail and the fields named. */
class ApiError extends Error {}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const answer = await res.json().catch(() => null);
  if (!res.ok) {
    const fields = (answer?.errors ?? []).map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new ApiError(`${res.status} ${answer?.detail ?? answer?.title ?? res.statusText}${fields ? ` (${fields})` : ''}`);
  }
  return answer;
}

const status = (text) => {
  $('status').textContent = text;
};
const perMinute = (value) => (value === null ? '…' : String(value));

// Live panel

async function refreshLive() {
  const stats = await api('GET', '/api/v1/admin/stats');
  $('sockets').textContent = String(stats.sockets);
  $('scheduled-jobs').textContent = String(stats.scheduledJobs);
  $('window').textContent = stats.windowSeconds === null ? 'Rates: measuring…' : `Rates over the last ${stats.windowSeconds} s`;
  $('accepted').replaceChildren(...stats.accepted.map((r) => row(r.urgency, perMinute(r.perMinute), r.total)));
  $('deliveries').replaceChildren(
    ...(stats.deliveries.length ? stats.deliveries.map((r) => row(r.channel, r.result, perMinute(r.perMinute), r.total)) : [row('none yet', '', '', '')]),
  );
  // Only the queues holding work: an idle Herald has dozens of empty subjects.
  const waiting = stats.queues.filter((q) => q.depth > 0);
  const empty = stats.queues.length - waiting.length;
  $('queues').replaceChildren(...waiting.map((q) => row(q.subject, q.depth)), row(`${empty} ${waiting.length ? 'other ' : ''}queues empty`, 0));
}

function startLive() {
  clearInterval(liveTimer);
  liveTimer = setInterval(() => {
    refreshLive().catch((error) => status(`Live figures unavailable: ${error.message}`));
  }, LIVE_EVERY_MS);
}

// Compose

function options() {
  const opts = {};
  const text = (id) => $(id).value.trim();
  if (text('title')) opts.title = text('title');
  if (text('urgency')) opts.urgency = text('urgency');
  if (text('link')) opts.link = text('link');
  if (text('topic')) opts.topic = text('topic');
  if (text('ttl')) opts.ttl = Number(text('ttl'));
  if (text('schedule')) opts.at = new Date(text('schedule')).toISOString();
  const channels = [...document.querySelectorAll('input[name="channel"]:checked')].map((box) => box.value);
  if (channels.length) opts.channels = channels;
  return opts;
}

function audience() {
  const result = {};
  const where = $('audience-where').value.trim();
  if (where) result.where = JSON.parse(where);
  if ($('audience-has').value) result.has = $('audience-has').value;
  if ($('audience-online').checked) result.online = true;
  return Object.keys(result).length ? result : undefined;
}

const uidList = () =>
  $('uids')
    .value.split(',')
    .map((u) => u.trim())
    .filter(Boolean);

/** Sends with `target` (the part of the body naming recipients) and reports the id. */
async function compose(path, target, what) {
  const result = $('compose-result');
  const msg = $('msg').value;
  if (!msg.trim()) {
    result.textContent = 'Write the message first.';
    $('msg').focus();
    return;
  }
  try {
    const opts = options();
    const accepted = await api('POST', path, { msg, ...target, ...(Object.keys(opts).length ? { opts } : {}) });
    result.textContent = `${what} accepted: ${accepted.id}${opts.at ? ` (scheduled for ${opts.at})` : ''}`;
    if (opts.at) await refreshScheduled();
  } catch (error) {
    result.textContent = `${what} refused: ${error.message}`;
  }
}

let audienceTimer;
function audienceChanged() {
  clearTimeout(audienceTimer);
  audienceTimer = setTimeout(async () => {
    const out = $('audience-size');
    try {
      const uids = uidList();
      if (uids.length) {
        out.textContent = `${new Set(uids).size} users`;
        return;
      }
      const selected = audience();
      if (!selected) {
        out.textContent = '–';
        return;
      }
      const { count, capped } = await api('POST', '/api/v1/audience/count', { audience: selected });
      out.textContent = `${capped ? 'at least ' : ''}${count} users`;
    } catch (error) {
      out.textContent = error instanceof SyntaxError ? 'the attributes are not JSON' : error.message;
    }
  }, AUDIENCE_DEBOUNCE_MS);
}

async function refreshEveryone() {
  const { count, capped } = await api('POST', '/api/v1/audience/count', { everyone: true });
  $('everyone-size').textContent = `${capped ? 'at least ' : ''}${count}`;
}

// Scheduled messages

function targetText(target) {
  if (target.kind === 'user') return target.uid;
  if (target.kind === 'users') return `${target.uids.length} users`;
  if (target.kind === 'audience') return `audience ${JSON.stringify(target.audience)}`;
  if (target.kind === 'members') return `members of ${target.thread} ${JSON.stringify(target.audience)}`;
  return 'everyone';
}

async function refreshScheduled() {
  const { messages } = await api('GET', '/api/v1/messages/scheduled?limit=50');
  $('scheduled-empty').hidden = messages.length > 0;
  $('scheduled-list').replaceChildren(
    ...messages.map((m) => {
      const cancel = el('button', 'Cancel');
      cancel.type = 'button';
      cancel.setAttribute('aria-label', `Cancel scheduled message: ${m.msg.slice(0, 60)}`);
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try {
          await api('DELETE', `/api/v1/messages/${encodeURIComponent(m.id)}`);
          status(`Cancelled ${m.id}.`);
          await refreshScheduled();
        } catch (error) {
          cancel.disabled = false;
          status(`Not cancelled: ${error.message}`);
        }
      });
      return row(new Date(m.scheduledFor).toLocaleString(), targetText(m.target), m.msg, cancel);
    }),
  );
}

// Search and receipts

const STAGES = ['queued', 'sent', 'delivered', 'read', 'clicked'];

/**
 * Per channel: how many receipts reached each stage (a read one was also queued, sent and
 * delivered), how many failed (after being queued) or were skipped (suppressed, expired), and
 * why, counted by channel, state and reason.
 */
function funnelOf(receipts) {
  const channels = new Map();
  const reasons = new Map();
  for (const r of receipts) {
    const counts = channels.get(r.channel) ?? { queued: 0, sent: 0, delivered: 0, read: 0, clicked: 0, failed: 0, skipped: 0 };
    channels.set(r.channel, counts);
    const stage = STAGES.indexOf(r.state);
    if (stage >= 0) {
      for (const reached of STAGES.slice(0, stage + 1)) counts[reached]++;
      continue;
    }
    if (r.state === 'failed') {
      counts.queued++;
      counts.failed++;
    } else counts.skipped++;
    const key = `${r.channel} ${r.state}: ${r.reason ?? 'no reason given'}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return { channels, reasons };
}

async function showReceipts(id) {
  const message = await api('GET', `/api/v1/messages/${encodeURIComponent(id)}`);
  const { channels, reasons } = funnelOf(message.receipts);
  $('funnel-title').textContent = `Receipts of “${message.msg.slice(0, 80)}” (${message.status})`;
  $('funnel-rows').replaceChildren(
    ...(channels.size
      ? [...channels]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([channel, c]) => row(channel, c.queued, c.sent, c.delivered, c.read, c.clicked, c.failed, c.skipped))
      : [row('no receipts yet', '', '', '', '', '', '', '')]),
  );
  $('failures').replaceChildren(...[...reasons].sort().map(([reason, n]) => el('li', `${reason} × ${n}`)));
  $('funnel').hidden = false;
}

async function search(event) {
  event.preventDefault();
  try {
    const { messages } = await api('GET', `/api/v1/messages/search?q=${encodeURIComponent($('q').value)}&limit=20`);
    $('search-results').replaceChildren(
      ...(messages.length
        ? messages.map((m) => {
            const open = el('button', 'Receipts');
            open.type = 'button';
            open.setAttribute('aria-label', `Receipts of: ${m.msg.slice(0, 60)}`);
            open.addEventListener('click', () => showReceipts(m.id).catch((error) => status(`Receipts unavailable: ${error.message}`)));
            return el('li', null, el('span', `${new Date(m.createdAt).toLocaleString()} · ${m.urgency} · `), el('span', m.msg), ' ', open);
          })
        : [el('li', 'No message matches.')]),
    );
  } catch (error) {
    status(`Search failed: ${error.message}`);
  }
}

// User lookup

async function lookUp(event) {
  event.preventDefault();
  const uid = $('lookup-uid').value.trim();
  const path = `/api/v1/users/${encodeURIComponent(uid)}`;
  try {
    const [user, devices, preferences, inbox] = await Promise.all([
      api('GET', path).catch((error) => ({ missing: error.message })),
      api('GET', `${path}/devices`),
      api('GET', `${path}/preferences`),
      api('GET', `${path}/messages?limit=20`),
    ]);
    const contacts = user.missing
      ? [el('dt', 'Profile'), el('dd', user.missing)]
      : ['email', 'phone', 'locale', 'timezone'].flatMap((field) => [el('dt', field), el('dd', user[field] ?? '—')]);
    if (!user.missing) contacts.push(el('dt', 'attributes'), el('dd', JSON.stringify(user.attributes)));
    $('user-contacts').replaceChildren(...contacts);
    $('user-devices').replaceChildren(
      ...(devices.devices.length
        ? devices.devices.map((d) => el('li', `${d.kind}${d.origin ? ` (${d.origin})` : ''} since ${new Date(d.createdAt).toLocaleString()}`))
        : [el('li', 'No devices.')]),
    );
    $('user-preferences').textContent = JSON.stringify(preferences, null, 2);
    $('user-inbox').replaceChildren(
      ...(inbox.messages.length
        ? inbox.messages.map((m) => el('li', null, el('span', m.state.read ? 'read · ' : 'unread · '), el('span', m.msg)))
        : [el('li', 'Empty inbox.')]),
    );
    $('user-details').hidden = false;
  } catch (error) {
    status(`Lookup failed: ${error.message}`);
  }
}

// Sign in and out

async function signIn(candidate) {
  token = candidate;
  status('Signing in…');
  try {
    await refreshLive();
  } catch (error) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    status(`Not signed in: ${error.message}`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  $('token').value = '';
  $('console').hidden = false;
  $('sign-out').hidden = false;
  status('Signed in. The live figures refresh every few seconds.');
  startLive();
  await Promise.all([refreshScheduled(), refreshEveryone()]).catch((error) => status(error.message));
}

function signOut() {
  clearInterval(liveTimer);
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('console').hidden = true;
  $('sign-out').hidden = true;
  status('Not signed in.');
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn($('token').value.trim());
});
$('sign-out').addEventListener('click', signOut);
$('send').addEventListener('click', () => compose('/api/v1/send', { uid: $('uid').value.trim() }, 'Send'));
$('multicast').addEventListener('click', () => {
  const uids = uidList();
  let target;
  try {
    target = uids.length ? { uids } : { audience: audience() };
  } catch {
    $('compose-result').textContent = 'Multicast refused: the audience attributes are not JSON.';
    return;
  }
  compose('/api/v1/multicast', target, 'Multicast');
});
$('broadcast').addEventListener('click', () => compose('/api/v1/broadcast', {}, 'Broadcast'));
for (const id of ['uids', 'audience-where', 'audience-has', 'audience-online']) $(id).addEventListener('input', audienceChanged);
$('refresh-scheduled').addEventListener('click', () => refreshScheduled().catch((error) => status(error.message)));
$('search-form').addEventListener('submit', search);
$('user-form').addEventListener('submit', lookUp);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
