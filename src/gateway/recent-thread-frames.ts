/**
 * The thread frames a gateway published lately, for the members whose join reaches it after the
 * frame. A join (PUT /api/v1/threads/{thread}/members/{uid}) and a thread message travel apart —
 * the join's signal from the API, the frame from triage — so a gateway may be told of a message
 * posted after the join before it is told of the join: the member's sockets were not subscribed
 * to the thread's topic yet and missed it. When the join arrives, the gateway sends those sockets
 * the frames it remembers of that thread posted at or after the join (what the member sees in
 * its inbox, TimelineStore), then subscribes them: each frame reaches them once.
 *
 * Bounded: frames are remembered for RECENT_THREAD_FRAMES_MS after they were published, at most
 * RECENT_FRAMES_PER_THREAD per thread and RECENT_FRAMES_TOTAL in all (the least recently
 * active threads are forgotten first). A join signal later than that finds the message in the
 * inbox only (a reconnect with `since=`, or REST).
 */

/** How long a published thread frame is remembered. */
export const RECENT_THREAD_FRAMES_MS = 10_000;
/** Frames remembered per thread, the newest. */
export const RECENT_FRAMES_PER_THREAD = 64;
/** Frames remembered across threads. */
export const RECENT_FRAMES_TOTAL = 4096;

interface Remembered {
  text: string;
  /** When the message was posted to the thread (the store's time: what a join is compared with). */
  postedAt: number;
  /** When this gateway published it (its own clock: what expiry is measured by). */
  publishedAt: number;
}

export class RecentThreadFrames {
  /** By thread, oldest first; the Map's order is that of the threads' latest frame. */
  private readonly byThread = new Map<string, Remembered[]>();
  private total = 0;

  constructor(private readonly now: () => number = Date.now) {}

  remember(thread: string, text: string, postedAt: number): void {
    const frames = this.byThread.get(thread) ?? [];
    this.byThread.delete(thread);
    this.byThread.set(thread, frames);
    this.expire(frames);
    frames.push({ text, postedAt, publishedAt: this.now() });
    this.total++;
    if (frames.length > RECENT_FRAMES_PER_THREAD) {
      frames.shift();
      this.total--;
    }
    while (this.total > RECENT_FRAMES_TOTAL) this.dropOldestThread();
  }

  /** The texts of the thread's remembered frames posted at or after `joinedAt`, in the order they were published. */
  postedSince(thread: string, joinedAt: number): string[] {
    const frames = this.byThread.get(thread);
    if (!frames) return [];
    this.expire(frames);
    if (frames.length === 0) this.byThread.delete(thread);
    return frames.filter((f) => f.postedAt >= joinedAt).map((f) => f.text);
  }

  /** Frames remembered now (for tests and metrics). */
  get size(): number {
    return this.total;
  }

  /** Drops the frames published longer than RECENT_THREAD_FRAMES_MS ago (they are oldest first). */
  private expire(frames: Remembered[]): void {
    const horizon = this.now() - RECENT_THREAD_FRAMES_MS;
    const kept = frames.findIndex((f) => f.publishedAt >= horizon);
    const dropped = kept === -1 ? frames.length : kept;
    frames.splice(0, dropped);
    this.total -= dropped;
  }

  private dropOldestThread(): void {
    const oldest = this.byThread.keys().next();
    if (oldest.done) return;
    this.total -= this.byThread.get(oldest.value)?.length ?? 0;
    this.byThread.delete(oldest.value);
  }
}
