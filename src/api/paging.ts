/**
 * Keyset pages of the API: a route asks its store for one row more than the page holds, so it
 * knows whether another page follows without a count; `next` is the last id shown (the `cursor`
 * of the following page) or null on the last page.
 */
import type { z } from 'zod';
import { LIMITS } from '../exchange/limits.js';
import type { InboxStore } from '../store/port.js';
import type { inboxQuery } from './schemas.js';
import { inboxView } from './views.js';

/** One page of `limit` from `rows` (fetched with limit + 1), and its `next`: the `key` of the last shown (its id by default). */
export function page<T extends { id: string }>(rows: T[], limit: number): { rows: T[]; next: string | null };
export function page<T>(rows: T[], limit: number, key: (row: T) => string): { rows: T[]; next: string | null };
export function page<T>(rows: T[], limit: number, key: (row: T) => string = (row) => (row as { id: string }).id) {
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return { rows: shown, next: rows.length > limit && last !== undefined ? key(last) : null };
}

/** One page of `uid`'s inbox as GET /api/v1/messages answers it (the caller's own, or a user's for an admin). */
export async function inboxPageOf(inbox: InboxStore, uid: string, q: z.output<typeof inboxQuery>) {
  const limit = q.limit ?? LIMITS.defaultPageLimit;
  const items = await inbox.list(uid, {
    limit: limit + 1,
    ...(q.since ? { since: q.since } : {}),
    ...(q.cursor ? { before: q.cursor } : {}),
    unreadOnly: q.state === 'unread',
  });
  const { rows, next } = page(items.map(inboxView), limit);
  return { messages: rows, next };
}
