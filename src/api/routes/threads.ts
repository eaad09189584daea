/**
 * Threads: named timelines a user belongs to for a while (src/store/port.ts TimelineStore).
 *  - PUT /api/v1/threads/{thread}/members/{uid}: an admin adds anyone; a user adds itself only to
 *    a thread HERALD_THREADS_SELF_JOIN lists (src/exchange/self-join.ts). 201 with the membership
 *    when it joined now, 204 when it already was a member (its joining time stays).
 *  - DELETE …/members/{uid}: an admin removes anyone, a user itself; 204, also when it was no member.
 *  - GET /api/v1/threads/{thread}/members: admin, paged by uid.
 *  - GET /api/v1/threads: the caller's own threads, paged by name.
 * A member sees the thread's messages (POST /api/v1/multicast with `thread`) sent while it is a
 * member; joining and leaving reach its live sockets at once (subjects.membershipChanged).
 */
import { type MembershipSignal, subjects } from '../../bus/port.js';
import { ProblemError } from '../../errors.js';
import { LIMITS } from '../../exchange/limits.js';
import { allowsSelfJoin, type SelfJoinRule } from '../../exchange/self-join.js';
import type { ApiDeps } from '../deps.js';
import { page } from '../paging.js';
import { membersPage, threadMembership, threadsPage } from '../responses.js';
import { answer, authed, json, type Route, refusals } from '../route.js';
import { membersQuery, threadName, threadsQuery, uid as uidSchema } from '../schemas.js';
import { queryObject, validate } from '../validate.js';
import { membershipView } from '../views.js';

export interface ThreadRouteOptions {
  /** HERALD_THREADS_SELF_JOIN; default: none. */
  selfJoin?: SelfJoinRule;
}

const MEMBER_PARAMS = { thread: threadName, uid: uidSchema };

export function threadRoutes(deps: ApiDeps, options: ThreadRouteOptions = {}): Route[] {
  const selfJoin = options.selfJoin ?? [];
  const signal = (uid: string, thread: string, member: boolean, at: number) =>
    deps.bus.emit(subjects.membershipChanged, { uid, thread, member, at } satisfies MembershipSignal);
  const memberParams = (params: Record<string, string>) => ({
    thread: validate(threadName, params.thread, 'thread'),
    uid: validate(uidSchema, params.uid, 'uid'),
  });

  return [
    authed(
      'PUT',
      '/api/v1/threads/:thread/members/:uid',
      'user',
      {
        summary: 'Add a member to a thread',
        description:
          'An admin adds any user. A user may add itself to a thread HERALD_THREADS_SELF_JOIN lists, and no one else. ' +
          'The member sees the thread’s messages sent from now on, until it leaves; its live sockets get them at once.',
        tag: 'threads',
        params: MEMBER_PARAMS,
        answers: {
          201: answer('Joined now', threadMembership),
          204: answer('Already a member: nothing changed (GET /api/v1/threads shows since when)'),
          ...refusals({
            HERALD_INVALID_REQUEST: 'the thread name or the uid is invalid',
            HERALD_FORBIDDEN: 'a user adding someone else, or itself to a thread HERALD_THREADS_SELF_JOIN does not list',
          }),
        },
      },
      async ({ params, caller }) => {
        const { thread, uid } = memberParams(params);
        if (!caller.admin && caller.uid !== uid) throw new ProblemError('HERALD_FORBIDDEN', 'a user may add only itself to a thread');
        if (!caller.admin && !allowsSelfJoin(selfJoin, thread)) {
          throw new ProblemError('HERALD_FORBIDDEN', `thread ${thread} is not open to self-join (HERALD_THREADS_SELF_JOIN)`);
        }
        const at = deps.now();
        if (!(await deps.stores.timelines.join(thread, uid, at))) return json(204);
        signal(uid, thread, true, at);
        return json(201, membershipView({ thread, uid, joinedAt: at }));
      },
    ),
    authed(
      'DELETE',
      '/api/v1/threads/:thread/members/:uid',
      'user',
      {
        summary: 'Remove a member from a thread',
        description: 'An admin removes anyone, a user itself. What the member saw while a member stays in its inbox; nothing sent afterwards reaches it.',
        tag: 'threads',
        params: MEMBER_PARAMS,
        answers: {
          204: answer('Not a member (any more)'),
          ...refusals({ HERALD_INVALID_REQUEST: 'the thread name or the uid is invalid', HERALD_FORBIDDEN: 'a user removing someone else' }),
        },
      },
      async ({ params, caller }) => {
        const { thread, uid } = memberParams(params);
        if (!caller.admin && caller.uid !== uid) throw new ProblemError('HERALD_FORBIDDEN', 'a user may remove only itself from a thread');
        const at = deps.now();
        if (await deps.stores.timelines.leave(thread, uid, at)) signal(uid, thread, false, at);
        return json(204);
      },
    ),
    authed(
      'GET',
      '/api/v1/threads/:thread/members',
      'admin',
      {
        summary: 'The members of a thread, by uid',
        description: 'Paged by `limit` (default 50, at most 200) and `cursor` (the previous page `next`).',
        tag: 'threads',
        params: { thread: threadName },
        query: membersQuery,
        answers: {
          200: answer('One page', membersPage),
          ...refusals({ HERALD_INVALID_REQUEST: 'the thread name or a query parameter is invalid or unknown (each in errors[])' }),
        },
      },
      async ({ params, query }) => {
        const thread = validate(threadName, params.thread, 'thread');
        const q = validate(membersQuery, queryObject(query));
        const limit = q.limit ?? LIMITS.defaultPageLimit;
        const rows = await deps.stores.timelines.members(thread, limit + 1, q.cursor);
        const { rows: shown, next } = page(rows, limit, (m) => m.uid);
        return json(200, { members: shown.map(membershipView), next });
      },
    ),
    authed(
      'GET',
      '/api/v1/threads',
      'user',
      {
        summary: 'The caller’s threads, by name',
        description: 'Paged by `limit` (default 50, at most 200) and `cursor` (the previous page `next`).',
        tag: 'threads',
        query: threadsQuery,
        answers: {
          200: answer('One page', threadsPage),
          ...refusals({ HERALD_INVALID_REQUEST: 'a query parameter is invalid or unknown (each in errors[])' }),
        },
      },
      async ({ query, caller }) => {
        const q = validate(threadsQuery, queryObject(query));
        const limit = q.limit ?? LIMITS.defaultPageLimit;
        const rows = await deps.stores.timelines.threadsOf(caller.uid, limit + 1, q.cursor);
        const { rows: shown, next } = page(rows, limit, (m) => m.thread);
        return json(200, { threads: shown.map(membershipView), next });
      },
    ),
  ];
}
