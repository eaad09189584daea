/**
 * Unread floors: where a user's unread count starts in each timeline they see, so that
 * InboxStore.countUnread and the paging of unread entries do not pass again, on every call, over
 * every broadcast and thread message since the user was created. Both adapters keep them by
 * these rules.
 *
 * A floor is a cache, never a state: it says that every entry of the timeline the user sees that
 * was posted before it is read, archived, recalled or replaced for that user. The first three
 * last. A replacement does too, except when the newer message is recalled and the older one is
 * listed again (TimelineStore.restoreTopic), or when the user leaves a thread and a newer one
 * posted after the leave no longer hides it for that user (TimelineStore.leave). So:
 *  - countUnread raises a timeline's floor to the post time of its first unread listed entry,
 *    but never past POST_VISIBLE_MS before the newest entry it saw there (nor before its own
 *    start): a post is visible to reads within that much of its post time, so one still in
 *    flight was posted after that. (Each store writes a post so that it is visible as soon as it
 *    exists: a post repeated after a crash keeps its first time.) It
 *    writes the floor only when the floor moves by FLOOR_STEP_MS or more, so counting writes
 *    about once per FLOOR_STEP_MS of new posts, per user and timeline.
 *  - restoreTopic and leave record, per timeline, a time RESTORE_HOLD_MS after they ran (before
 *    they change anything and again once done). A floor set by a count that began before that time is not
 *    used; the next count finds and sets it again. The hold covers the restore's own duration and
 *    the clocks of a cluster's hosts (within 5 s of each other).
 * A count then costs the timeline entries posted since the user's oldest unread one (or the last
 * minute of posts), not every broadcast since the user was created.
 */

export const POST_VISIBLE_MS = 60_000;
export const FLOOR_STEP_MS = 60_000;
export const RESTORE_HOLD_MS = 60_000;

export interface UnreadFloor {
  /** Every entry posted before this is read, archived, recalled or replaced for the user. */
  floorAt: number;
  /** When the count that found it began. */
  setAt: number;
}

/** The floor of a timeline that a count may start from: set after the timeline's last restore (restoredUntil). */
export const usableFloor = (floor: UnreadFloor | undefined, restoredUntil: number | undefined): number | undefined =>
  floor !== undefined && floor.setAt > (restoredUntil ?? Number.NEGATIVE_INFINITY) ? floor.floorAt : undefined;

/**
 * The floor to write for a timeline after a count that began at `countedAt`, started from the
 * usable floor `used` (undefined: from the user's window), and found the first unread entry
 * posted at `firstUnreadAt` (undefined: none) and the newest entry posted at `newestAt`
 * (undefined: no entry, no floor); undefined when the floor stays. A post time ahead of the
 * count's clock (a host whose clock runs ahead) moves it no further than the count's own time.
 */
export function raisedFloor(used: number | undefined, firstUnreadAt: number | undefined, newestAt: number | undefined, countedAt: number): number | undefined {
  if (newestAt === undefined) return undefined;
  const floor = Math.min(firstUnreadAt ?? Number.POSITIVE_INFINITY, Math.min(newestAt, countedAt) - POST_VISIBLE_MS);
  return used === undefined || floor - used >= FLOOR_STEP_MS ? floor : undefined;
}
