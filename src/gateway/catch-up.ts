/**
 * A socket's catch-up (src/gateway/gateway.ts): from `open` until its user's thread memberships
 * are loaded and, with `since=`, its replay is read, the frames meant for it wait here instead of
 * being sent, so that it receives each message once and misses none:
 *
 * - held: the user's frames, broadcast frames (unless the user turned realtime off) and thread
 *   frames of any thread, in arrival order, with the membership changes that arrive meanwhile;
 * - settled, in one cork: the replay first, oldest first; then the held frames in arrival order,
 *   skipping a `message` frame whose id was already sent (by the replay, or held twice) and a
 *   thread frame of a thread the user was not a member of when it was posted (see memberAt:
 *   by the times of the post and of the memberships, so a join whose signal arrives after the
 *   frame of a message posted since still counts);
 *   then the socket subscribes to the broadcast topic and its thread topics, with the held
 *   membership changes applied, and catches up no more.
 * - bounded: once the held frames pass CATCH_UP_MAX_CHARS, `hold` answers false and the gateway
 *   closes the socket with CATCH_UP_OVERFLOW_CODE (1013, try again later): a reconnect with
 *   `since=` recovers what it missed.
 */
import { messageFrame } from '../exchange/message.js';
import type { Message } from '../exchange/types.js';
import type { InboxStore } from '../store/port.js';
import { applyMembership } from './thread-topics.js';

/** At most this many unread messages are replayed on connect; older ones are read over REST. */
export const SINCE_REPLAY_LIMIT = 1000;
/** Characters of JSON frames one catching-up socket may hold; past it the socket is closed. */
export const CATCH_UP_MAX_CHARS = 1024 * 1024;
/** The close code of a socket whose catch-up overflowed or could not read the store: try again later. */
export const CATCH_UP_OVERFLOW_CODE = 1013;
/** Inbox entries read per page of the replay. */
const REPLAY_PAGE = 200;

/**
 * What waits in a catch-up: a frame (its text, its message id, and for a thread's frame the
 * thread and when the message was posted to it) or a membership change (with its time).
 */
export type Held =
  | { kind: 'frame'; text: string; messageId?: string; thread?: string; postedAt?: number }
  | { kind: 'membership'; thread: string; member: boolean; at: number };

/** A frame to hold: `message` frames carry their id, for the replay's de-duplication; a thread's, its thread and post time. */
export function heldFrame(text: string, frame: unknown, to?: { thread: string; postedAt: number }): Held {
  const held: Held = { kind: 'frame', text };
  if (typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'message') {
    const id = (frame as { id?: unknown }).id;
    if (typeof id === 'string') held.messageId = id;
  }
  if (to !== undefined) {
    held.thread = to.thread;
    held.postedAt = to.postedAt;
  }
  return held;
}

/** A replayed message: its id and its frame's text. */
export interface Replayed {
  id: string;
  text: string;
}

/** The unread messages of `uid` newer than `since`, oldest first, at most SINCE_REPLAY_LIMIT. */
export async function readReplay(inbox: InboxStore, uid: string, since: string): Promise<Replayed[]> {
  const messages: Message[] = [];
  let before: string | undefined;
  while (messages.length < SINCE_REPLAY_LIMIT) {
    const page = await inbox.list(uid, { limit: REPLAY_PAGE, since, unreadOnly: true, ...(before ? { before } : {}) });
    for (const item of page) messages.push(item.message);
    if (page.length < REPLAY_PAGE) break;
    before = page[page.length - 1]?.message.id;
  }
  return messages
    .slice(0, SINCE_REPLAY_LIMIT)
    .reverse()
    .map((message) => ({ id: message.id, text: JSON.stringify(messageFrame(message)) }));
}

export interface Settled {
  /** The frames to send, in order. */
  texts: string[];
  /** The threads whose topics the socket subscribes to. */
  threads: Set<string>;
}

export class CatchUp {
  private readonly held: Held[] = [];
  private chars = 0;

  /** Holds a frame or a membership change; false once the catch-up holds more than CATCH_UP_MAX_CHARS. */
  hold(entry: Held): boolean {
    this.held.push(entry);
    this.chars += entry.kind === 'frame' ? entry.text.length : entry.thread.length;
    return this.chars <= CATCH_UP_MAX_CHARS;
  }

  /**
   * What the socket receives once `replay` is read and `loaded` known: its threads when they
   * were read, each with the time the user joined it.
   */
  settle(replay: readonly Replayed[], loaded: ReadonlyMap<string, number>): Settled {
    const sent = new Set<string>();
    const texts: string[] = [];
    for (const r of replay) {
      sent.add(r.id);
      texts.push(r.text);
    }
    const changes = new Map<string, Array<{ member: boolean; at: number }>>();
    for (const h of this.held) {
      if (h.kind !== 'membership') continue;
      const list = changes.get(h.thread) ?? [];
      list.push(h);
      changes.set(h.thread, list);
    }
    // Whether the user was a member of the thread when a message was posted at `at`: what the
    // last held change of that thread at or before `at` made it; before its first held change
    // (or without any), a member since the loaded join when the thread was loaded, else the
    // opposite of that first change (a join means "was not one"). That holds whether `loaded` was read before or after a
    // change, and whichever of a frame and a change of its thread arrived first.
    const memberAt = (thread: string, at: number): boolean => {
      const list = changes.get(thread);
      if (!list) {
        const joinedAt = loaded.get(thread);
        return joinedAt !== undefined && joinedAt <= at;
      }
      const before = list.filter((c) => c.at <= at).at(-1);
      if (before) return before.member;
      // Before the first held change: a loaded join says since when; else the change says what it was not.
      const joinedAt = loaded.get(thread);
      return joinedAt !== undefined ? joinedAt <= at : !(list[0] as { member: boolean }).member;
    };
    const threads = new Set(loaded.keys());
    for (const h of this.held) {
      if (h.kind === 'membership') {
        applyMembership(threads, h.thread, h.member);
        continue;
      }
      if (h.thread !== undefined && !memberAt(h.thread, h.postedAt ?? Number.POSITIVE_INFINITY)) continue;
      if (h.messageId !== undefined) {
        if (sent.has(h.messageId)) continue;
        sent.add(h.messageId);
      }
      texts.push(h.text);
    }
    return { texts, threads };
  }
}
