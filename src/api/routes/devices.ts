/**
 * GET /api/v1/devices (the caller's devices, without their tokens), DELETE /api/v1/devices/{id}
 * (one of the caller's, by id: another user's is 404, as an unknown one) and
 * POST / DELETE /api/v1/native/subscribe: APNs and FCM tokens, and web push subscriptions, of the
 * caller. A web push endpoint must pass the egress policy (src/egress: https, a public host
 * name, every address it resolves to public, the allow-list) — else 400 naming `endpoint` with
 * the refusal's code. A user holds at most `maxDevicesPerUser` devices: one more is 409
 * HERALD_DEVICE_LIMIT; re-registering a device the user already has is always fine. (The count
 * is read before the write, so concurrent registrations of one user may pass it by a few.)
 */
import { checkEndpoint } from '../../egress/lookup.js';
import { checkUrl, type EgressPolicy, type EgressRefusal, REFUSAL_MESSAGES } from '../../egress/policy.js';
import { invalid, ProblemError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { NewDevice } from '../../store/port.js';
import type { ApiDeps } from '../deps.js';
import { deviceList, deviceRegistered } from '../responses.js';
import { answer, authed, json, type Route, refusals } from '../route.js';
import { deviceBody, deviceId, nativeDevice, webPushSubscription } from '../schemas.js';
import { validate } from '../validate.js';
import { deviceView } from '../views.js';

/** A browser PushSubscription has an endpoint; a native registration names its os (deviceBody is the union of both). */
export function parseDevice(body: unknown): NewDevice {
  if (body !== null && typeof body === 'object' && 'endpoint' in body) {
    const sub = validate(webPushSubscription, body);
    return { kind: 'web', token: sub.endpoint, keys: sub.keys, expirationTime: sub.expirationTime ?? null };
  }
  const device = validate(nativeDevice, body);
  return { kind: device.os, token: device.token };
}

const endpointError = (refusal: EgressRefusal) => ({ path: 'endpoint', message: `${REFUSAL_MESSAGES[refusal]} (${refusal})` });

/** parseDevice for a registration: a refused endpoint is reported with the body's other errors. */
function parseRegistration(body: unknown, egress: EgressPolicy): NewDevice {
  try {
    return parseDevice(body);
  } catch (error) {
    const endpoint = body !== null && typeof body === 'object' ? (body as { endpoint?: unknown }).endpoint : undefined;
    const errors = error instanceof ProblemError ? error.extra.errors : undefined;
    if (typeof endpoint !== 'string' || errors === undefined || errors.some((e) => e.path === 'endpoint')) throw error;
    const checked = checkUrl(endpoint, egress);
    throw checked.ok ? error : invalid([endpointError(checked.refusal), ...errors]);
  }
}

export function deviceRoutes(deps: ApiDeps): Route[] {
  const reindexUser = async (uid: string) => {
    const [user, devices] = await Promise.all([deps.stores.users.get(uid), deps.stores.devices.listByUser(uid)]);
    if (user) await deps.search.indexUser(user, [...new Set(devices.map((d) => d.kind))]);
  };
  const reindexQuietly = (uid: string) => reindexUser(uid).catch((error: unknown) => deps.log.warn({ err: error, uid }, 'user not reindexed'));

  return [
    authed(
      'GET',
      '/api/v1/devices',
      'user',
      {
        summary: "The caller's registered devices, oldest first",
        description:
          'What each device is and since when, never its token, endpoint or keys: for a web push subscription only the origin of its push service. ' +
          'At most HERALD_MAX_DEVICES_PER_USER devices, so the list is not paged.',
        tag: 'devices',
        answers: { 200: answer('The devices', deviceList) },
      },
      async ({ caller }) => json(200, { devices: (await deps.stores.devices.listByUser(caller.uid)).map(deviceView) }),
    ),
    authed(
      'DELETE',
      '/api/v1/devices/:id',
      'user',
      {
        summary: 'Remove a device of the caller by its id',
        description:
          "Another user's device is 404, as an unknown id: nothing tells whether it exists. Its deliveries still waiting (a retry, a paused push service) then fail with reason device-removed.",
        tag: 'devices',
        params: { id: deviceId },
        answers: {
          204: answer('Removed'),
          ...refusals({ HERALD_INVALID_REQUEST: 'the id is not a device id', HERALD_NOT_FOUND: 'the caller has no device of that id' }),
        },
      },
      async ({ params, caller }) => {
        const id = validate(deviceId, params.id, 'id');
        const device = await deps.stores.devices.get(caller.uid, id);
        // remove() is by (uid, kind, token): false when the token moved to another user meanwhile.
        if (!device || !(await deps.stores.devices.remove(caller.uid, device.kind, device.token))) {
          throw new ProblemError('HERALD_NOT_FOUND', `no device ${id} for this user`);
        }
        void reindexQuietly(caller.uid);
        return json(204);
      },
    ),
    authed(
      'POST',
      '/api/v1/native/subscribe',
      'user',
      {
        summary: 'Register a push device or web push subscription of the caller',
        description:
          'An APNs token, an FCM token, or a browser PushSubscription (its JSON as the browser gives it). A web push endpoint must pass the egress policy ' +
          '(https, a public host whose every address is public, HERALD_WEBPUSH_HOSTS when set; HERALD_WEBPUSH_ALLOW_PRIVATE lifts the address rule for development). ' +
          'Re-registering a device the caller already has is 200 with the same id.',
        tag: 'devices',
        body: deviceBody,
        answers: {
          200: answer('Already registered: the same id', deviceRegistered),
          201: answer('Registered', deviceRegistered),
          ...refusals({
            HERALD_INVALID_REQUEST:
              'the body is not one of the three shapes, or the endpoint is refused by the egress policy (errors[] names endpoint with the refusal)',
            HERALD_DEVICE_LIMIT: 'the caller already has HERALD_MAX_DEVICES_PER_USER devices',
          }),
        },
      },
      async ({ body, caller }) => {
        const device = parseRegistration(body, deps.webPushEgress);
        if (device.kind === 'web') {
          const check = await checkEndpoint(device.token, deps.webPushEgress);
          if (!check.ok) throw invalid([endpointError(check.refusal)]);
        }
        const current = await deps.stores.devices.listByUser(caller.uid);
        const known = current.some((d) => d.kind === device.kind && d.token === device.token);
        if (!known && current.length >= deps.maxDevicesPerUser) {
          throw new ProblemError(
            'HERALD_DEVICE_LIMIT',
            `this user already has ${current.length} devices, the most allowed (HERALD_MAX_DEVICES_PER_USER=${deps.maxDevicesPerUser}); remove one first`,
          );
        }
        const { device: stored, created } = await deps.stores.devices.register(caller.uid, device, newId(), deps.now());
        void reindexQuietly(caller.uid);
        return json(created ? 201 : 200, { id: stored.id });
      },
      { body: true },
    ),
    authed(
      'DELETE',
      '/api/v1/native/subscribe',
      'user',
      {
        summary: 'Remove a push device or web push subscription of the caller',
        description: 'The same body as the registration.',
        tag: 'devices',
        body: deviceBody,
        answers: {
          204: answer('Removed'),
          ...refusals({ HERALD_INVALID_REQUEST: 'the body is not one of the three shapes', HERALD_NOT_FOUND: 'the caller has no such registration' }),
        },
      },
      async ({ body, caller }) => {
        const device = parseDevice(body);
        if (!(await deps.stores.devices.remove(caller.uid, device.kind, device.token))) {
          throw new ProblemError('HERALD_NOT_FOUND', 'no such registration for this user');
        }
        void reindexQuietly(caller.uid);
        return json(204);
      },
      { body: true },
    ),
  ];
}
