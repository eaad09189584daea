/**
 * HeraldClient: one user's realtime inbox over Herald's REST API and WebSocket (docs/api.md),
 * offline-first and shared by the browser's tabs (client/README.md).
 *
 * - connect(): a single-use ticket (POST /api/v1/ws/token), then GET /ws?token=…. When the
 *   socket is lost it reconnects by itself: exponential backoff with full jitter (a random wait
 *   below 0.5 s, 1 s, 2 s … up to 30 s; at least a 429's Retry-After), a fresh ticket each time,
 *   and `since=<the newest id seen>` so the server replays what arrived meanwhile. A refusal that
 *   retrying cannot fix (401, 403, 400) stops it: status `closed` and an `error` event, as does
 *   close code 4410 (the user was erased), which also clears the cache.
 * - One socket per user across tabs (client/src/tabs.ts): the leader tab holds it and passes its
 *   frames to the others; when the leader goes, the next tab takes over and resumes with since=.
 * - The inbox (its newest messages and the unread count) is cached (client/src/store.ts) and
 *   emitted (`inbox`, `unread`) from the cache first, then fresh from the server on every open.
 *   Receipts (markRead, markClicked, markAllRead, archive) change it at once in every tab, are
 *   queued durably and sent in order (client/src/outbox.ts); queued ones are replayed when
 *   Herald can be reached again, after a reload too. The count is the API's once the queue is
 *   empty (it is only fetched then), and moved locally by each change meanwhile.
 * - `message` fires at most once per id in each tab: the last 1000 ids are remembered across
 *   reconnects and leader changes. The leader acknowledges each (`ack` frame: delivered).
 * - A ping frame every 30 s keeps presence fresh; a socket that answers nothing between two
 *   pings (a dead network path that never closed) is dropped and reconnected, as is one that
 *   does not open within 15 s. The window's `online` event retries at once and replays the queue.
 * - close() stops everything, including reconnecting, and hands the socket to another tab;
 *   connect() may start again afterwards.
 */
import { errorOf, HeraldError, networkError } from './errors.js';
import { Inbox, type InboxOp } from './inbox.js';
import { type FlushOutcome, flushOutbox, opOf, receiptBodies } from './outbox.js';
import { IndexedDbStore, MemoryStore, type OfflineStore } from './store.js';
import { exclusive, TabGroup, type TabNote } from './tabs.js';
import type { ActionResult, HeraldEvents, HeraldMessage, HeraldStatus, InboxMessage, InboxPage, MessagesQuery } from './types.js';

export interface HeraldClientOptions {
  /** Herald's base URL, e.g. `https://herald.example` (its API and `/ws`). */
  url: string;
  /** The user's JWT, or a function giving one: called before every request, so it may hand out a refreshed token. */
  token: string | (() => string | Promise<string>);
  /** Reconnect backoff: the first ceiling (default 500 ms), doubled per failed attempt up to `maxDelayMs` (default 30 000 ms). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Milliseconds between ping frames on an open socket (default 30 000; 0: none, and no dead-socket detection). */
  heartbeatMs?: number;
  /** Resume after this message id on the first connect (the newest one an earlier session saw). */
  since?: string;
  /** Acknowledge each message received with an `ack` frame (default true). */
  ack?: boolean;
  /** The user's id, naming the cache and the tab group (default: the token's `sub` claim). */
  user?: string;
  /** Keep the inbox and the receipts queue in IndexedDB across page loads (default true). False: in memory, for this page only. */
  offline?: boolean;
  /** One WebSocket for all the browser's tabs of this user (default true; needs Web Locks and BroadcastChannel). */
  shareConnection?: boolean;
  /** Messages kept in the cached inbox, the newest (default 100, at most 200). */
  cacheSize?: number;
}

/** The ids of one receipt or frame (LIMITS.idsPerReceipt in src/exchange/limits.ts). */
const IDS_PER_REQUEST = 200;
/** Message ids remembered to drop a second copy of a message. */
const RECENT_IDS = 1000;
const OPEN_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 20_000;
/** A socket open this long counts as a success: the next loss starts the backoff over. */
const STABLE_MS = 5_000;
const ACK_BATCH_MS = 50;
/** The close code of a socket whose user was erased (DELETE /api/v1/users/{uid}): final. */
const USER_ERASED = 4410;

type Listener<T> = (value: T) => void;
type Timer = ReturnType<typeof setTimeout>;

interface Waiter {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that never awaits connect() must not see an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Insertion-ordered set of at most `limit` ids: the oldest is forgotten first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly limit: number) {}
  /** False when `id` was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

/** The `sub` claim of a JWT, read without verifying it (it only names the cache). */
function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload?.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

/** An inbox entry of a message frame, as the list would show it. */
const entryOf = (frame: HeraldMessage): InboxMessage => ({
  id: frame.id,
  msg: frame.msg,
  title: frame.title ?? null,
  data: frame.data ?? null,
  urgency: frame.urgency,
  link: frame.link ?? null,
  topic: frame.topic ?? null,
  category: null,
  createdAt: frame.createdAt,
  ...(frame.sender ? { sender: frame.sender } : {}),
  state: { delivered: new Date().toISOString(), read: null },
});

export class HeraldClient {
  private readonly base: string;
  private readonly tokenSource: HeraldClientOptions['token'];
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly heartbeatMs: number;
  private readonly ackMessages: boolean;
  private readonly user: string | undefined;
  private readonly keepOffline: boolean;
  private readonly share: boolean;
  private readonly cacheSize: number;
  private readonly listeners: { [K in keyof HeraldEvents]?: Set<Listener<HeraldEvents[K]>> } = {};
  private readonly recent = new RecentIds(RECENT_IDS);
  /** Ids reported by a `read` event that the cache could not tell about: reported once. */
  private readonly readReported = new RecentIds(RECENT_IDS);
  private readonly box: Inbox;

  private current: HeraldStatus = 'closed';
  private ws: WebSocket | undefined;
  /** The reconnect wait, or the open timeout. */
  private timer: Timer | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Bumped by close(): work started before it sees it changed and stops. */
  private generation = 0;
  private attempt = 0;
  private openedAt = 0;
  private lastFrameAt = 0;
  private pingedAt = 0;
  private lastId: string | undefined;
  private waiting: Waiter | undefined;
  private acks: string[] = [];
  private ackTimer: Timer | undefined;
  private countBusy = false;
  private countAgain = false;

  /** The cache's and the tab group's name, once the user is known. */
  private scope = '';
  private store: OfflineStore = new MemoryStore();
  private preparing: Promise<void> | undefined;
  private group: TabGroup | undefined;
  /** This tab holds the socket (without a tab group: always once connecting). */
  private leader = false;
  /** Became leader after another tab: resume after the newest message cached when no frame was seen. */
  private tookOver = false;
  /** Ids that arrived while a fresh page was being fetched (kept when it is taken). */
  private arrived: Set<string> | undefined;
  /** Receipts and removals applied while a sync was fetching: applied again over what it fetched. */
  private during: InboxOp[] | undefined;
  private readonly createdAt = Date.now();

  constructor(options: HeraldClientOptions) {
    if (!options?.url || !options.token) throw new TypeError('HeraldClient needs { url, token }');
    this.base = options.url.replace(/\/+$/, '');
    this.tokenSource = options.token;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 500;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.ackMessages = options.ack ?? true;
    this.lastId = options.since;
    this.user = options.user;
    this.keepOffline = options.offline ?? true;
    this.share = options.shareConnection ?? true;
    this.cacheSize = Math.min(200, Math.max(1, options.cacheSize ?? 100));
    this.box = new Inbox(this.cacheSize);
  }

  /** The connection's status now (in a tab that does not lead: the leader's). */
  get status(): HeraldStatus {
    return this.current;
  }

  /** The unread count as known now (the API's, moved by changes not yet sent), undefined before it is known. */
  get unread(): number | undefined {
    return this.box.unread;
  }

  /** The cached inbox now, newest first (what the last `inbox` event gave). */
  get inbox(): InboxMessage[] {
    return [...this.box.messages];
  }

  /** Calls `listener` on each `event`; returns the function that removes it. */
  on<K extends keyof HeraldEvents>(event: K, listener: Listener<HeraldEvents[K]>): () => void {
    let set = this.listeners[event] as Set<Listener<HeraldEvents[K]>> | undefined;
    if (!set) {
      set = new Set();
      (this.listeners as Record<string, unknown>)[event] = set;
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof HeraldEvents>(event: K, listener: Listener<HeraldEvents[K]>): void {
    this.listeners[event]?.delete(listener as never);
  }

  /**
   * Emits the cached inbox (`inbox`, `unread`) at once, then opens the socket, or follows the tab
   * that holds it; resolves once it is open. Rejects when the server refuses for good (a
   * HeraldError: 401, 403, …) or close() is called first; until then failures are retried.
   */
  connect(): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    this.waiting ??= waiter();
    if (this.current === 'closed') {
      this.attempt = 0;
      this.setStatus('connecting');
      globalThis.addEventListener?.('online', this.retryNow);
      void this.start(this.generation);
    }
    return this.waiting.promise;
  }

  /** Closes the socket (another tab takes it over) and stops reconnecting. */
  close(): void {
    this.generation += 1;
    this.flushAcks();
    this.stop();
    this.group?.leave();
    this.group = undefined;
    this.leader = false;
    globalThis.removeEventListener?.('online', this.retryNow);
    this.setStatus('closed');
    this.waiting?.reject(new HeraldError({ status: 0, code: 'HERALD_CLOSED', detail: 'close() was called before the socket opened' }));
    this.waiting = undefined;
  }

  /**
   * One page of the inbox, newest first (GET /api/v1/messages), after the queued receipts were
   * sent. When Herald cannot be reached, a first page (no `cursor`) comes from the cache, with
   * `cached: true` and `next: null`.
   */
  async messages(query: MessagesQuery = {}): Promise<InboxPage> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null) params.set(name, String(value));
    const search = params.toString();
    const path = `/api/v1/messages${search ? `?${search}` : ''}`;
    await this.prepare();
    try {
      return await this.exclusive(async () => {
        const flushed = await this.flush();
        if (!flushed.done) throw flushed.error;
        return this.request<InboxPage>('GET', path);
      });
    } catch (error) {
      if (!(error instanceof HeraldError && error.status === 0) || query.cursor) throw error;
      const messages = this.box.messages.filter((m) => (query.state !== 'unread' || m.state.read === null) && (!query.since || m.id > query.since));
      return { messages: messages.slice(0, query.limit ?? 50), next: null, cached: true };
    }
  }

  /**
   * How many of the user's messages are unread, as the API counts them once the queued receipts
   * were sent; emits `unread` when it changed. When Herald cannot be reached: the count known
   * locally (rejects when there is none).
   */
  async unreadCount(): Promise<number> {
    await this.prepare();
    const outcome = await this.sync(false);
    if (outcome.count !== undefined) return outcome.count;
    if (this.box.unread !== undefined && (!(outcome.error instanceof HeraldError) || outcome.error.transient)) return this.box.unread;
    throw outcome.error;
  }

  /** Marks messages read (POST /api/v1/receipts); ids that are not the user's are ignored by the API. */
  markRead(ids: string | readonly string[]): Promise<ActionResult> {
    const unique = [...new Set(typeof ids === 'string' ? [ids] : ids)];
    return this.act({ kind: 'read', ids: unique, at: new Date().toISOString() }, receiptBodies(unique, 'read', IDS_PER_REQUEST));
  }

  /** Marks read every message of the user that is unread when Herald gets the request (POST /api/v1/receipts with `all`). */
  markAllRead(): Promise<ActionResult> {
    return this.act({ kind: 'all-read', at: new Date().toISOString() }, [{ all: true, state: 'read' }]);
  }

  /** Records a click on a message (which marks it read too). */
  markClicked(id: string): Promise<ActionResult> {
    return this.act({ kind: 'read', ids: [id], at: new Date().toISOString() }, [{ ids: [id], state: 'clicked' }]);
  }

  /** Archives messages: they leave the inbox and its count (POST /api/v1/receipts, state `archived`). */
  archive(ids: string | readonly string[]): Promise<ActionResult> {
    const unique = [...new Set(typeof ids === 'string' ? [ids] : ids)];
    return this.act({ kind: 'remove', ids: unique, why: 'archived' }, receiptBodies(unique, 'archived', IDS_PER_REQUEST));
  }

  /** Forgets what this browser keeps for the user (the cached inbox, receipts not sent yet): for signing out. */
  async clearCache(): Promise<void> {
    await this.prepare();
    await this.store.clear(this.scope);
    if (this.box.replace([], undefined)) this.emit('inbox', this.inbox);
  }

  /**
   * Web push for this browser: asks for notification permission, subscribes `registration`'s
   * push manager with Herald's VAPID key (reusing a subscription made with that key) and
   * registers it (POST /api/v1/native/subscribe). Resolves with the device id.
   */
  async enableWebPush(registration: ServiceWorkerRegistration): Promise<{ id: string; subscription: PushSubscription }> {
    if (!registration?.pushManager || typeof Notification === 'undefined') {
      throw new HeraldError({ status: 0, code: 'HERALD_UNSUPPORTED', detail: 'this browser has no Push API (or the page is not a secure context)' });
    }
    const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    if (permission !== 'granted') throw new HeraldError({ status: 0, code: 'HERALD_PERMISSION', detail: `notification permission is ${permission}` });
    const { key } = await this.request<{ key: string }>('GET', '/api/v1/webpush/vapid-public-key', undefined, false);
    const applicationServerKey = fromBase64Url(key);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options.applicationServerKey, applicationServerKey)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
    const { id } = await this.request<{ id: string }>('POST', '/api/v1/native/subscribe', subscription.toJSON());
    return { id, subscription };
  }

  /**
   * Undoes enableWebPush: unregisters the subscription (DELETE /api/v1/native/subscribe; one
   * Herald no longer knows is fine), then unsubscribes it. False when there was none.
   */
  async disableWebPush(registration: ServiceWorkerRegistration): Promise<boolean> {
    const subscription = await registration?.pushManager?.getSubscription();
    if (!subscription) return false;
    try {
      await this.request('DELETE', '/api/v1/native/subscribe', subscription.toJSON());
    } catch (error) {
      if (!(error instanceof HeraldError && error.status === 404)) throw error;
    }
    await subscription.unsubscribe();
    return true;
  }

  /** Fetch with the token; a non-2xx answer becomes a HeraldError. */
  private async request<T = void>(method: string, path: string, body?: unknown, authenticated = true): Promise<T> {
    const headers: Record<string, string> = {};
    if (authenticated) headers.authorization = `Bearer ${await this.token()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        // A request that hangs must not hold the outbox lock of every tab: it counts as no answer.
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw networkError(error);
    }
    if (!response.ok) throw await errorOf(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  private async token(): Promise<string> {
    return typeof this.tokenSource === 'function' ? await this.tokenSource() : this.tokenSource;
  }

  /**
   * Once: names the scope (the URL and the user), opens the store and emits the cached inbox.
   * Without a user to name it by, the cache stays in memory and the tabs are not shared.
   */
  private prepare(): Promise<void> {
    this.preparing ??= (async () => {
      const user = this.user ?? subjectOf(await this.token());
      if (user === undefined) return;
      this.scope = `${this.base} ${user}`;
      if (this.keepOffline && typeof indexedDB !== 'undefined') {
        this.store = await IndexedDbStore.open().catch(() => this.store);
      }
      const cached = await this.store.load(this.scope).catch(() => undefined);
      const pending = await this.store.queued(this.scope).catch(() => []);
      // A state this page already has (another tab's, the server's) is newer than the cache.
      if (!cached || this.box.messages.length > 0 || this.box.unread !== undefined) return;
      this.box.replace(cached.messages, cached.unread);
      for (const { body } of pending) this.box.apply(opOf(body));
      this.emit('inbox', this.inbox);
      if (this.box.unread !== undefined) this.emit('unread', this.box.unread);
    })();
    this.preparing.catch(() => {
      this.preparing = undefined;
    });
    return this.preparing;
  }

  /** Runs `work` alone among the tabs of this scope: sending the queue, fetching what it changes. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return exclusive(`herald-outbox:${this.scope}`, work);
  }

  /** Sends the queued receipts, in order, until one cannot be sent now; inside exclusive(). */
  private flush(own: number[] = []): Promise<FlushOutcome> {
    return flushOutbox(
      this.store,
      this.scope,
      (body) => this.request('POST', '/api/v1/receipts', body),
      (error, key) => {
        if (!own.includes(key)) this.emit('error', error);
      },
    );
  }

  /**
   * Sends the queue, then (when it is empty) fetches the unread count, and with `page` the
   * newest messages; takes them as the inbox, with the receipts queued meanwhile applied over
   * them, and tells the other tabs.
   */
  private sync(page: boolean, own: number[] = []): Promise<FlushOutcome & { count?: number }> {
    return this.exclusive(async () => {
      const outcome: FlushOutcome & { count?: number } = await this.flush(own);
      if (!outcome.done) return outcome;
      if (page) this.arrived = new Set();
      const during: InboxOp[] = [];
      this.during = during;
      try {
        const fresh = page ? await this.request<InboxPage>('GET', `/api/v1/messages?limit=${this.cacheSize}`) : undefined;
        const { count } = await this.request<{ count: number }>('GET', '/api/v1/messages/count?state=unread');
        const pending = await this.store.queued(this.scope).catch(() => []);
        // A change taken meanwhile (here or in a tab whose queue entry is not written yet) is not in
        // the count: with only a count to go by it stays local until the next sync.
        if (!fresh && (pending.length > 0 || during.length > 0)) {
          outcome.count = this.box.unread;
          return outcome;
        }
        const before = JSON.stringify([this.box.messages, this.box.unread]);
        const unreadBefore = this.box.unread;
        let messages = this.box.messages;
        if (fresh) {
          const listed = new Set(fresh.messages.map((m) => m.id));
          const arrived = this.arrived ?? new Set();
          messages = [...messages.filter((m) => arrived.has(m.id) && !listed.has(m.id)), ...fresh.messages].sort((a, b) => (a.id < b.id ? 1 : -1));
        }
        this.box.replace(messages, count);
        for (const op of [...pending.map(({ body }) => opOf(body)), ...during]) this.box.apply(op);
        outcome.count = this.box.unread;
        if (JSON.stringify([this.box.messages, this.box.unread]) !== before) {
          this.changed(true, unreadBefore);
          this.group?.post({ t: 'inbox', messages: this.box.messages, unread: this.box.unread });
        }
      } catch (error) {
        outcome.error = error as Error;
      } finally {
        this.arrived = undefined;
        this.during = undefined;
      }
      return outcome;
    });
  }

  /** A receipt: applied here and in every tab at once, queued durably, then sent (or left queued when Herald cannot be reached). */
  private async act(op: InboxOp, bodies: ReturnType<typeof receiptBodies>): Promise<ActionResult> {
    if (bodies.length === 0) return 'sent';
    await this.prepare();
    this.applyOp(op, true);
    const keys = await this.store.enqueue(this.scope, bodies);
    const outcome = await this.sync(false, keys);
    const refused = keys.map((key) => outcome.failed.get(key)).find(Boolean);
    if (refused) {
      // Undo what was shown: the server's state again.
      void this.sync(true).catch(() => undefined);
      throw refused;
    }
    // Queued behind a refusal of the token (401): the app is told, for only it can get a new one.
    if (outcome.error instanceof HeraldError && outcome.error.status === 401) this.emit('error', outcome.error);
    return keys.every((key) => outcome.sent.has(key)) ? 'sent' : 'queued';
  }

  /** Applies a change to the inbox; `own`: it started here (persisted, and told to the other tabs). */
  private applyOp(op: InboxOp, own: boolean): void {
    const unread = this.box.unread;
    const change = this.box.apply(op);
    // (An echo, such as the read frame of a read taken here, changes nothing and is not kept.)
    if (op.kind !== 'message' && change.changed) this.during?.push(op);
    if (own) this.group?.post({ t: 'op', op });
    if (op.kind === 'read' || op.kind === 'all-read') {
      // Once per id: a read taken here comes back as the server's read frame too.
      for (const id of change.read) this.readReported.add(id);
      const ids = [...change.read, ...change.unknown.filter((id) => this.readReported.add(id))];
      if (ids.length > 0 || op.kind === 'all-read') this.emit('read', { ids, all: op.kind === 'all-read' });
    }
    if (op.kind === 'remove' && op.why === 'archived') this.emit('archive', op.ids);
    if (change.changed) this.changed(own, unread);
  }

  /** The inbox changed: persisted (by the tab the change came from) and emitted. */
  private changed(persist: boolean, unreadBefore?: number): void {
    if (persist && this.scope) void this.store.save(this.scope, { messages: this.box.messages, unread: this.box.unread }).catch(() => undefined);
    this.emit('inbox', this.inbox);
    if (this.box.unread !== undefined && this.box.unread !== unreadBefore) this.emit('unread', this.box.unread);
  }

  private async start(generation: number): Promise<void> {
    try {
      await this.prepare();
    } catch (error) {
      if (generation === this.generation) this.failed(error);
      return;
    }
    if (generation !== this.generation) return;
    if (!this.share || !this.scope) {
      void this.lead(generation);
      return;
    }
    const group = new TabGroup(this.scope, (note) => this.hear(note));
    this.group = group;
    group.elect(() => void this.lead(generation));
    group.post({ t: 'hello' });
  }

  /** This tab holds the socket now. */
  private async lead(generation: number): Promise<void> {
    if (generation !== this.generation) return;
    this.leader = true;
    this.tookOver = this.current !== 'connecting';
    if (this.tookOver) this.setStatus('reconnecting');
    // The user was erased while this page was open (the leader that saw it gave the lock up):
    // reconnecting would recreate them.
    const cached = await this.store.load(this.scope).catch(() => undefined);
    if (generation !== this.generation) return;
    if (cached?.erasedAt !== undefined && cached.erasedAt >= this.createdAt) void this.erased(false);
    else void this.open(generation);
  }

  /** A note of another tab. */
  private hear(note: TabNote): void {
    if (note.t === 'hello') {
      if (this.leader) this.group?.post({ t: 'state', status: this.current, messages: this.box.messages, unread: this.box.unread, lastId: this.lastId });
    } else if (note.t === 'op') {
      this.applyOp(note.op as InboxOp, false);
    } else if (note.t === 'inbox' || note.t === 'state') {
      const unread = this.box.unread;
      if (this.box.replace(note.messages as InboxMessage[], note.unread as number | undefined)) this.changed(false, unread);
    }
    // Before the leader check: this tab may have been granted the leadership the erased one gave up.
    if (note.t === 'erased') void this.erased(false);
    if (this.leader) return;
    if (note.t === 'frame') this.frame(note.frame, false);
    if (typeof note.lastId === 'string' && (this.lastId === undefined || note.lastId > this.lastId)) this.lastId = note.lastId;
    // The leader's socket is this tab's too; 'closed' only means that tab left (another takes over).
    if ((note.t === 'status' || note.t === 'state') && note.status !== 'closed' && this.current !== 'closed') {
      this.setStatus(note.status as HeraldStatus);
      if (note.status === 'open') {
        this.waiting?.resolve();
        this.waiting = undefined;
      }
    }
  }

  /** Refetches the newest page and the count in the background; a refusal that retrying cannot fix is reported. */
  private refreshInbox(): void {
    this.sync(true).then(
      (outcome) => {
        if (outcome.error instanceof HeraldError && !outcome.error.transient) this.emit('error', outcome.error);
      },
      () => undefined,
    );
  }

  /** Refetches the count in the background: one fetch at a time, and one more if asked meanwhile. */
  private refreshUnread(): void {
    if (this.countBusy) {
      this.countAgain = true;
      return;
    }
    this.countBusy = true;
    this.sync(false)
      .then((outcome) => {
        if (outcome.error instanceof HeraldError && !outcome.error.transient) this.emit('error', outcome.error);
      })
      .finally(() => {
        this.countBusy = false;
        if (this.countAgain) {
          this.countAgain = false;
          this.refreshUnread();
        }
      });
  }

  private async open(generation: number): Promise<void> {
    let ticket: string;
    try {
      ticket = (await this.request<{ token: string }>('POST', '/api/v1/ws/token')).token;
    } catch (error) {
      if (generation === this.generation) this.failed(error);
      return;
    }
    if (generation !== this.generation) return;
    const url = new URL(`${this.base}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', ticket);
    const since = this.lastId ?? (this.tookOver ? this.box.messages[0]?.id : undefined);
    if (since) url.searchParams.set('since', since);
    const ws = new WebSocket(url.href);
    this.ws = ws;
    this.timer = setTimeout(() => this.lost(ws), OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.ws === ws) this.opened();
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.frame(event.data, true);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws || event.code !== USER_ERASED) this.lost(ws);
      else void this.erased(true);
    };
  }

  /** The user was erased (close code 4410): nothing is kept for them, and reconnecting would recreate them. */
  private async erased(live: boolean): Promise<void> {
    if (this.box.replace([], undefined)) this.emit('inbox', this.inbox);
    if (live) {
      // Written before the socket's lock is given up: a tab granted it next finds this and stops too.
      await this.store.clear(this.scope).catch(() => undefined);
      await this.store.save(this.scope, { messages: [], unread: undefined, erasedAt: Date.now() }).catch(() => undefined);
      this.group?.post({ t: 'erased' });
    }
    this.end(new HeraldError({ status: 0, code: 'HERALD_USER_ERASED', detail: 'the user was erased: the socket was closed for good' }));
  }

  private opened(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.openedAt = this.lastFrameAt = Date.now();
    this.pingedAt = 0;
    if (this.heartbeatMs > 0) this.heartbeat = setInterval(this.beat, this.heartbeatMs);
    this.setStatus('open');
    this.waiting?.resolve();
    this.waiting = undefined;
    // The queue left by an earlier page or while away, then the inbox as the server has it now.
    this.refreshInbox();
  }

  /** Heartbeat: drops a socket that answered nothing since the previous ping, else pings it. */
  private readonly beat = (): void => {
    const ws = this.ws;
    if (!ws) return;
    if (this.pingedAt > this.lastFrameAt) {
      this.lost(ws);
      return;
    }
    this.pingedAt = Date.now();
    ws.send('{"type":"ping"}');
  };

  /** A frame: from the socket (`live`, in the leader) or passed on by the leader. */
  private frame(data: unknown, live: boolean): void {
    if (live) this.lastFrameAt = Date.now();
    let frame: { type?: unknown; id?: unknown; ids?: unknown; code?: unknown; detail?: unknown; replaces?: unknown };
    try {
      frame = typeof data === 'string' ? JSON.parse(data) : data;
    } catch {
      return;
    }
    if (frame?.type === 'error') {
      this.emit('error', new HeraldError({ status: 0, code: String(frame.code), detail: String(frame.detail) }));
      return;
    }
    if (frame?.type === 'read' && Array.isArray(frame.ids)) {
      if (live) this.group?.post({ t: 'frame', frame });
      this.applyOp({ kind: 'read', ids: frame.ids.filter((id): id is string => typeof id === 'string'), at: new Date().toISOString() }, live);
      if (live) this.refreshUnread();
      return;
    }
    if (typeof frame?.id !== 'string') return;
    const id = frame.id;
    if (frame.type === 'recall') {
      // A recalled message of a topic gives back the one it replaced, which Herald lists again
      // before it sends this frame: the inbox is fetched again (and shared with the other tabs)
      // once the outbox is empty, as every fetch of the inbox is.
      const hadTopic = this.box.messages.some((m) => m.id === id && m.topic !== null);
      if (live) this.group?.post({ t: 'frame', frame });
      this.applyOp({ kind: 'remove', ids: [id], why: 'recalled' }, live);
      this.emit('recall', id);
      if (live && hadTopic) this.refreshInbox();
      else if (live) this.refreshUnread();
      return;
    }
    if (frame.type !== 'message') return;
    if (this.lastId === undefined || id > this.lastId) this.lastId = id;
    if (!this.recent.add(id)) return;
    if (live) {
      if (this.ackMessages) this.queueAck(id);
      this.group?.post({ t: 'frame', frame, lastId: this.lastId });
      this.arrived?.add(id);
    }
    const message = frame as HeraldMessage;
    this.applyOp({ kind: 'message', message: entryOf(message), ...(typeof frame.replaces === 'string' ? { replaces: frame.replaces } : {}) }, live);
    this.emit('message', message);
    if (live) this.refreshUnread();
  }

  private queueAck(id: string): void {
    this.acks.push(id);
    this.ackTimer ??= setTimeout(() => this.flushAcks(), ACK_BATCH_MS);
  }

  /** Sends the acks queued (best effort: without an open socket they are dropped). */
  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const ids = this.acks.splice(0);
    if (this.ws?.readyState !== 1) return;
    for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) this.ws.send(JSON.stringify({ type: 'ack', ids: ids.slice(i, i + IDS_PER_REQUEST) }));
  }

  /** The socket closed or stopped answering: reconnect (unless it is no longer ours). */
  private lost(ws: WebSocket): void {
    if (this.ws !== ws) return;
    if (this.openedAt > 0 && Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
    this.flushAcks();
    this.stop();
    this.retry();
  }

  /** A ticket refused, the network down: retried unless retrying cannot help. */
  private failed(error: unknown): void {
    if (error instanceof HeraldError && !error.transient) this.end(error);
    else this.retry(error instanceof HeraldError ? error.retryAfter : undefined);
  }

  /** Stops for good: an `error` event, status `closed`, a pending connect() rejects. */
  private end(error: HeraldError): void {
    this.emit('error', error);
    this.generation += 1;
    this.stop();
    this.group?.leave();
    this.group = undefined;
    this.leader = false;
    globalThis.removeEventListener?.('online', this.retryNow);
    this.setStatus('closed');
    this.waiting?.reject(error);
    this.waiting = undefined;
  }

  private retry(retryAfterSeconds = 0): void {
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const delay = Math.max(Math.random() * ceiling, retryAfterSeconds * 1000);
    this.setStatus('reconnecting');
    const generation = this.generation;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (generation === this.generation && this.leader) void this.open(generation);
      else if (generation === this.generation) void this.start(generation);
    }, delay);
  }

  /** The browser is back online: the leader skips the rest of the backoff wait and sends what was queued. */
  private readonly retryNow = (): void => {
    if (!this.leader) return;
    if (this.current === 'open') this.refreshUnread();
    if (this.current !== 'reconnecting' || this.ws || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.open(this.generation);
  };

  /** Forgets the socket and every timer of it. */
  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const ws = this.ws;
    this.ws = undefined;
    this.openedAt = 0;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
  }

  private setStatus(status: HeraldStatus): void {
    if (status === this.current) return;
    this.current = status;
    if (this.leader) this.group?.post({ t: 'status', status });
    this.emit('status', status);
  }

  private emit<K extends keyof HeraldEvents>(event: K, value: HeraldEvents[K]): void {
    for (const listener of [...(this.listeners[event] ?? [])] as Listener<HeraldEvents[K]>[]) {
      try {
        listener(value);
      } catch (error) {
        // A listener's bug must not stop the client: rethrown on its own, so the console shows it.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameBytes(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  return view.every((byte, i) => byte === b[i]);
}
