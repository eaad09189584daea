/** Public operational endpoints: ping, health, metrics, the OpenAPI document, the VAPID key; and the WS ticket. */
import type { ApiDeps } from '../deps.js';
import { openApiDocument } from '../openapi.js';
import { authed, json, open, type Route } from '../route.js';

export function operationRoutes(deps: ApiDeps): Route[] {
  const openapi = JSON.stringify(openApiDocument());
  return [
    open('GET', '/api/v1/ping', async () => json(200, { pong: true })),
    open('GET', '/healthz', async () => {
      const checks = await deps.health();
      const ok = Object.values(checks).every((state) => state === 'ok' || state === 'disabled');
      return json(ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks }, ok ? {} : { 'retry-after': '5' });
    }),
    open('GET', '/metrics', async () => ({
      status: 200,
      text: await deps.metrics.registry.metrics(),
      headers: { 'content-type': deps.metrics.registry.contentType },
    })),
    open('GET', '/openapi.json', async () => ({ status: 200, text: openapi, headers: { 'content-type': 'application/json' } })),
    open('GET', '/api/v1/webpush/vapid-public-key', async () => json(200, { key: deps.vapidPublicKey })),
    authed('POST', '/api/v1/ws/token', 'user', async ({ caller }) => json(200, await deps.tickets.issue(caller.uid))),
  ];
}
