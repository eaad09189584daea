/**
 * GET /api/v1/users/{uid} (admin, or the user itself; another user's is 404, never 403),
 * PUT /api/v1/users/{uid} (admin, or the user itself for its locale and time zone, and for its
 * contact fields `email` and `phone` only under HERALD_USER_CONTACTS=self) and
 * DELETE /api/v1/users/{uid} (admin: the right to erasure, src/pipeline/erasure.ts) and
 * GET / PUT /api/v1/preferences (own).
 */
import { subjects } from '../../bus/port.js';
import { ProblemError } from '../../errors.js';
import { refusedContactFields, type UserContactsPolicy } from '../../exchange/send-policy.js';
import type { Preferences } from '../../exchange/types.js';
import { eraseUser } from '../../pipeline/erasure.js';
import type { ApiDeps } from '../deps.js';
import { preferences as preferencesResponse, userBody as userResponse } from '../responses.js';
import { answer, authed, json, type Route, refusals } from '../route.js';
import { preferencesBody, uid as uidSchema, userBody } from '../schemas.js';
import { validate } from '../validate.js';
import { preferencesView, userView } from '../views.js';

export interface UserRouteOptions {
  /** HERALD_USER_CONTACTS; default `admin`. */
  userContacts?: UserContactsPolicy;
}

export function userRoutes(deps: ApiDeps, options: UserRouteOptions = {}): Route[] {
  const userContacts = options.userContacts ?? 'admin';
  return [
    authed(
      'GET',
      '/api/v1/users/:uid',
      'user',
      {
        summary: 'A user: an admin reads anyone, a user itself',
        description: "Another user's profile is 404 for a non-admin, as an unknown user is for an admin: nothing tells whether it exists.",
        tag: 'users',
        params: { uid: uidSchema },
        answers: {
          200: answer('The user as stored', userResponse),
          ...refusals({ HERALD_INVALID_REQUEST: 'the uid is invalid', HERALD_NOT_FOUND: 'no such user for this caller' }),
        },
      },
      async ({ params, caller }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        if (!caller.admin && caller.uid !== uid) throw new ProblemError('HERALD_NOT_FOUND', `no user ${uid} for this caller`);
        // The caller itself exists from its first authenticated request (ensure is a read when it does).
        const user = caller.uid === uid ? await deps.stores.users.ensure(uid, deps.now()) : await deps.stores.users.get(uid);
        if (!user) throw new ProblemError('HERALD_NOT_FOUND', `no user ${uid} for this caller`);
        return json(200, userView(user));
      },
    ),
    authed(
      'PUT',
      '/api/v1/users/:uid',
      'user',
      {
        summary: 'Create or update a user',
        description:
          'Admins may set every field of any user. A user may set its own locale and timezone, and its own email and phone only under HERALD_USER_CONTACTS=self; ' +
          'attributes (what audiences select on) are admin-only. Fields left out keep their value. Users are also created on first sight (their first authenticated request).',
        tag: 'users',
        params: { uid: uidSchema },
        body: userBody,
        answers: {
          200: answer('The user as stored', userResponse),
          ...refusals({
            HERALD_INVALID_REQUEST: 'the uid or a field is invalid (each in errors[])',
            HERALD_FORBIDDEN: 'a non-admin changing another user, setting attributes, or setting email or phone without HERALD_USER_CONTACTS=self',
          }),
        },
      },
      async ({ params, body, caller }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        if (!caller.admin && caller.uid !== uid) throw new ProblemError('HERALD_FORBIDDEN', 'only an admin may change another user');
        const input = validate(userBody, body);
        if (!caller.admin && input.attributes !== undefined) {
          throw new ProblemError('HERALD_FORBIDDEN', 'only an admin may set attributes', { errors: [{ path: 'attributes', message: 'admin only' }] });
        }
        const contacts = refusedContactFields(userContacts, caller, input);
        if (contacts.length > 0) {
          throw new ProblemError('HERALD_FORBIDDEN', `only an admin may set ${contacts.map((e) => e.path).join(' and ')}`, { errors: contacts });
        }
        const user = await deps.stores.users.put({ uid, ...input }, deps.now());
        const devices = await deps.stores.devices.listByUser(uid);
        deps.search
          .indexUser(user, [...new Set(devices.map((d) => d.kind))])
          .catch((error: unknown) => deps.log.warn({ err: error, uid }, 'user not reindexed'));
        return json(200, userView(user));
      },
      { body: true },
    ),
    authed(
      'DELETE',
      '/api/v1/users/:uid',
      'admin',
      {
        summary: 'Erase a user and everything Herald holds about them (the right to erasure)',
        description:
          'Erases the profile (contacts, attributes), preferences, devices, inbox entries and receipts, and their search documents (the audience entry, ' +
          "the receipts reports count, the uid as a message recipient); closes their sockets (close code 4410). Messages stay: they are their senders' records. " +
          'A message addressed to the uid before the erasure (scheduled, still in triage) no longer reaches it. 204 once all of it is durable, ' +
          'for an unknown or already erased uid too (idempotent). A later authenticated request of that uid starts a new user.',
        tag: 'users',
        params: { uid: uidSchema },
        answers: {
          204: answer('Erased (or nothing to erase)'),
          ...refusals({ HERALD_INVALID_REQUEST: 'the uid is invalid' }),
        },
      },
      async ({ params }) => {
        const uid = validate(uidSchema, params.uid, 'uid');
        await eraseUser(deps, uid);
        deps.log.info({ uid }, 'user erased');
        return json(204);
      },
    ),
    authed(
      'GET',
      '/api/v1/preferences',
      'user',
      {
        summary: "The caller's delivery preferences",
        tag: 'users',
        answers: { 200: answer('The preferences (empty ones for a new user)', preferencesResponse) },
      },
      async ({ caller }) => json(200, preferencesView(await deps.stores.users.getPreferences(caller.uid))),
    ),
    authed(
      'PUT',
      '/api/v1/preferences',
      'user',
      {
        summary: "Replace the caller's delivery preferences",
        description:
          'channels: a channel set to false is not used for the caller (realtime false also unsubscribes its live sockets from broadcasts); categories: a disabled category is not delivered; ' +
          'quietHours (in the user timezone): intrusive channels wait until the end for messages below high. The whole object is replaced: a field left out is cleared.',
        tag: 'users',
        body: preferencesBody,
        answers: {
          200: answer('The preferences as saved', preferencesResponse),
          ...refusals({ HERALD_INVALID_REQUEST: 'a field is invalid (each in errors[])' }),
        },
      },
      async ({ body, caller }) => {
        const input = validate(preferencesBody, body);
        const preferences: Preferences = { channels: input.channels ?? {}, categories: input.categories ?? {} };
        if (input.quietHours) preferences.quietHours = input.quietHours;
        await deps.stores.users.putPreferences(caller.uid, preferences);
        deps.bus.emit(subjects.preferencesChanged, { uid: caller.uid, realtime: preferences.channels.realtime !== false });
        return json(200, preferencesView(preferences));
      },
      { body: true },
    ),
  ];
}
