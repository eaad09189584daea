/**
 * Admin reads behind the console (GET /console): the live figures of this process
 * (GET /api/v1/admin/stats), the messages waiting for their time (GET /api/v1/messages/scheduled),
 * the size of an audience before sending to it (POST /api/v1/audience/count), and a user's
 * devices, preferences and inbox by uid (the admin's view of what the user's own routes show).
 * Every route is admin-only.
 */
import { LIMITS } from '../../exchange/limits.js';
import { URGENCIES } from '../../exchange/types.js';
import { type AudiencePage, audiencePage } from '../../pipeline/audience.js';
import { createAdminStats } from '../admin-stats.js';
import type { ApiDeps } from '../deps.js';
import { inboxPageOf, page } from '../paging.js';
import { adminStats, audienceCount, deviceList, inboxPage, preferences as preferencesResponse, scheduledPage } from '../responses.js';
import { answer, authed, json, type Route, refusals } from '../route.js';
import { audienceCountBody, audienceOnlyBody, everyoneCountBody, scheduledQuery, uid as uidSchema, userInboxQuery } from '../schemas.js';
import { queryObject, validate } from '../validate.js';
import { deviceView, messageView, preferencesView } from '../views.js';

/** Counting an audience stops here: a bounded cost (AUDIENCE_COUNT_CAP / AUDIENCE_COUNT_PAGE reads) whatever its size. */
export const AUDIENCE_COUNT_CAP = 10_000;
const AUDIENCE_COUNT_PAGE = 1_000;

export function adminRoutes(deps: ApiDeps): Route[] {
  const stats = createAdminStats(deps.metrics, URGENCIES);

  /** Users the audience selects, up to the cap, paged as triage pages it (src/pipeline/audience.ts). */
  async function countAudience(select: (after: string | undefined, limit: number) => Promise<AudiencePage>) {
    let count = 0;
    let after: string | undefined;
    while (count < AUDIENCE_COUNT_CAP) {
      const page = await select(after, AUDIENCE_COUNT_PAGE);
      count += page.uids.length;
      if (page.next === undefined) return { count: Math.min(count, AUDIENCE_COUNT_CAP), capped: count > AUDIENCE_COUNT_CAP };
      after = page.next;
    }
    return { count: AUDIENCE_COUNT_CAP, capped: true };
  }

  return [
    authed(
      'GET',
      '/api/v1/admin/stats',
      'admin',
      {
        summary: "This process's live figures: sockets, accepted messages and deliveries per minute, queue depths",
        description:
          'What GET /metrics counts, as JSON for the admin console. Totals since the process started; rates per minute over the last minute, measured between reads (null on the first read). ' +
          'Figures are this process’s: behind a load balancer each API process answers for itself.',
        tag: 'operations',
        answers: { 200: answer('The figures', adminStats) },
      },
      async () => {
        const figures = await stats(deps.now());
        return json(200, { ...figures, at: new Date(figures.at).toISOString() });
      },
    ),

    authed(
      'GET',
      '/api/v1/messages/scheduled',
      'admin',
      {
        summary: 'Messages waiting for their time (opts.schedule), newest first',
        description:
          'Paged by `limit` (default 50, at most 200) and `cursor` (the previous page `next`). A message leaves the list when its time comes or when it is cancelled (DELETE /api/v1/messages/{id}).',
        tag: 'sending',
        query: scheduledQuery,
        answers: {
          200: answer('One page', scheduledPage),
          ...refusals({ HERALD_INVALID_REQUEST: 'a query parameter is invalid or unknown (each in errors[])' }),
        },
      },
      async ({ query }) => {
        const q = validate(scheduledQuery, queryObject(query));
        const limit = q.limit ?? LIMITS.defaultPageLimit;
        const stored = await deps.stores.messages.scheduled(limit + 1, q.cursor);
        const views = stored.map(({ message }) => ({ ...messageView(message), sender: message.sender, target: message.target }));
        const { rows, next } = page(views, limit);
        return json(200, { messages: rows, next });
      },
    ),

    authed(
      'POST',
      '/api/v1/audience/count',
      'admin',
      {
        summary: 'How many users an audience (or everyone) selects, before sending to it',
        description:
          '`{"audience": {...}}` as POST /api/v1/multicast takes it, or `{"everyone": true}` for a broadcast. ' +
          `Counting stops at ${AUDIENCE_COUNT_CAP.toLocaleString('en')} users (then \`capped\` is true), so an answer costs a bounded number of reads however large the audience. ` +
          '`online` is judged now: the count of a send later may differ.',
        tag: 'sending',
        body: audienceCountBody,
        answers: {
          200: answer('The count', audienceCount),
          ...refusals({ HERALD_INVALID_REQUEST: 'the body is not an audience or {"everyone": true} (each error in errors[])' }),
        },
      },
      async ({ body }) => {
        if (typeof body === 'object' && body !== null && 'everyone' in body) {
          validate(everyoneCountBody, body);
          return json(
            200,
            await countAudience(async (after, limit) => {
              const uids = (await deps.stores.users.page(after, limit)).map((user) => user.uid);
              return uids.length === limit ? { uids, next: uids[uids.length - 1] } : { uids };
            }),
          );
        }
        const { audience } = validate(audienceOnlyBody, body);
        return json(200, await countAudience((after, limit) => audiencePage(deps, audience, after, limit)));
      },
      { body: true },
    ),

    authed(
      'GET',
      '/api/v1/users/:uid/devices',
      'admin',
      {
        summary: "A user's registered devices, oldest first (admin)",
        description: 'As GET /api/v1/devices shows them to their owner: never a token, endpoint or key. An unknown user has none.',
        tag: 'users',
        params: { uid: uidSchema },
        answers: { 200: answer('The devices', deviceList), ...refusals({ HERALD_INVALID_REQUEST: 'the uid is invalid' }) },
      },
      async ({ params }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        return json(200, { devices: (await deps.stores.devices.listByUser(uid)).map(deviceView) });
      },
    ),

    authed(
      'GET',
      '/api/v1/users/:uid/preferences',
      'admin',
      {
        summary: "A user's delivery preferences (admin)",
        description: 'As GET /api/v1/preferences shows them to the user: empty ones for an unknown user.',
        tag: 'users',
        params: { uid: uidSchema },
        answers: { 200: answer('The preferences', preferencesResponse), ...refusals({ HERALD_INVALID_REQUEST: 'the uid is invalid' }) },
      },
      async ({ params }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        return json(200, preferencesView(await deps.stores.users.getPreferences(uid)));
      },
    ),

    authed(
      'GET',
      '/api/v1/users/:uid/messages',
      'admin',
      {
        summary: "A user's inbox, newest first (admin)",
        description:
          'Paged as GET /api/v1/messages pages the caller’s own (`limit`, `since`, `cursor`, `state=unread`), with each entry’s read state. Reading it marks nothing delivered or read.',
        tag: 'users',
        params: { uid: uidSchema },
        query: userInboxQuery,
        answers: {
          200: answer('One page', inboxPage),
          ...refusals({ HERALD_INVALID_REQUEST: 'the uid or a query parameter is invalid or unknown (each in errors[])' }),
        },
      },
      async ({ params, query }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        const q = validate(userInboxQuery, queryObject(query));
        return json(200, await inboxPageOf(deps.stores.inbox, uid, q));
      },
    ),
  ];
}
