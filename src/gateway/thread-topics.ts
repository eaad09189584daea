/**
 * Thread topics of the gateway (src/gateway/gateway.ts): a socket is subscribed, through uWS's
 * native pub/sub, to one topic per thread its user is a member of, so a thread's frame is one
 * `app.publish` per gateway however many members it has.
 *
 * - Topics are `thread/<name>`: thread names are [A-Za-z0-9._~:-]{1,128}, so no thread topic is
 *   the broadcast topic (`broadcast`, no slash) or another thread's.
 * - A socket holds at most MAX_THREADS_PER_SOCKET thread topics: on connect, the user's first
 *   threads by name (read in pages of THREAD_PAGE); a join beyond the cap is not subscribed
 *   (those threads' messages are still in the inbox, read over REST).
 */
import type { TimelineStore } from '../store/port.js';

/** Thread topics one socket subscribes to at most. */
export const MAX_THREADS_PER_SOCKET = 1000;
/** Memberships read per `threadsOf` call on connect. */
const THREAD_PAGE = 200;

export const threadTopic = (thread: string): string => `thread/${thread}`;

/** The threads `uid` is a member of now, by name, at most MAX_THREADS_PER_SOCKET, each with when the user joined it. */
export async function loadThreads(timelines: TimelineStore, uid: string): Promise<Map<string, number>> {
  const threads = new Map<string, number>();
  let after: string | undefined;
  while (threads.size < MAX_THREADS_PER_SOCKET) {
    const page = await timelines.threadsOf(uid, Math.min(THREAD_PAGE, MAX_THREADS_PER_SOCKET - threads.size), after);
    for (const membership of page) threads.set(membership.thread, membership.joinedAt);
    if (page.length < THREAD_PAGE) break;
    after = page[page.length - 1]?.thread;
  }
  return threads;
}

/**
 * Applies a join (`member`) or a leave to a socket's set of threads, within the cap; true when
 * the set changed (the caller then subscribes or unsubscribes the thread's topic).
 */
export function applyMembership(threads: Set<string>, thread: string, member: boolean): boolean {
  if (!member) return threads.delete(thread);
  if (threads.has(thread) || threads.size >= MAX_THREADS_PER_SOCKET) return false;
  threads.add(thread);
  return true;
}
