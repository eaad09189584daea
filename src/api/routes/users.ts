/**
 * PUT /api/v1/users/{uid} (admin, or the user itself for its locale and time zone, and for its
 * contact fields `email` and `phone` only under HERALD_USER_CONTACTS=self) and
 * GET / PUT /api/v1/preferences (own).
 */
import { subjects } from '../../bus/port.js';
import { ProblemError } from '../../errors.js';
import { refusedContactFields, type UserContactsPolicy } from '../../exchange/send-policy.js';
import type { Preferences } from '../../exchange/types.js';
import type { ApiDeps } from '../deps.js';
import { authed, json, type Route } from '../route.js';
import { preferencesBody, uid as uidSchema, userBody } from '../schemas.js';
import { validate } from '../validate.js';
import { userView } from '../views.js';

export interface UserRouteOptions {
  /** HERALD_USER_CONTACTS; default `admin`. */
  userContacts?: UserContactsPolicy;
}

export function userRoutes(deps: ApiDeps, options: UserRouteOptions = {}): Route[] {
  const userContacts = options.userContacts ?? 'admin';
  return [
    authed(
      'PUT',
      '/api/v1/users/:uid',
      'user',
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
    authed('GET', '/api/v1/preferences', 'user', async ({ caller }) => json(200, preferencesView(await deps.stores.users.getPreferences(caller.uid)))),
    authed(
      'PUT',
      '/api/v1/preferences',
      'user',
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

const preferencesView = (p: Preferences) => ({ channels: p.channels, categories: p.categories, quietHours: p.quietHours ?? null });
