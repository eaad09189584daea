/**
 * SQLite InboxStore. Guarantees, beyond the InboxStore port contract:
 *  - An entry is one (uid, message id) row; the message itself is read from the messages table
 *    (stored once however many inboxes hold it). `add` stores the message there too when the
 *    MessageStore does not have it yet (with status 'triaged', so recovery ignores it).
 *  - `add` writes all its entries in one transaction — through the group commit
 *    (group-commit.ts), shared with the other writes of the same event-loop turn, resolving once
 *    it committed; re-adding an entry keeps its read and archived state.
 *  - Topic collapse: an entry carries its message's topic, and `replaced_by` the newest id of
 *    that topic in the user's inbox when it is not the newest itself. `add` of a topic message
 *    looks up that newest entry (index inbox_topic, the user's own range), and either marks the
 *    older entries replaced by the new one or, when a newer one is already there (added out of
 *    order), adds the new entry as replaced. One index probe per recipient, in the transaction.
 *    `restoreTopic` takes recalled entries out of their topic (topic = NULL) and collapses the
 *    rest again around the newest, in one transaction.
 *  - Listed: not archived, not replaced, and the message not recalled (its status, read through
 *    the join every list already makes).
 *  - `list` is newest first by message id, paged by keyset (`before` / `since` are exclusive).
 *  - `mark` keeps the first delivered / read / archived time: marking again never moves a time,
 *    and a read sets the delivered time too when it was unset. Returned ids keep the request's
 *    order, without duplicates.
 *  - `countUnread` counts the rows `list` with `unreadOnly` pages through (the same join and
 *    conditions): a scan of the user's primary-key range, bounded by that user's inbox.
 *  - The merge with timelines (migration 8): a timeline message is listed for the user while they
 *    see it (timeline-view.ts: the everyone-timeline from the user's creation, each thread period),
 *    with the user's state from timeline_state, written only by `mark`. `list` takes the newest
 *    `limit` of each source and merges them: the own entries by a keyset range scan; each
 *    timeline by walking its primary key down from the keyset, from a little before the user's
 *    window (LATE_POST_MS and a minute: an entry posted in the window was created since), and
 *    its `late` entries (posted longer than that after their message was created: migration 11,
 *    index timeline_entries_late, by post time from the window on) below that; a timeline whose
 *    periods are all closed (threads the user left) is read by post time inside them. A page
 *    costs about the rows it passes over (and a left thread, the posts the user saw there), not
 *    the timeline's history. `countUnread` counts both.
 *  - Unread floors (migration 10, src/store/unread-floors.ts): `countUnread` and `list` with
 *    `unreadOnly` read each timeline from the user's floor on (index timeline_entries_posted),
 *    and `countUnread` raises the floors it found higher, so counting costs the timeline entries
 *    since the user's oldest unread one (or the last minute of posts), not every entry since the
 *    user was created. The user's own entries are counted whole.
 */
import type { InboxItem, Message } from '../../exchange/types.js';
import { idPrefixAt } from '../../ids.js';
import type { SqliteDatabase, SqliteStatement } from '../../sqlite/database.js';
import { createGroupCommit, type GroupCommit } from '../../sqlite/group-commit.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { InboxQuery, InboxStore } from '../port.js';
import { raisedFloor } from '../unread-floors.js';
import { prepareEnsureMessage } from './ensure-message.js';
import {
  LATE_POST_MS,
  SEEN_TIMELINE_ENTRY,
  SEES_TIMELINE_ENTRY,
  TIMELINE_LISTED,
  TIMELINE_WINDOWS,
  type TimelineWalk,
  timelineWalk,
  UNREAD_WINDOWS,
} from './timeline-view.js';

interface InboxRow {
  uid: string;
  body: string;
  delivered_at: number | null;
  read_at: number | null;
  archived_at: number | null;
}

const toItem = (row: InboxRow): InboxItem => ({
  message: JSON.parse(row.body) as Message,
  uid: row.uid,
  deliveredAt: row.delivered_at,
  readAt: row.read_at,
  archivedAt: row.archived_at,
});

const SELECT_ITEM = `SELECT i.message_id, i.uid, m.body, i.delivered_at, i.read_at, i.archived_at
  FROM inbox i JOIN messages m ON m.id = i.message_id`;
const NOT_RECALLED = "m.status != 'recalled'";
const LISTED = `i.archived_at IS NULL AND i.replaced_by IS NULL AND ${NOT_RECALLED}`;

export function createSqliteInboxStore(db: SqliteDatabase, group: GroupCommit = createGroupCommit(db)): InboxStore {
  const ensureMessage = prepareEnsureMessage(db);
  const insertEntry = db.prepare(
    'INSERT INTO inbox (uid, message_id, topic, replaced_by) VALUES (@uid, @id, @topic, @replacedBy) ON CONFLICT (uid, message_id) DO NOTHING',
  );
  const newestOfTopic = db.prepare<[string, string], { message_id: string }>(
    'SELECT message_id FROM inbox WHERE uid = ? AND topic = ? ORDER BY message_id DESC LIMIT 1',
  );
  const replaceOlder = db.prepare(
    'UPDATE inbox SET replaced_by = @id WHERE uid = @uid AND topic = @topic AND message_id < @id AND (replaced_by IS NULL OR replaced_by < @id)',
  );
  const dropRecalledFromTopic = db.prepare(
    `UPDATE inbox SET topic = NULL WHERE uid = @uid AND topic = @topic
     AND EXISTS (SELECT 1 FROM messages m WHERE m.id = inbox.message_id AND m.status = 'recalled')`,
  );
  const listAgain = db.prepare('UPDATE inbox SET replaced_by = NULL WHERE uid = @uid AND message_id = @id');
  const replaceByNewest = db.prepare('UPDATE inbox SET replaced_by = @id WHERE uid = @uid AND topic = @topic AND message_id < @id');
  const replacedBy = db.prepare<[string, string, string], { message_id: string }>(
    'SELECT max(message_id) AS message_id FROM inbox WHERE uid = ? AND topic = ? AND message_id < ?',
  );
  const selectItem = db.prepare<[string, string], InboxRow>(`${SELECT_ITEM} WHERE i.uid = ? AND i.message_id = ? AND ${NOT_RECALLED}`);
  const selectSeenItem = db.prepare<{ uid: string; id: string }, InboxRow>(
    `WITH ${TIMELINE_WINDOWS} ${SEEN_TIMELINE_ENTRY} AND t.message_id = @id AND ${NOT_RECALLED} LIMIT 1`,
  );
  const countOwnUnread = db.prepare<{ uid: string }, { count: number }>(
    `SELECT count(*) AS count FROM inbox i JOIN messages m ON m.id = i.message_id WHERE i.uid = @uid AND i.read_at IS NULL AND ${LISTED}`,
  );
  // Per timeline the user sees, from its usable floor on: the floor, the newest entry's post
  // time, and the unread entries (how many, the first's post time).
  const timelineFloors = db.prepare<{ uid: string }, { timeline: string; floor_at: number | null; newest_at: number | null }>(
    `WITH ${UNREAD_WINDOWS} SELECT w.timeline AS timeline, max(w.floor_at) AS floor_at,
       max((SELECT max(t.posted_at) FROM timeline_entries t WHERE t.timeline = w.timeline AND t.posted_at >= w.from_at
            AND (w.until_at IS NULL OR t.posted_at < w.until_at))) AS newest_at
     FROM windows w GROUP BY w.timeline`,
  );
  const countTimelineUnread = db.prepare<{ uid: string }, { timeline: string; count: number; first_at: number }>(
    `WITH ${UNREAD_WINDOWS} SELECT w.timeline AS timeline, count(*) AS count, min(t.posted_at) AS first_at
     FROM windows w
     JOIN timeline_entries t ON t.timeline = w.timeline AND t.posted_at >= w.from_at AND (w.until_at IS NULL OR t.posted_at < w.until_at)
     JOIN messages m ON m.id = t.message_id
     LEFT JOIN timeline_state s ON s.uid = @uid AND s.message_id = t.message_id
     WHERE ${TIMELINE_LISTED} AND s.read_at IS NULL
     GROUP BY w.timeline`,
  );
  // Not for a user erased since the count read (an erasure leaves no row of the user).
  const writeFloor = db.prepare(
    `INSERT INTO timeline_floors (uid, timeline, floor_at, set_at)
     SELECT @uid, @timeline, @floorAt, @setAt WHERE EXISTS (SELECT 1 FROM users WHERE uid = @uid)
     ON CONFLICT (uid, timeline) DO UPDATE SET floor_at = excluded.floor_at, set_at = excluded.set_at`,
  );
  const seesEntry = db.prepare<{ uid: string; id: string }, { found: number }>(`WITH ${TIMELINE_WINDOWS} ${SEES_TIMELINE_ENTRY}`);
  const STATE_COLUMN = { delivered: 'delivered_at', read: 'read_at', archived: 'archived_at' } as const;
  const markSeen = Object.fromEntries(
    Object.entries(STATE_COLUMN).map(([state, column]) => [
      state,
      db.prepare(
        `INSERT INTO timeline_state (uid, message_id, ${column}${state === 'read' ? ', delivered_at' : ''}) VALUES (@uid, @id, @at${state === 'read' ? ', @at' : ''})
         ON CONFLICT (uid, message_id) DO UPDATE SET ${column} = coalesce(${column}, @at)${state === 'read' ? ', delivered_at = coalesce(delivered_at, @at)' : ''}`,
      ),
    ]),
  ) as Record<keyof typeof STATE_COLUMN, SqliteStatement>;
  const markDelivered = db.prepare('UPDATE inbox SET delivered_at = coalesce(delivered_at, @at) WHERE uid = @uid AND message_id = @id');
  const markRead = db.prepare(
    `UPDATE inbox SET read_at = coalesce(read_at, @at), delivered_at = coalesce(delivered_at, @at)
     WHERE uid = @uid AND message_id = @id`,
  );
  const markArchived = db.prepare('UPDATE inbox SET archived_at = coalesce(archived_at, @at) WHERE uid = @uid AND message_id = @id');
  const MARK = { delivered: markDelivered, read: markRead, archived: markArchived } as const;

  // One statement per combination of optional conditions, so every source is a keyset range
  // scan that stops at the page's limit: the user's own entries, and each timeline the user sees
  // (timelineWalk: down the ids, from a little before the user's window, and its late posts apart).
  const listStatements = new Map<
    string,
    { own: SqliteStatement; open: SqliteStatement; late: SqliteStatement; closed: SqliteStatement; windows: SqliteStatement }
  >();
  const listStatementsOf = (query: InboxQuery) => {
    const key = `${query.since !== undefined}|${query.before !== undefined}|${query.unreadOnly === true}`;
    let statements = listStatements.get(key);
    if (!statements) {
      const own = ['i.uid = @uid', LISTED];
      const seen: string[] = [];
      if (query.since !== undefined) {
        own.push('i.message_id > @since');
        seen.push('t.message_id > @since');
      }
      if (query.before !== undefined) {
        own.push('i.message_id < @before');
        seen.push('t.message_id < @before');
      }
      if (query.unreadOnly === true) {
        own.push('i.read_at IS NULL');
        seen.push('s.read_at IS NULL');
      }
      const windows = query.unreadOnly === true ? UNREAD_WINDOWS : TIMELINE_WINDOWS;
      const walk = (kind: TimelineWalk) =>
        db.prepare<unknown[], unknown>(`${timelineWalk(kind)}${seen.map((c) => ` AND ${c}`).join('')} ORDER BY t.message_id DESC LIMIT @limit`);
      statements = {
        own: db.prepare<unknown[], unknown>(`${SELECT_ITEM} WHERE ${own.join(' AND ')} ORDER BY i.message_id DESC LIMIT @limit`),
        open: walk('open'),
        late: walk('late'),
        closed: walk('closed'),
        windows: db.prepare<unknown[], unknown>(`WITH ${windows} SELECT timeline, from_at, until_at FROM windows WHERE until_at IS NULL OR until_at > from_at`),
      };
      listStatements.set(key, statements);
    }
    return statements;
  };

  const list = (uid: string, query: InboxQuery): InboxRow[] => {
    const statements = listStatementsOf(query);
    const params = { uid, since: query.since, before: query.before, limit: query.limit };
    const rows = statements.own.all(params) as Array<InboxRow & { message_id: string }>;
    const periods = new Map<string, Array<[number, number | null]>>();
    for (const w of statements.windows.all({ uid }) as Array<{ timeline: string; from_at: number; until_at: number | null }>) {
      periods.set(w.timeline, [...(periods.get(w.timeline) ?? []), [w.from_at, w.until_at]]);
    }
    for (const [timeline, spans] of periods) {
      const from = Math.min(...spans.map(([start]) => start));
      const ends = spans.map(([, end]) => end);
      const walked = { ...params, timeline, periods: JSON.stringify(spans), from };
      if (!ends.includes(null)) {
        rows.push(...(statements.closed.all({ ...walked, until: Math.max(...(ends as number[])) }) as typeof rows));
        continue;
      }
      // An on-time entry was created at most LATE_POST_MS (and a minute of clocks) before it was posted.
      const low = idPrefixAt(from - LATE_POST_MS - 60_000);
      rows.push(...(statements.open.all({ ...walked, low }) as typeof rows), ...(statements.late.all({ ...walked, low }) as typeof rows));
    }
    rows.sort((a, b) => (a.message_id < b.message_id ? 1 : a.message_id > b.message_id ? -1 : 0));
    return rows.slice(0, query.limit);
  };

  /** Adds the entry of a topic message to `uid`'s inbox; returns the id it replaces there, if any. */
  const addWithTopic = (uid: string, message: Message, topic: string): string | undefined => {
    const newest = newestOfTopic.get(uid, topic)?.message_id;
    const newer = newest !== undefined && newest > message.id ? newest : undefined;
    insertEntry.run({ uid, id: message.id, topic, replacedBy: newer ?? null });
    if (newer !== undefined) return undefined;
    replaceOlder.run({ uid, topic, id: message.id });
    return replacedBy.get(uid, topic, message.id)?.message_id ?? undefined;
  };

  // Runs inside a group-commit transaction.
  const addAll = (uids: string[], message: Message): Map<string, string> => {
    ensureMessage(message);
    const replaced = new Map<string, string>();
    const { topic } = message;
    for (const uid of uids) {
      if (topic === undefined) {
        insertEntry.run({ uid, id: message.id, topic: null, replacedBy: null });
        continue;
      }
      const older = addWithTopic(uid, message, topic);
      if (older !== undefined) replaced.set(uid, older);
    }
    return replaced;
  };

  const restoreTopic = (uid: string, topic: string): void => {
    dropRecalledFromTopic.run({ uid, topic });
    const newest = newestOfTopic.get(uid, topic)?.message_id;
    if (newest === undefined) return;
    listAgain.run({ uid, id: newest });
    replaceByNewest.run({ uid, topic, id: newest });
  };

  /** Counts, then raises the floors the count found higher (src/store/unread-floors.ts), written with the turn's other writes. */
  const countUnread = async (uid: string): Promise<number> => {
    const setAt = Date.now();
    const { own, timelines, floors } = await sqlite(() => ({
      own: countOwnUnread.get({ uid })?.count ?? 0,
      timelines: countTimelineUnread.all({ uid }),
      floors: timelineFloors.all({ uid }),
    }));
    const firstUnread = new Map(timelines.map((row) => [row.timeline, row.first_at]));
    const raised = floors.flatMap(({ timeline, floor_at, newest_at }) => {
      const floorAt = raisedFloor(floor_at ?? undefined, firstUnread.get(timeline), newest_at ?? undefined, setAt);
      return floorAt === undefined ? [] : [{ uid, timeline, floorAt, setAt }];
    });
    if (raised.length > 0) {
      await group.run(() => {
        for (const floor of raised) writeFloor.run(floor);
      });
    }
    return timelines.reduce((sum, row) => sum + row.count, own);
  };

  const markTx = db.transaction((uid: string, messageIds: string[], state: keyof typeof MARK, at: number) => {
    const statement = MARK[state];
    const found: string[] = [];
    for (const id of new Set(messageIds)) {
      if (statement.run({ uid, id, at }).changes > 0) found.push(id);
      else if (seesEntry.get({ uid, id }) !== undefined) {
        markSeen[state].run({ uid, id, at });
        found.push(id);
      }
    }
    return found;
  });

  return {
    add: async (uids, message) => (uids.length > 0 ? group.run(() => addAll(uids, message)) : new Map()),
    list: (uid, query) => sqlite(() => list(uid, query).map(toItem)),
    get: (uid, messageId) =>
      sqlite(() => {
        const row = selectItem.get(uid, messageId) ?? selectSeenItem.get({ uid, id: messageId });
        return row ? toItem(row) : undefined;
      }),
    mark: (uid, messageIds, state, at) => sqlite(() => markTx.immediate(uid, messageIds, state, at)),
    countUnread,
    restoreTopic: (uid, topic) => group.run(() => restoreTopic(uid, topic)),
  };
}
