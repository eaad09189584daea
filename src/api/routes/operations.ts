/**
 * Public operational endpoints: ping, health, metrics, the OpenAPI document, the VAPID key; and
 * the WS ticket. `/metrics` asks for `Authorization: Bearer <HERALD_METRICS_TOKEN>` when that is set.
 * GET /openapi.json is built from `operations()`, the routes actually mounted (src/api/openapi.ts),
 * once, on its first request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { type Operation, openApiDocument } from '../openapi.js';
import { health, openApiOutline, pong, vapidKey, wsTicket } from '../responses.js';
import { answer, authed, json, open, type Route, refusals } from '../route.js';

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': 'The limit closest to refusing, per its window (absent when no limit applies)',
  'RateLimit-Remaining': 'What is left of it',
  'RateLimit-Reset': 'Seconds until it resets',
};

export interface OperationOptions {
  /** Bearer token `/metrics` requires; unset leaves it open (bind it to a private interface then). */
  metricsToken?: string | undefined;
  /** Every operation the process serves (its mounted routes, and /ws when it is a gateway): what /openapi.json documents. */
  operations: () => readonly Operation[];
}

/** Compares digests, so neither the token's length nor a matching prefix shows in the timing. */
const sameSecret = (given: string, expected: string) =>
  timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

export function operationRoutes(deps: ApiDeps, options: OperationOptions): Route[] {
  let openapi: string | undefined;
  const checkMetricsToken = (authorization: string | undefined) => {
    if (!options.metricsToken) return;
    const given = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!given || !sameSecret(given, options.metricsToken)) {
      throw new ProblemError('HERALD_UNAUTHORIZED', '/metrics needs the metrics token (HERALD_METRICS_TOKEN) as a bearer token');
    }
  };
  return [
    open('GET', '/api/v1/ping', { summary: 'Liveness probe', tag: 'operations', answers: { 200: answer('Alive', pong) } }, async () =>
      json(200, { pong: true }),
    ),
    open(
      'GET',
      '/healthz',
      {
        summary: 'Health of the process and its dependencies',
        description:
          "Checks the store, the bus and the search index; lists each channel as ok or disabled, and this process's providers with their circuit, pause and queue per urgency. Not rate limited.",
        tag: 'operations',
        answers: {
          200: answer('Every dependency is ok (a disabled channel is fine)', health),
          503: {
            description: 'A dependency is not ok (status "unavailable"); with Retry-After: 5',
            body: health,
            headers: { 'Retry-After': 'Seconds to wait (5)' },
          },
        },
      },
      async () => {
        const checks = await deps.health();
        const ok = Object.values(checks).every((state) => state === 'ok' || state === 'disabled');
        const providers = deps.providers().map(({ pausedUntil, limit, ...p }) => ({
          ...p,
          ...(pausedUntil !== undefined ? { pausedUntil: new Date(pausedUntil).toISOString() } : {}),
          concurrency: limit,
        }));
        return json(ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks, providers }, ok ? {} : { 'retry-after': '5' });
      },
      { unlimited: true },
    ),
    open(
      'GET',
      '/metrics',
      {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition format. Open unless HERALD_METRICS_TOKEN is set, then that token is needed as a bearer token. Not rate limited.',
        tag: 'operations',
        bearer: 'HERALD_METRICS_TOKEN',
        answers: {
          200: { description: 'The metrics (text/plain; version=0.0.4)', mediaType: 'text/plain' },
          ...refusals({ HERALD_UNAUTHORIZED: 'HERALD_METRICS_TOKEN is set and the request does not carry it' }),
        },
      },
      async ({ headers }) => {
        checkMetricsToken(headers.authorization);
        return { status: 200, text: await deps.metrics.registry.metrics(), headers: { 'content-type': deps.metrics.registry.contentType } };
      },
      { unlimited: true },
    ),
    open(
      'GET',
      '/openapi.json',
      {
        summary: 'This document',
        description: 'Built from the routes the process mounts: a process without the api role documents only what it serves.',
        tag: 'operations',
        answers: { 200: { description: 'The OpenAPI 3.1 document', body: openApiOutline, mediaType: 'application/json' } },
      },
      async () => {
        openapi ??= JSON.stringify(openApiDocument(options.operations()));
        return { status: 200, text: openapi, headers: { 'content-type': 'application/json' } };
      },
    ),
    open(
      'GET',
      '/api/v1/webpush/vapid-public-key',
      { summary: 'The VAPID public key for web push subscriptions', tag: 'devices', answers: { 200: answer('The key', vapidKey) } },
      async () => json(200, { key: deps.vapidPublicKey }),
    ),
    authed(
      'POST',
      '/api/v1/ws/token',
      'user',
      {
        summary: 'A single-use ticket for GET /ws',
        description:
          'Browsers cannot set headers on a WebSocket: the ticket carries the caller into the upgrade. It is valid for HERALD_WS_TICKET_TTL seconds and for one connection, cluster-wide. Limited per user by HERALD_RATE_WS_TICKET.',
        tag: 'realtime',
        answers: {
          200: answer('The ticket', wsTicket, RATE_LIMIT_HEADERS),
          ...refusals({ HERALD_RATE_LIMITED: 'more tickets than HERALD_RATE_WS_TICKET allows this user' }),
        },
      },
      async ({ caller }) => {
        const limited = await deps.rateLimits?.ticket(caller);
        return json(200, await deps.tickets.issue(caller.uid), limited);
      },
    ),
  ];
}
