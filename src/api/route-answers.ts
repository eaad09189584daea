/**
 * Every status a mounted route can answer: the ones its handler declares (RouteDoc.answers) plus
 * the ones src/api/http-server.ts adds around every handler, which follow from the route's
 * `access` and `body`. The OpenAPI document and the response check both read this, so neither
 * can forget the plumbing's answers.
 */
import type { ProblemCode } from '../errors.js';
import type { Answer, Route } from './route.js';

const RETRY_AFTER = { 'Retry-After': 'Seconds to wait before retrying (at least 1)' };
const RATE_LIMIT_HEADERS = {
  ...RETRY_AFTER,
  'RateLimit-Limit': 'The limit that refused, per its window',
  'RateLimit-Remaining': 'What is left of it (0)',
  'RateLimit-Reset': 'Seconds until it resets',
};

interface PlumbingAnswer {
  status: number;
  code: ProblemCode;
  when: string;
  headers?: Record<string, string>;
}

/** What the HTTP server answers for `route` before (or instead of) its handler. */
export function plumbingAnswers(route: Pick<Route, 'access' | 'body' | 'unlimited' | 'path'>): PlumbingAnswer[] {
  const answers: PlumbingAnswer[] = [];
  const hasParams = route.path.split('/').some((part) => part.startsWith(':'));
  if (hasParams) answers.push({ status: 400, code: 'HERALD_INVALID_REQUEST', when: 'a path parameter is not valid percent-encoded UTF-8' });
  if (route.body === true) {
    answers.push(
      { status: 400, code: 'HERALD_INVALID_JSON', when: 'the body is not valid JSON' },
      { status: 400, code: 'HERALD_INVALID_REQUEST', when: 'the body nests deeper than 16 levels or uses the keys __proto__, constructor or prototype' },
      { status: 415, code: 'HERALD_UNSUPPORTED_MEDIA_TYPE', when: 'a body was sent without Content-Type application/json' },
    );
  }
  if (route.body) answers.push({ status: 413, code: 'HERALD_PAYLOAD_TOO_LARGE', when: 'the body is larger than HERALD_BODY_LIMIT' });
  if (route.access !== 'public') {
    answers.push({ status: 401, code: 'HERALD_UNAUTHORIZED', when: 'no bearer token, or one that is malformed, badly signed or expired' });
    if (route.access === 'admin') answers.push({ status: 403, code: 'HERALD_FORBIDDEN', when: 'the token is not an admin token' });
  }
  if (route.access !== 'public' || !route.unlimited) {
    answers.push({
      status: 429,
      code: 'HERALD_RATE_LIMITED',
      when: `too many requests without a valid token from this address (HERALD_RATE_UNAUTHENTICATED)`,
      headers: RATE_LIMIT_HEADERS,
    });
  }
  answers.push(
    { status: 500, code: 'HERALD_INTERNAL', when: 'a bug: quote the errorId' },
    { status: 503, code: 'HERALD_UNAVAILABLE', when: 'the server is shutting down, or a dependency is down', headers: RETRY_AFTER },
  );
  return answers;
}

/** The declared answers merged with the plumbing's, by status (problem codes and descriptions joined). */
export function answersOf(route: Route): Map<number, Answer> {
  const merged = new Map<number, Answer>();
  for (const [status, declared] of Object.entries(route.doc.answers)) merged.set(Number(status), { ...declared });
  for (const extra of plumbingAnswers(route)) {
    const current = merged.get(extra.status);
    if (!current) {
      merged.set(extra.status, { description: `${extra.code}: ${extra.when}`, codes: [extra.code], ...(extra.headers ? { headers: extra.headers } : {}) });
      continue;
    }
    const codes = current.codes ?? [];
    merged.set(extra.status, {
      ...current,
      description: `${current.description}; ${extra.code}: ${extra.when}`,
      codes: codes.includes(extra.code) ? codes : [...codes, extra.code],
      ...(extra.headers || current.headers ? { headers: { ...extra.headers, ...current.headers } } : {}),
    });
  }
  return new Map([...merged].sort(([a], [b]) => a - b));
}
