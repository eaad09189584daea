/**
 * The sources of a Cassandra inbox (inbox-store.ts) and their merge: the user's own entries and
 * each timeline the user sees (timeline-view.ts) are each a scan newest first by message id,
 * bounded by the same keyset; `mergeNewestFirst` reads them lazily — one entry ahead per source,
 * each source fetching its next page only when the merge reaches it — so a page of the inbox costs
 * about the rows it lists, whichever sources they come from.
 */
import type { InboxQuery } from '../port.js';
import { inboxBucket } from './schema.js';

/** An entry of the inbox before its message is read: the user's state of it. */
export interface InboxEntry {
  messageId: string;
  deliveredAt: number | null;
  readAt: number | null;
  archivedAt: number | null;
}

const MAX_BUCKET = 2_147_483_647;
const MIN_BUCKET = -2_147_483_648;

/** The buckets (inclusive) a query's keyset can reach, and its bounds on message_id as CQL conditions with their values. */
export function keyset(query: Pick<InboxQuery, 'before' | 'since'>): { high: number; low: number; conditions: string[]; params: string[] } {
  const conditions: string[] = [];
  const params: string[] = [];
  if (query.before !== undefined) {
    conditions.push('message_id < ?');
    params.push(query.before);
  }
  if (query.since !== undefined) {
    conditions.push('message_id > ?');
    params.push(query.since);
  }
  return {
    high: query.before !== undefined ? inboxBucket(query.before) : MAX_BUCKET,
    low: query.since !== undefined ? inboxBucket(query.since) : MIN_BUCKET,
    conditions,
    params,
  };
}

/**
 * The entries of `sources` (each newest first by id), newest first; an id found in several
 * sources is given once, from the first of them. Stopping the iteration stops every source.
 */
export async function* mergeNewestFirst(sources: ReadonlyArray<AsyncIterator<InboxEntry>>): AsyncGenerator<InboxEntry> {
  const heads = await Promise.all(sources.map((source) => source.next()));
  try {
    for (;;) {
      let newest: InboxEntry | undefined;
      for (const head of heads) {
        if (!head.done && (newest === undefined || head.value.messageId > newest.messageId)) newest = head.value;
      }
      if (newest === undefined) return;
      yield newest;
      const id = newest.messageId;
      await Promise.all(
        heads.map(async (head, index) => {
          if (!head.done && head.value.messageId === id) heads[index] = await (sources[index] as AsyncIterator<InboxEntry>).next();
        }),
      );
    }
  } finally {
    await Promise.all(sources.map((source, index) => (heads[index]?.done ? undefined : source.return?.())));
  }
}
