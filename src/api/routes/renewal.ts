/**
 * POST /api/v1/native/renew: a service worker whose browser rotated its push subscription
 * (`pushsubscriptionchange`) registers the new one without a user token, with the renewal
 * capability the last push carried (src/auth/capabilities.ts). The capability names a user and
 * one of their web push devices, bound to that device's endpoint when it was signed: it is
 * refused (401) once the device is gone or its endpoint is another — so it replaces a
 * subscription once. Two renewals racing with capabilities of one device and endpoint are
 * settled by the ticket ledger (Capabilities.redeemRenewal): the first to claim the pair writes
 * the replacement, the other is refused. The new endpoint passes the same egress policy as a registration; the old
 * device is removed and the new one takes its place (the device count does not grow).
 */
import { endpointHash } from '../../auth/capabilities.js';
import { checkEndpoint } from '../../egress/lookup.js';
import { REFUSAL_MESSAGES } from '../../egress/policy.js';
import { invalid, ProblemError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { deviceRegistered } from '../responses.js';
import { answer, json, open, type Route, refusals } from '../route.js';
import { renewalBody } from '../schemas.js';
import { validate } from '../validate.js';

export function renewalRoutes(deps: ApiDeps): Route[] {
  return [
    open(
      'POST',
      '/api/v1/native/renew',
      {
        summary: 'Replace a rotated web push subscription, with the renewal capability of its last push',
        description:
          'No token: the `renew` capability of a web push payload stands in for it and names the user and the device it replaces. ' +
          'It is good once: after the replacement the device has another endpoint, which the capability does not match. ' +
          'The new endpoint must pass the egress policy, as in POST /api/v1/native/subscribe. Counted against the per-address limit of requests without a token.',
        tag: 'devices',
        body: renewalBody,
        answers: {
          200: answer('The subscription was already this one: the same id', deviceRegistered),
          201: answer('Replaced: the new device id (the old one is removed)', deviceRegistered),
          ...refusals({
            HERALD_INVALID_REQUEST: 'a field is invalid, or the endpoint is refused by the egress policy (errors[] names subscription.endpoint)',
            HERALD_UNAUTHORIZED: 'the capability is invalid, expired, tampered with, or its device is gone or was renewed already',
          }),
        },
      },
      async ({ body }) => {
        const input = validate(renewalBody, body);
        const grant = await deps.capabilities.verifyRenewal(input.capability);
        const device = grant ? await deps.stores.devices.get(grant.uid, grant.deviceId) : undefined;
        if (!grant || device?.kind !== 'web' || endpointHash(device.token) !== grant.endpointHash) {
          throw new ProblemError('HERALD_UNAUTHORIZED', 'renewal capability is invalid, expired, or no longer matches a subscription');
        }
        const { subscription } = input;
        if (subscription.endpoint === device.token) return json(200, { id: device.id });
        const check = await checkEndpoint(subscription.endpoint, deps.webPushEgress);
        if (!check.ok) throw invalid([{ path: 'subscription.endpoint', message: `${REFUSAL_MESSAGES[check.refusal]} (${check.refusal})` }]);
        if (!(await deps.capabilities.redeemRenewal(grant))) throw new ProblemError('HERALD_UNAUTHORIZED', 'renewal capability was used already');
        const replacement = {
          kind: 'web' as const,
          token: subscription.endpoint,
          keys: subscription.keys,
          expirationTime: subscription.expirationTime ?? null,
        };
        const { device: stored } = await deps.stores.devices.register(grant.uid, replacement, newId(), deps.now());
        await deps.stores.devices.remove(grant.uid, 'web', device.token);
        return json(201, { id: stored.id });
      },
      { body: true },
    ),
  ];
}
