/**
 * HeraldClient: one user's realtime inbox over Herald's REST API and WebSocket (docs/api.md).
 *
 * - connect(): a single-use ticket (POST /api/v1/ws/token), then GET /ws?token=…. When the
 *   socket is lost it reconnects by itself: exponential backoff with full jitter (a random wait
 *   below 0.5 s, 1 s, 2 s … up to 30 s; at least a 429's Retry-After), a fresh ticket each time,
 *   and `since=<the newest id seen>` so the server replays what arrived meanwhile. A refusal that
 *   retrying cannot fix (401, 403, 400) stops it: status `closed` and an `error` event.
 * - `message` fires at most once per id: the last 1000 ids are remembered across reconnects.
 *   Each message is acknowledged (`ack` frame: its realtime receipt becomes `delivered`).
 * - `unread` is the API's own count (GET /api/v1/messages/count?state=unread), fetched on every
 *   open, after new messages and after markRead / markClicked; fetches are coalesced (one in
 *   flight, one more queued) and a stale answer never overwrites a newer one.
 * - A ping frame every 30 s keeps presence fresh; a socket that answers nothing between two
 *   pings (a dead network path that never closed) is dropped and reconnected, as is one that
 *   does not open within 15 s. The window's `online` event retries at once.
 * - close() stops everything, including reconnecting; connect() may start again afterwards.
 */
import { errorOf, HeraldError, networkError } from './errors.js';
import type { HeraldEvents, HeraldMessage, HeraldStatus, InboxPage, MessagesQuery } from './types.js';

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
}

/** The ids of one receipt or frame (LIMITS.idsPerReceipt in src/exchange/limits.ts). */
const IDS_PER_REQUEST = 200;
/** Message ids remembered to drop a second copy of a message. */
const RECENT_IDS = 1000;
const OPEN_TIMEOUT_MS = 15_000;
/** A socket open this long counts as a success: the next loss starts the backoff over. */
const STABLE_MS = 5_000;
const ACK_BATCH_MS = 50;

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

export class HeraldClient {
  private readonly base: string;
  private readonly tokenSource: HeraldClientOptions['token'];
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly heartbeatMs: number;
  private readonly ackMessages: boolean;
  private readonly listeners: { [K in keyof HeraldEvents]?: Set<Listener<HeraldEvents[K]>> } = {};
  private readonly recent = new RecentIds(RECENT_IDS);

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
  private unreadCountValue: number | undefined;
  private countsAsked = 0;
  private countApplied = 0;
  private countBusy = false;
  private countAgain = false;

  constructor(options: HeraldClientOptions) {
    if (!options?.url || !options.token) throw new TypeError('HeraldClient needs { url, token }');
    this.base = options.url.replace(/\/+$/, '');
    this.tokenSource = options.token;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 500;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.ackMessages = options.ack ?? true;
    this.lastId = options.since;
  }

  /** The connection's status now. */
  get status(): HeraldStatus {
    return this.current;
  }

  /** The last unread count fetched, undefined before the first. */
  get unread(): number | undefined {
    return this.unreadCountValue;
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
   * Opens the socket; resolves once it is open. Rejects when the server refuses for good (a
   * HeraldError: 401, 403, …) or close() is called first; until then failures are retried.
   */
  connect(): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    this.waiting ??= waiter();
    if (this.current === 'closed') {
      this.attempt = 0;
      this.setStatus('connecting');
      globalThis.addEventListener?.('online', this.retryNow);
      void this.open(this.generation);
    }
    return this.waiting.promise;
  }

  /** Closes the socket and stops reconnecting. */
  close(): void {
    this.generation += 1;
    this.flushAcks();
    this.stop();
    globalThis.removeEventListener?.('online', this.retryNow);
    this.setStatus('closed');
    this.waiting?.reject(new HeraldError({ status: 0, code: 'HERALD_CLOSED', detail: 'close() was called before the socket opened' }));
    this.waiting = undefined;
  }

  /** One page of the inbox, newest first (GET /api/v1/messages). */
  messages(query: MessagesQuery = {}): Promise<InboxPage> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null) params.set(name, String(value));
    const search = params.toString();
    return this.request<InboxPage>('GET', `/api/v1/messages${search ? `?${search}` : ''}`);
  }

  /** How many of the user's messages are unread, as the API counts them; emits `unread` when it changed. */
  async unreadCount(): Promise<number> {
    const asked = ++this.countsAsked;
    const { count } = await this.request<{ count: number }>('GET', '/api/v1/messages/count?state=unread');
    if (asked > this.countApplied) {
      this.countApplied = asked;
      if (count !== this.unreadCountValue) {
        this.unreadCountValue = count;
        this.emit('unread', count);
      }
    }
    return count;
  }

  /** Marks messages read (POST /api/v1/receipts); ids that are not the user's are ignored by the API. */
  async markRead(ids: string | readonly string[]): Promise<void> {
    const unique = [...new Set(typeof ids === 'string' ? [ids] : ids)];
    for (let i = 0; i < unique.length; i += IDS_PER_REQUEST) {
      await this.request('POST', '/api/v1/receipts', { ids: unique.slice(i, i + IDS_PER_REQUEST), state: 'read' });
    }
    if (unique.length > 0) await this.recount();
  }

  /** Marks read every message of the user that is unread now (POST /api/v1/receipts with `all`). */
  async markAllRead(): Promise<void> {
    await this.request('POST', '/api/v1/receipts', { all: true, state: 'read' });
    await this.recount();
  }

  /** Records a click on a message (which marks it read too). */
  async markClicked(id: string): Promise<void> {
    await this.request('POST', '/api/v1/receipts', { ids: [id], state: 'clicked' });
    await this.recount();
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
    if (authenticated) {
      const token = typeof this.tokenSource === 'function' ? await this.tokenSource() : this.tokenSource;
      headers.authorization = `Bearer ${token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw networkError(error);
    }
    if (!response.ok) throw await errorOf(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  /** Refetches the count after the user's own change, when someone listens. */
  private async recount(): Promise<void> {
    if (this.listeners.unread?.size) await this.unreadCount().catch((error: Error) => this.emit('error', error));
  }

  /** Refetches the count in the background: one fetch at a time, and one more if asked meanwhile. */
  private refreshUnread(): void {
    if (!this.listeners.unread?.size) return;
    if (this.countBusy) {
      this.countAgain = true;
      return;
    }
    this.countBusy = true;
    this.unreadCount()
      .catch((error: Error) => this.emit('error', error))
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
    if (this.lastId) url.searchParams.set('since', this.lastId);
    const ws = new WebSocket(url.href);
    this.ws = ws;
    this.timer = setTimeout(() => this.lost(ws), OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.ws === ws) this.opened();
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.frame(event.data);
    };
    ws.onclose = () => this.lost(ws);
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
    this.refreshUnread();
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

  private frame(data: unknown): void {
    this.lastFrameAt = Date.now();
    let frame: { type?: unknown; id?: unknown; code?: unknown; detail?: unknown };
    try {
      frame = JSON.parse(String(data));
    } catch {
      return;
    }
    if (frame?.type === 'error') {
      this.emit('error', new HeraldError({ status: 0, code: String(frame.code), detail: String(frame.detail) }));
      return;
    }
    if (frame?.type !== 'message' || typeof frame.id !== 'string') return;
    const id = frame.id;
    if (this.lastId === undefined || id > this.lastId) this.lastId = id;
    if (!this.recent.add(id)) return;
    if (this.ackMessages) this.queueAck(id);
    this.emit('message', frame as HeraldMessage);
    this.refreshUnread();
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
    if (error instanceof HeraldError && !error.transient) {
      this.emit('error', error);
      this.generation += 1;
      this.stop();
      globalThis.removeEventListener?.('online', this.retryNow);
      this.setStatus('closed');
      this.waiting?.reject(error);
      this.waiting = undefined;
      return;
    }
    this.retry(error instanceof HeraldError ? error.retryAfter : undefined);
  }

  private retry(retryAfterSeconds = 0): void {
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const delay = Math.max(Math.random() * ceiling, retryAfterSeconds * 1000);
    this.setStatus('reconnecting');
    const generation = this.generation;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.open(generation);
    }, delay);
  }

  /** The browser is back online: skip the rest of the backoff wait. */
  private readonly retryNow = (): void => {
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
