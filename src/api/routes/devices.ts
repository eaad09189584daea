/** POST / DELETE /api/v1/native/subscribe: APNs and FCM tokens, and web push subscriptions, of the caller. */
import { ProblemError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { NewDevice } from '../../store/port.js';
import type { ApiDeps } from '../deps.js';
import { authed, json, type Route } from '../route.js';
import { nativeDevice, webPushSubscription } from '../schemas.js';
import { validate } from '../validate.js';

/** A browser PushSubscription has an endpoint; a native registration names its os. */
export function parseDevice(body: unknown): NewDevice {
  if (body !== null && typeof body === 'object' && 'endpoint' in body) {
    const sub = validate(webPushSubscription, body);
    return { kind: 'web', token: sub.endpoint, keys: sub.keys, expirationTime: sub.expirationTime ?? null };
  }
  const device = validate(nativeDevice, body);
  return { kind: device.os, token: device.token };
}

export function deviceRoutes(deps: ApiDeps): Route[] {
  const reindexUser = async (uid: string) => {
    const [user, devices] = await Promise.all([deps.stores.users.get(uid), deps.stores.devices.listByUser(uid)]);
    if (user) await deps.search.indexUser(user, [...new Set(devices.map((d) => d.kind))]);
  };
  const reindexQuietly = (uid: string) => reindexUser(uid).catch((error: unknown) => deps.log.warn({ err: error, uid }, 'user not reindexed'));

  return [
    authed(
      'POST',
      '/api/v1/native/subscribe',
      'user',
      async ({ body, caller }) => {
        const device = parseDevice(body);
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
