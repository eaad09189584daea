/**
 * An audience, a page at a time: the users it selects, by uid ascending. The Search index
 * answers `where` and `has`; presence answers `online`; a `thread` is paged from its members
 * (TimelineStore), and the index is asked which of each page also match. Used by triage to
 * expand an audience multicast and by `POST /api/v1/audience/count`.
 */
import type { Audience } from '../exchange/types.js';
import type { PipelineDeps } from './deps.js';

export interface AudiencePage {
  /** The selected uids of this page; fewer than asked (none, even) when filters drop some. */
  uids: string[];
  /** Where the next page starts; absent: this was the last. */
  next?: string;
}

/** `limit` candidates at most are read per page (≤ 1,000, what Search takes `among`). */
export async function audiencePage(
  deps: Pick<PipelineDeps, 'stores' | 'search' | 'presence'>,
  audience: Audience,
  after: string | undefined,
  limit: number,
): Promise<AudiencePage> {
  let uids: string[];
  let next: string | undefined;
  if (audience.thread === undefined) {
    uids = await deps.search.audience(audience, after, limit);
    next = uids.length === limit ? uids[uids.length - 1] : undefined;
  } else {
    const members = (await deps.stores.timelines.members(audience.thread, limit, after)).map((m) => m.uid);
    next = members.length === limit ? members[members.length - 1] : undefined;
    const indexed = audience.where !== undefined || audience.has !== undefined;
    uids = indexed && members.length > 0 ? await deps.search.audience(audience, undefined, limit, members) : members;
  }
  if (audience.online !== undefined && uids.length > 0) {
    const online = await deps.presence.onlineAmong(uids);
    uids = uids.filter((uid) => online.has(uid) === audience.online);
  }
  return next === undefined ? { uids } : { uids, next };
}
