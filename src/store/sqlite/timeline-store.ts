/**
 * SQLite TimelineStore (tables of migration 8). Guarantees, beyond the TimelineStore port contract:
 *  - `post` is one row of timeline_entries however many users see the message (`late` when
 *    posted more than LATE_POST_MS after the message was created), written through
 *    the group commit (group-commit.ts) with the other writes of its event-loop turn. It stores
 *    the message too when the MessageStore does not have it yet (status 'triaged', as the inbox
 *    does). A topic message reads the newest of its topic in the timeline (index timeline_topic)
 *    and either marks the older ones replaced (by its id; replaced_at: the earliest post time of
 *    a newer one) or is itself written replaced by the newer one. After a recall, restoreTopic
 *    takes recalled entries out of their topic (topic = NULL) and collapses it again, and holds
 *    the users' unread floors of the timeline (timeline_restores; src/store/unread-floors.ts).
 *  - Membership: `thread_members` holds the current members (expansion pages it by uid);
 *    `thread_periods` every period of a user (joined_at, left_at), which the inbox reads to
 *    know what the user sees (timeline-view.ts). join / leave are one transaction each.
 */
import type { Message } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import { createGroupCommit, type GroupCommit } from '../../sqlite/group-commit.js';
import { sqlite } from '../../sqlite/unavailable.js';
import { type ThreadMembership, type TimelineId, type TimelinePost, type TimelineStore, threadTimeline } from '../port.js';
import { RESTORE_HOLD_MS } from '../unread-floors.js';
import { prepareEnsureMessage } from './ensure-message.js';
import { LATE_POST_MS } from './timeline-view.js';

interface MemberRow {
  thread: string;
  uid: string;
  joined_at: number;
}

/** 1 for a post more than LATE_POST_MS after its message was created (timeline_entries.late). */
const lateness = (message: Message, at: number): number => (at - message.createdAt > LATE_POST_MS ? 1 : 0);

const toMembership = (row: MemberRow): ThreadMembership => ({ thread: row.thread, uid: row.uid, joinedAt: row.joined_at });

export function createSqliteTimelineStore(db: SqliteDatabase, group: GroupCommit = createGroupCommit(db)): TimelineStore {
  const ensureMessage = prepareEnsureMessage(db);
  const insertEntry = db.prepare(
    `INSERT INTO timeline_entries (timeline, message_id, posted_at, topic, replaced_by, replaced_at, late)
     VALUES (@timeline, @id, @at, @topic, @replacedBy, @replacedAt, @late) ON CONFLICT (timeline, message_id) DO NOTHING`,
  );
  const newestOfTopic = db.prepare<[string, string], { message_id: string; posted_at: number }>(
    'SELECT message_id, posted_at FROM timeline_entries WHERE timeline = ? AND topic = ? ORDER BY message_id DESC LIMIT 1',
  );
  // replaced_at keeps the earliest replacement: when the entry first stopped being the newest.
  const replaceOlder = db.prepare(
    `UPDATE timeline_entries SET replaced_by = @id, replaced_at = min(coalesce(replaced_at, @at), @at)
     WHERE timeline = @timeline AND topic = @topic AND message_id < @id AND (replaced_by IS NULL OR replaced_by < @id)`,
  );
  const dropRecalledFromTopic = db.prepare(
    `UPDATE timeline_entries SET topic = NULL WHERE timeline = @timeline AND topic = @topic
     AND EXISTS (SELECT 1 FROM messages m WHERE m.id = timeline_entries.message_id AND m.status = 'recalled')`,
  );
  const listAgain = db.prepare('UPDATE timeline_entries SET replaced_by = NULL, replaced_at = NULL WHERE timeline = @timeline AND message_id = @id');
  const replaceByNewest = db.prepare(
    `UPDATE timeline_entries SET replaced_by = @id,
       replaced_at = (SELECT min(n.posted_at) FROM timeline_entries n WHERE n.timeline = @timeline AND n.topic = @topic AND n.message_id > timeline_entries.message_id)
     WHERE timeline = @timeline AND topic = @topic AND message_id < @id`,
  );
  const olderOfTopic = db.prepare<[string, string, string], { message_id: string | null }>(
    'SELECT max(message_id) AS message_id FROM timeline_entries WHERE timeline = ? AND topic = ? AND message_id < ?',
  );
  const postedAt = db.prepare<[string, string], { posted_at: number }>('SELECT posted_at FROM timeline_entries WHERE timeline = ? AND message_id = ?');

  const postOne = (timeline: TimelineId, message: Message, at: number): TimelinePost => {
    ensureMessage(message);
    const { topic } = message;
    const posted = postedAt.get(timeline, message.id);
    const time = posted?.posted_at ?? at;
    if (topic === undefined) {
      if (posted === undefined) insertEntry.run({ timeline, id: message.id, at, topic: null, replacedBy: null, replacedAt: null, late: lateness(message, at) });
      return { postedAt: time };
    }
    if (posted === undefined) {
      const newest = newestOfTopic.get(timeline, topic);
      const newer = newest !== undefined && newest.message_id > message.id ? newest : undefined;
      insertEntry.run({
        timeline,
        id: message.id,
        at,
        topic,
        replacedBy: newer?.message_id ?? null,
        replacedAt: newer?.posted_at ?? null,
        late: lateness(message, at),
      });
      if (newer !== undefined) return { postedAt: time };
      replaceOlder.run({ timeline, topic, id: message.id, at });
    }
    const newest = newestOfTopic.get(timeline, topic);
    if (newest !== undefined && newest.message_id > message.id) return { postedAt: time };
    const older = olderOfTopic.get(timeline, topic, message.id)?.message_id;
    return older ? { postedAt: time, replaces: older } : { postedAt: time };
  };

  const holdFloors = db.prepare(
    `INSERT INTO timeline_restores (timeline, restored_until) VALUES (@timeline, @until)
     ON CONFLICT (timeline) DO UPDATE SET restored_until = max(restored_until, excluded.restored_until)`,
  );
  const restoreTopic = (timeline: TimelineId, topic: string): void => {
    // An older entry may be listed again: the users' unread floors of the timeline wait (unread-floors.ts).
    holdFloors.run({ timeline, until: Date.now() + RESTORE_HOLD_MS });
    dropRecalledFromTopic.run({ timeline, topic });
    const newest = newestOfTopic.get(timeline, topic);
    if (newest === undefined) return;
    listAgain.run({ timeline, id: newest.message_id });
    replaceByNewest.run({ timeline, topic, id: newest.message_id });
  };

  const selectMember = db.prepare<[string, string], MemberRow>('SELECT thread, uid, joined_at FROM thread_members WHERE thread = ? AND uid = ?');
  const insertMember = db.prepare('INSERT INTO thread_members (thread, uid, joined_at) VALUES (?, ?, ?)');
  const deleteMember = db.prepare('DELETE FROM thread_members WHERE thread = ? AND uid = ?');
  const openPeriod = db.prepare(
    'INSERT INTO thread_periods (uid, thread, joined_at, left_at) VALUES (?, ?, ?, NULL) ON CONFLICT (uid, thread, joined_at) DO UPDATE SET left_at = NULL',
  );
  const closePeriod = db.prepare('UPDATE thread_periods SET left_at = ? WHERE uid = ? AND thread = ? AND joined_at = ?');
  const joinTx = db.transaction((thread: string, uid: string, at: number) => {
    if (selectMember.get(thread, uid) !== undefined) return false;
    insertMember.run(thread, uid, at);
    openPeriod.run(uid, thread, at);
    return true;
  });
  const leaveTx = db.transaction((thread: string, uid: string, at: number) => {
    const member = selectMember.get(thread, uid);
    if (member === undefined) return false;
    deleteMember.run(thread, uid);
    // Closing the period may list again an older entry that a newer one posted since `at` hid:
    // the thread's unread floors wait (src/store/unread-floors.ts).
    holdFloors.run({ timeline: threadTimeline(thread), until: Date.now() + RESTORE_HOLD_MS });
    closePeriod.run(Math.max(at, member.joined_at), uid, thread, member.joined_at);
    return true;
  });
  const threadsFirst = db.prepare<[string, number], MemberRow>('SELECT thread, uid, joined_at FROM thread_members WHERE uid = ? ORDER BY thread LIMIT ?');
  const threadsAfter = db.prepare<[string, string, number], MemberRow>(
    'SELECT thread, uid, joined_at FROM thread_members WHERE uid = ? AND thread > ? ORDER BY thread LIMIT ?',
  );
  const membersFirst = db.prepare<[string, number], MemberRow>('SELECT thread, uid, joined_at FROM thread_members WHERE thread = ? ORDER BY uid LIMIT ?');
  const membersAfter = db.prepare<[string, string, number], MemberRow>(
    'SELECT thread, uid, joined_at FROM thread_members WHERE thread = ? AND uid > ? ORDER BY uid LIMIT ?',
  );

  return {
    post: (timeline, message, at) => group.run(() => postOne(timeline, message, at)),
    posted: (timeline, messageId) => sqlite(() => postedAt.get(timeline, messageId) !== undefined),
    restoreTopic: (timeline, topic) => group.run(() => restoreTopic(timeline, topic)),
    join: (thread, uid, at) => sqlite(() => joinTx.immediate(thread, uid, at)),
    leave: (thread, uid, at) => sqlite(() => leaveTx.immediate(thread, uid, at)),
    threadsOf: (uid, limit, after) =>
      sqlite(() => (after === undefined ? threadsFirst.all(uid, limit) : threadsAfter.all(uid, after, limit)).map(toMembership)),
    members: (thread, limit, after) =>
      sqlite(() => (after === undefined ? membersFirst.all(thread, limit) : membersAfter.all(thread, after, limit)).map(toMembership)),
  };
}
