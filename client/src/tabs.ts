/**
 * The browser's tabs of one scope (Herald's URL + the user), as one client: a Web Lock elects the
 * leader, the tab that holds the WebSocket, and a BroadcastChannel carries its frames to the
 * others and every tab's changes to the rest. The lock is held until the leader leaves (close(),
 * the tab closing or crashing: the browser releases it then), when the next tab waiting for it
 * is granted it and takes over. Without Web Locks or BroadcastChannel every tab leads alone.
 */

export type TabNote = Record<string, unknown> & { t: string };

const hasLocks = (): boolean => typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function';

export class TabGroup {
  private readonly channel: BroadcastChannel | undefined;
  private readonly abort = new AbortController();
  private release: (() => void) | undefined;
  private left = false;

  constructor(
    private readonly name: string,
    onNote: (note: TabNote) => void,
  ) {
    if (hasLocks() && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(name);
      this.channel.onmessage = (event: MessageEvent) => {
        if (!this.left && typeof event.data?.t === 'string') onNote(event.data as TabNote);
      };
    }
  }

  /** Whether other tabs can be reached at all (false: this tab leads alone). */
  get shared(): boolean {
    return this.channel !== undefined;
  }

  /** Waits for the leadership (at once without Web Locks), then calls `onLeader`; keeps it until leave(). */
  elect(onLeader: () => void): void {
    if (!this.channel) {
      onLeader();
      return;
    }
    navigator.locks
      .request(`herald-leader:${this.name}`, { signal: this.abort.signal }, () => {
        if (this.left) return undefined;
        onLeader();
        return new Promise<void>((resolve) => {
          this.release = resolve;
        });
      })
      .catch(() => undefined); // aborted by leave() while waiting
  }

  post(note: TabNote): void {
    if (!this.left) this.channel?.postMessage(note);
  }

  /** Gives the leadership up (or stops waiting for it) and stops hearing the other tabs. */
  leave(): void {
    this.left = true;
    this.abort.abort();
    this.release?.();
    this.channel?.close();
  }
}

const local = new Map<string, Promise<unknown>>();

/**
 * Runs `work` holding the lock `name` across the browser's tabs (Web Locks), or within this page
 * when there are none: one holder at a time, in the order asked.
 */
export function exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (hasLocks()) return navigator.locks.request(name, work) as Promise<T>;
  const previous = local.get(name) ?? Promise.resolve();
  const next = previous.then(work, work);
  local.set(
    name,
    next.catch(() => undefined),
  );
  return next;
}
