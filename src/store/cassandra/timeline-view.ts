/**
 * What a user sees of the timelines (Cassandra; tables of migration 6, schema.ts), for the inbox
 * (inbox-store.ts):
 *  - `windowsOf(uid)`: the user's windows — the everyone-timeline from users.created_at on (none
 *    for a uid that is no user), each thread for every period of membership (thread_periods,
 *    [joined_at, left_at)). Two point / partition reads, both of the user's own rows.
 *  - `bucketsOf` + `scan`: the timeline entries the user sees and lists in one timeline, newest
 *    first by id, inside a keyset: the timeline's buckets whose entries were posted in one of the
 *    user's periods (one read of timeline_buckets), a range scan of each, the entries posted outside the periods
 *    or replaced by a newer one the user also saw skipped, then the user's state of a page of
 *    candidates in one `message_id IN ?` read of timeline_state (archived ones skipped, read
 *    ones too for unreadOnly). Its cost: the entries of those buckets it passes over.
 *  - `unreadWindowsOf(uid)` / `raiseFloors`: the windows from the user's unread floors on, and
 *    the floors a count raises (timeline_floors, timeline_restores; src/store/unread-floors.ts).
 *  - `seen(uid, windows, ids)`: which of `ids` the user sees (listed or not), for get and mark:
 *    per id one read of its row in every timeline the user has a window on (`timeline IN ?`).
 * The rule is the SQLite adapter's (src/store/sqlite/timeline-view.ts): an entry replaced by a
 * newer one of its topic stays listed only in a closed period that ended before the newer one
 * was posted (the user left before seeing it).
 */
import { type TimelineId, threadTimeline } from '../port.js';
import { usableFloor } from '../unread-floors.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, long, mapLimit, text } from './client.js';
import { type InboxEntry, keyset } from './inbox-merge.js';
import { inboxBucket, postedBucket } from './schema.js';

/** Posts from `from` (inclusive) until `until` (exclusive; null: still open). */
export interface Period {
  from: number;
  until: number | null;
}

/** The timelines a user sees, each with its periods. */
export type Windows = Map<TimelineId, Period[]>;

type State = Omit<InboxEntry, 'messageId'>;

const NO_STATE: State = { deliveredAt: null, readAt: null, archivedAt: null };

const periodOf = (periods: readonly Period[], postedAt: number): Period | undefined =>
  periods.find((period) => postedAt >= period.from && (period.until === null || postedAt < period.until));

/** Whether an entry seen in `period` is listed there: not replaced, or replaced only after the period ended. */
const listedIn = (period: Period, replacedBy: string | null, replacedAt: number | null): boolean =>
  replacedBy === null || (period.until !== null && replacedAt !== null && replacedAt >= period.until);

/** Whether some period may hold posts of the 30-day period `bucket` (postedBucket). */
const mayHold = (periods: readonly Period[], bucket: number): boolean =>
  periods.some((period) => bucket >= postedBucket(period.from) && (period.until === null || bucket <= postedBucket(period.until - 1)));

export function createTimelineView(session: CqlSession) {
  const SELECT_CREATED = 'SELECT created_at FROM users WHERE uid = ?';
  const SELECT_PERIODS = 'SELECT thread, joined_at, left_at FROM thread_periods WHERE uid = ?';
  const SELECT_BUCKETS = 'SELECT bucket, posted_bucket FROM timeline_buckets WHERE timeline = ? AND bucket <= ? AND bucket >= ?';
  const SELECT_STATES = 'SELECT message_id, delivered_at, read_at, archived_at FROM timeline_state WHERE uid = ? AND message_id IN ?';
  const SELECT_POSTED = 'SELECT timeline, posted_at FROM timeline_entries WHERE timeline IN ? AND bucket = ? AND message_id = ?';
  const ENTRY_COLUMNS = 'message_id, posted_at, replaced_by, replaced_at';
  const SELECT_FLOORS = 'SELECT timeline, floor_at, set_at FROM timeline_floors WHERE uid = ?';
  const SELECT_RESTORES = 'SELECT timeline, restored_until FROM timeline_restores WHERE timeline IN ?';
  // Written at the count's start time: an erasure after it (a later delete) wins, and leaves no row.
  const WRITE_FLOOR = 'UPDATE timeline_floors USING TIMESTAMP ? SET floor_at = ?, set_at = ? WHERE uid = ? AND timeline = ?';

  const windowsOf = async (uid: string): Promise<Windows> => {
    const windows: Windows = new Map();
    const [user, periods] = await Promise.all([
      session.execute(SELECT_CREATED, [uid]),
      (async () => {
        const rows = [];
        for await (const row of session.rows(SELECT_PERIODS, [uid])) rows.push(row);
        return rows;
      })(),
    ]);
    const created = user.first();
    if (created) windows.set('everyone', [{ from: long(created.get('created_at')) ?? 0, until: null }]);
    for (const row of periods) {
      const period = { from: long(row.get('joined_at')) ?? 0, until: long(row.get('left_at')) };
      if (period.until !== null && period.until <= period.from) continue;
      const timeline = threadTimeline(text(row.get('thread')) as string);
      windows.set(timeline, [...(windows.get(timeline) ?? []), period]);
    }
    return windows;
  };

  /** The user's state of each of `ids` that has one. */
  const statesOf = async (uid: string, ids: readonly string[]): Promise<Map<string, State>> => {
    const states = new Map<string, State>();
    await mapLimit(chunks(ids, IN_KEYS), DEFAULT_CONCURRENCY, async (keys) => {
      for await (const row of session.rows(SELECT_STATES, [uid, keys])) {
        states.set(text(row.get('message_id')) as string, {
          deliveredAt: long(row.get('delivered_at')),
          readAt: long(row.get('read_at')),
          archivedAt: long(row.get('archived_at')),
        });
      }
    });
    return states;
  };

  /** The buckets of `timeline` inside the keyset that may hold posts of `periods`, newest first. */
  const bucketsOf = async (timeline: TimelineId, periods: readonly Period[], high: number, low: number): Promise<number[]> => {
    const buckets: number[] = [];
    for await (const row of session.rows(SELECT_BUCKETS, [timeline, high, low])) {
      const bucket = row.get('bucket') as number;
      if (buckets.at(-1) !== bucket && mayHold(periods, row.get('posted_bucket') as number)) buckets.push(bucket);
    }
    return buckets;
  };

  /**
   * The user's windows for what is unread: each period starting no earlier than the usable floor
   * of its timeline (src/store/unread-floors.ts; `floors`: that floor per timeline, if any).
   * Two more reads: the user's floors (one partition) and the timelines' restores (one `IN`).
   */
  const unreadWindowsOf = async (uid: string): Promise<{ windows: Windows; floors: Map<TimelineId, number> }> => {
    const [windows, stored] = await Promise.all([windowsOf(uid), session.execute(SELECT_FLOORS, [uid])]);
    const floors = new Map<TimelineId, number>();
    if (stored.rows.length === 0) return { windows, floors };
    const restoredUntil = new Map<string, number>();
    for (const keys of chunks([...windows.keys()], IN_KEYS)) {
      for await (const row of session.rows(SELECT_RESTORES, [keys]))
        restoredUntil.set(text(row.get('timeline')) as string, long(row.get('restored_until')) ?? 0);
    }
    for (const row of stored.rows) {
      const timeline = text(row.get('timeline')) as TimelineId;
      const floor = { floorAt: long(row.get('floor_at')) ?? 0, setAt: long(row.get('set_at')) ?? 0 };
      const usable = usableFloor(floor, restoredUntil.get(timeline));
      if (usable !== undefined && windows.has(timeline)) floors.set(timeline, usable);
    }
    const clipped: Windows = new Map();
    for (const [timeline, periods] of windows) {
      const floor = floors.get(timeline);
      clipped.set(
        timeline,
        floor === undefined
          ? periods
          : periods.flatMap((p) => (p.until !== null && p.until <= floor ? [] : [{ from: Math.max(p.from, floor), until: p.until }])),
      );
    }
    return { windows: clipped, floors };
  };

  /** Writes the floors a count found higher (raisedFloor), with the turn's other plain writes. */
  const raiseFloors = (uid: string, raised: ReadonlyArray<{ timeline: TimelineId; floorAt: number }>, setAt: number): Promise<void> =>
    raised.length === 0
      ? Promise.resolve()
      : session.write(raised.map(({ timeline, floorAt }) => ({ query: WRITE_FLOOR, params: [setAt * 1000, floorAt, setAt, uid, timeline] })));

  /**
   * The listed entries of `timeline` that `uid` sees in `periods`, newest first, in `buckets`
   * (bucketsOf) and the query's keyset, each with its post time. `passed`, when given, hears the
   * post time of every entry of the periods the scan passes over, listed or not.
   */
  async function* scan(
    uid: string,
    timeline: TimelineId,
    periods: readonly Period[],
    buckets: readonly number[],
    query: { before?: string; since?: string; unreadOnly?: boolean },
    fetchSize: number,
    passed?: (postedAt: number) => void,
  ): AsyncGenerator<InboxEntry & { postedAt: number }> {
    const range = keyset(query);
    let candidates: Array<{ messageId: string; postedAt: number }> = [];
    async function* withState(): AsyncGenerator<InboxEntry & { postedAt: number }> {
      const entries = candidates;
      candidates = [];
      const states =
        entries.length === 0
          ? new Map<string, State>()
          : await statesOf(
              uid,
              entries.map((e) => e.messageId),
            );
      for (const { messageId, postedAt } of entries) {
        const state = states.get(messageId) ?? NO_STATE;
        if (state.archivedAt !== null || (query.unreadOnly === true && state.readAt !== null)) continue;
        yield { messageId, ...state, postedAt };
      }
    }
    const cql = `SELECT ${ENTRY_COLUMNS} FROM timeline_entries WHERE ${['timeline = ?', 'bucket = ?', ...range.conditions].join(' AND ')}`;
    for (const bucket of buckets) {
      for await (const row of session.rows(cql, [timeline, bucket, ...range.params], fetchSize)) {
        const postedAt = long(row.get('posted_at')) ?? 0;
        const period = periodOf(periods, postedAt);
        if (period === undefined) continue;
        passed?.(postedAt);
        if (!listedIn(period, text(row.get('replaced_by')), long(row.get('replaced_at')))) continue;
        candidates.push({ messageId: text(row.get('message_id')) as string, postedAt });
        if (candidates.length >= fetchSize) yield* withState();
      }
    }
    yield* withState();
  }

  /** Which of `ids` the user of `windows` sees in a timeline (listed or not). */
  const seen = async (windows: Windows, ids: readonly string[]): Promise<Set<string>> => {
    const found = new Set<string>();
    const timelines = [...windows.keys()];
    if (timelines.length === 0) return found;
    await mapLimit(ids, DEFAULT_CONCURRENCY, async (id) => {
      for (const keys of chunks(timelines, IN_KEYS)) {
        for await (const row of session.rows(SELECT_POSTED, [keys, inboxBucket(id), id])) {
          const periods = windows.get(text(row.get('timeline')) as TimelineId) ?? [];
          if (periodOf(periods, long(row.get('posted_at')) ?? 0) !== undefined) found.add(id);
        }
        if (found.has(id)) return;
      }
    });
    return found;
  };

  return { windowsOf, unreadWindowsOf, raiseFloors, statesOf, bucketsOf, scan, seen };
}

export type TimelineView = ReturnType<typeof createTimelineView>;
