/**
 * Cross-origin access (HERALD_CORS_ORIGINS): which web origins may call the API from a browser
 * and open the realtime socket. Pure: the HTTP server (src/api/http-server.ts) and the gateway
 * (src/gateway/gateway.ts) ask it about each request's `Origin`.
 *
 *  - Unset (the default): no CORS headers at all, so browsers keep pages of other origins out;
 *    the socket does not check `Origin`.
 *  - A list of origins (`https://app.example,http://localhost:3000`): a request whose `Origin` is
 *    one of them gets `Access-Control-Allow-Origin: <that origin>`; a socket upgrade whose
 *    `Origin` is not one of them is refused (403). A request without `Origin` (not a browser, or
 *    same-origin) is served as before.
 *  - `*`: every origin; responses carry `Access-Control-Allow-Origin: *`. Herald authenticates
 *    with bearer tokens, never cookies, so no credentials mode is involved.
 *
 * Responses to a cross-origin request always carry `Vary: Origin` when CORS is on, so a cache
 * never hands one origin's answer to another. Preflights are answered 204 with the path's
 * methods, the request headers the API reads (Authorization, Content-Type, Idempotency-Key,
 * X-Request-Id) and a max age of 10 minutes.
 */

export interface CorsPolicy {
  /** True when CORS is configured at all. */
  readonly enabled: boolean;
  /** Whether a browser page of `origin` may call the API and open the socket. */
  allows(origin: string | undefined): boolean;
  /** Headers to add to the answer of a request carrying `origin` (none when CORS is off or the origin is not allowed, except Vary). */
  responseHeaders(origin: string | undefined): Record<string, string>;
  /** Headers of a successful preflight for `origin` on a path serving `methods`. */
  preflightHeaders(origin: string, methods: readonly string[]): Record<string, string>;
}

/** Request headers a browser may send to the API. */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'x-request-id'] as const;
/** Response headers a page may read besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, x-request-id, location';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** An origin as browsers send it: scheme, host, optional port; nothing else. */
const ORIGIN = /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/;

/** Parses HERALD_CORS_ORIGINS' list (already split); throws naming the first entry that is not an origin. */
export function parseCorsOrigins(entries: readonly string[]): readonly string[] {
  if (entries.length === 1 && entries[0] === '*') return ['*'];
  return entries.map((entry) => {
    const origin = entry.toLowerCase();
    if (entry === '*') throw new Error('"*" must be the only entry');
    if (!ORIGIN.test(origin)) throw new Error(`"${entry}" is not an origin (scheme://host[:port], no path)`);
    return origin;
  });
}

export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const any = origins.includes('*');
  const listed = new Set(origins);
  const enabled = origins.length > 0;
  const allows = (origin: string | undefined): boolean => origin !== undefined && enabled && (any || listed.has(origin.toLowerCase()));
  return {
    enabled,
    allows,
    responseHeaders(origin): Record<string, string> {
      if (!enabled) return {};
      if (!allows(origin)) return { vary: 'Origin' };
      return { 'access-control-allow-origin': any ? '*' : (origin as string), 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'Origin' };
    },
    preflightHeaders(origin, methods) {
      return {
        ...this.responseHeaders(origin),
        'access-control-allow-methods': methods.join(', '),
        'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
        'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
      };
    },
  };
}
