/**
 * What a user sees of the timelines, as SQL shared by the SQLite inbox (inbox-store.ts): the
 * user's windows — the everyone-timeline from the user's creation on, each thread for every
 * period of membership — and the timeline entries posted inside them, with the user's own state
 * (timeline_state, sparse: no row until the user has one), and the unread part of the windows
 * (from each timeline's unread floor on). Every statement binds @uid.
 */

const WINDOW_ROWS = `SELECT 'everyone', created_at, NULL FROM users WHERE uid = @uid
  UNION ALL
  SELECT 'thread:' || thread, joined_at, left_at FROM thread_periods WHERE uid = @uid`;

/** A CTE `windows (timeline, from_at, until_at)`: the periods in which @uid sees each timeline. */
export const TIMELINE_WINDOWS = `windows (timeline, from_at, until_at) AS (${WINDOW_ROWS})`;

/**
 * The same windows for what is unread, `windows (timeline, from_at, until_at, floor_at)`: each
 * starting no earlier than the user's usable floor of its timeline (src/store/unread-floors.ts;
 * floor_at: that floor, or NULL), before which nothing is unread.
 */
export const UNREAD_WINDOWS = `all_windows (timeline, from_at, until_at) AS (${WINDOW_ROWS}),
  windows (timeline, from_at, until_at, floor_at) AS (
    SELECT a.timeline, max(a.from_at, coalesce(f.floor_at, a.from_at)), a.until_at, f.floor_at
    FROM all_windows a
    LEFT JOIN timeline_floors f ON f.uid = @uid AND f.timeline = a.timeline
      AND f.set_at > coalesce((SELECT r.restored_until FROM timeline_restores r WHERE r.timeline = a.timeline), 0))`;

const POSTED_IN_WINDOW = 't.posted_at >= w.from_at AND (w.until_at IS NULL OR t.posted_at < w.until_at)';

/**
 * The timeline entries @uid sees, as inbox rows (message_id, uid, body, delivered_at, read_at,
 * archived_at); callers append `AND …` conditions on t (entry), s (state), m (message), w (window).
 */
export const SEEN_TIMELINE_ENTRY = `SELECT t.message_id, @uid AS uid, m.body, s.delivered_at, s.read_at, s.archived_at
  FROM windows w
  JOIN timeline_entries t ON t.timeline = w.timeline AND ${POSTED_IN_WINDOW}
  JOIN messages m ON m.id = t.message_id
  LEFT JOIN timeline_state s ON s.uid = @uid AND s.message_id = t.message_id
  WHERE 1`;

/**
 * Listed: not archived by @uid, the message not recalled, and not replaced by a newer one of its
 * topic that the user also sees (a user who left the thread before the newer one keeps the older).
 */
export const TIMELINE_LISTED = `s.archived_at IS NULL AND m.status != 'recalled'
  AND (t.replaced_by IS NULL OR (w.until_at IS NOT NULL AND t.replaced_at >= w.until_at))`;

/** An entry posted this long after its message was created is `late` (migration 11): a page finds it apart. */
export const LATE_POST_MS = 3_600_000;

/** How a page reads one timeline (timelineWalk). */
export type TimelineWalk = 'open' | 'late' | 'closed';

const WALK_RANGE: Record<TimelineWalk, { from: string; where: string }> = {
  // Down the primary key (timeline, message_id) from a little before the first period (@low).
  open: { from: 'timeline_entries t', where: 't.message_id >= @low' },
  // The entries posted late below @low, by post time from the first period on.
  late: { from: 'timeline_entries t INDEXED BY timeline_entries_late', where: 't.late = 1 AND t.posted_at >= @from AND t.message_id < @low' },
  // Every period closed: the entries posted in them, by post time (what the user saw, however much came since).
  closed: { from: 'timeline_entries t INDEXED BY timeline_entries_posted', where: 't.posted_at >= @from AND t.posted_at < @until' },
};

/**
 * The listed entries of one timeline @timeline that @uid sees, newest first by id; the caller
 * appends the keyset conditions (on t, s) and the order and @limit. @periods: the user's periods
 * of the timeline as JSON `[[from, until|null], …]` (bound, so not evaluated again per row).
 * While a period is open, the `open` walk runs down the ids and stops at the page's limit, and the
 * `late` one adds the entries posted long after their message was created (migration 11); once
 * every period is closed, `closed` reads the entries posted in them.
 */
export const timelineWalk = (walk: TimelineWalk): string => `SELECT t.message_id, @uid AS uid, m.body, s.delivered_at, s.read_at, s.archived_at
  FROM ${WALK_RANGE[walk].from}
  JOIN messages m ON m.id = t.message_id
  LEFT JOIN timeline_state s ON s.uid = @uid AND s.message_id = t.message_id
  WHERE t.timeline = @timeline AND ${WALK_RANGE[walk].where}
    AND EXISTS (SELECT 1 FROM json_each(@periods) p
      WHERE t.posted_at >= p.value ->> 0 AND (p.value ->> 1 IS NULL OR t.posted_at < p.value ->> 1)
        AND (t.replaced_by IS NULL OR (p.value ->> 1 IS NOT NULL AND t.replaced_at >= p.value ->> 1)))
    AND s.archived_at IS NULL AND m.status != 'recalled'`;

/** One row when @uid sees the timeline message @id (listed or not). */
export const SEES_TIMELINE_ENTRY = `SELECT 1 AS found FROM windows w
  JOIN timeline_entries t ON t.timeline = w.timeline AND t.message_id = @id AND ${POSTED_IN_WINDOW}
  LIMIT 1`;
