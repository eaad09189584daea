/**
 * TimelineStore.restoreTopic and InboxStore.restoreTopic on Cassandra, one loop for both: the
 * topic's newest rows are read (its topic index, newest first), the messages of them read, the
 * recalled ones dropped from the index, and the rows left collapsed around the newest. An add or
 * post of a newer message racing it may have written before these writes: the topic is read
 * again after them, and collapsed again while its newest changed (at most RESTORE_ROUNDS times;
 * past that, write times settle it).
 */
import type { MessageStore } from '../port.js';
import { type CqlSession, DEFAULT_CONCURRENCY, mapLimit, type Statement } from './client.js';

/** Times a topic is collapsed again while a newer message keeps arriving. */
const RESTORE_ROUNDS = 3;

export interface TopicRestore<R extends { id: string }> {
  session: CqlSession;
  messages: Pick<MessageStore, 'get'>;
  /** The topic's newest rows, newest first. */
  read(): Promise<R[]>;
  /** Takes a recalled row out of the topic index. */
  forget(row: R): Statement;
  /** The writes that list `kept[0]` and mark the others of `kept` replaced by it. */
  collapse(kept: R[]): Statement[];
}

export async function restoreTopic<R extends { id: string }>(restore: TopicRestore<R>): Promise<void> {
  let listed: string | undefined;
  for (let round = 0; round < RESTORE_ROUNDS; round++) {
    const rows = await restore.read();
    const stored = await mapLimit(rows, DEFAULT_CONCURRENCY, (row) => restore.messages.get(row.id));
    const recalled = rows.filter((_, i) => stored[i]?.status === 'recalled');
    await restore.session.concurrently(recalled.map((row) => restore.forget(row)));
    const kept = rows.filter((_, i) => stored[i]?.status !== 'recalled');
    if (kept[0] === undefined || kept[0].id === listed) return;
    listed = kept[0].id;
    await restore.session.concurrently(restore.collapse(kept));
  }
}
