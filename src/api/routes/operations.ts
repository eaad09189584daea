/**
 * Public operational endpoints: ping, health, metrics, the OpenAPI document, the VAPID key; and
 * the WS ticket. `/metrics` asks for `Authorization: Bearer <HERALD_METRICS_TOKEN>` when that is set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { openApiDocument } from '../openapi.js';
import { authed, json, open, type Route } from '../route.js';

export interface OperationOptions {
  /** Bearer token `/metrics` requires; unset leaves it open (bind it to a private interface then). */
  metricsToken?: string | undefined;
}

/** Compares digests, so neither the token's length nor a matching prefix shows in the timing. */
const sameSecret = (given: string, expected: string) =>
  timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

export function operationRoutes(deps: ApiDeps, options: OperationOptions = {}): Route[] {
  const openapi = JSON.stringify(openApiDocument());
  const checkMetricsToken = (authorization: string | undefined) => {
    if (!options.metricsToken) return;
    const given = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!given || !sameSecret(given, options.metricsToken)) {
      throw new ProblemError('HERALD_UNAUTHORIZED', '/metrics needs the metrics token (HERALD_METRICS_TOKEN) as a bearer token');
    }
  };
  return [
    open('GET', '/api/v1/ping', async () => json(200, { pong: true })),
    open(
      'GET',
      '/healthz',
      async () => {
        const checks = await deps.health();
        const ok = Object.values(checks).every((state) => state === 'ok' || state === 'disabled');
        return json(ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks }, ok ? {} : { 'retry-after': '5' });
      },
      { unlimited: true },
    ),
    open(
      'GET',
      '/metrics',
      async ({ headers }) => {
        checkMetricsToken(headers.authorization);
        return { status: 200, text: await deps.metrics.registry.metrics(), headers: { 'content-type': deps.metrics.registry.contentType } };
      },
      { unlimited: true },
    ),
    open('GET', '/openapi.json', async () => ({ status: 200, text: openapi, headers: { 'content-type': 'application/json' } })),
    open('GET', '/api/v1/webpush/vapid-public-key', async () => json(200, { key: deps.vapidPublicKey })),
    authed('POST', '/api/v1/ws/token', 'user', async ({ caller }) => {
      const limited = await deps.rateLimits?.ticket(caller);
      return json(200, await deps.tickets.issue(caller.uid), limited);
    }),
  ];
}
