/**
 * What a REST route is: plain async functions over parsed input, free of uWebSockets.js, so
 * each route file reads as the contract it implements. src/api/http-server.ts does the plumbing.
 *
 * Every route carries its document (RouteDoc): summary, request schemas and the answers it gives
 * per status. src/api/openapi.ts builds GET /openapi.json from the mounted routes alone, and
 * with response checking on (tests) every answer is checked against it (src/api/response-check.ts).
 * The answers the plumbing adds (401, 413, 429, 503, ...) are not declared here: they follow
 * from `access` and `body` (src/api/route-answers.ts).
 */
import type { z } from 'zod';
import type { Caller } from '../auth/tokens.js';
import { PROBLEM_CODES, type ProblemCode } from '../errors.js';
import type { Logger } from '../observability/log.js';

/** Who may call a route: anyone, any valid token, or an admin token. */
export type Access = 'public' | 'user' | 'admin';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Groups of operations in the document (and sections of docs/api.md). */
export type Tag = 'sending' | 'devices' | 'users' | 'threads' | 'inbox' | 'realtime' | 'operations' | 'webhooks' | 'pages';

/**
 * One status a route answers. `body`: the schema of a JSON body (or, with `mediaType`, of a text
 * body that is JSON); `codes`: the problem+json codes answered with this status. A status may
 * have both (GET /healthz answers 503 with its checks, or a problem while shutting down).
 * Neither: the answer has no body (204), or a body of `mediaType` the document does not model.
 */
export interface Answer {
  description: string;
  body?: z.ZodType;
  codes?: readonly ProblemCode[];
  /** The content type of a body given as text (e.g. Prometheus metrics); JSON otherwise. */
  mediaType?: string;
  /** Response headers worth documenting: name → what it says. */
  headers?: Readonly<Record<string, string>>;
}

export type Answers = Readonly<Record<number, Answer>>;

export interface RouteDoc {
  summary: string;
  /** Semantics the schemas do not say (who sees what, ordering, limits, settings). */
  description?: string;
  tag: Tag;
  /** Path parameters (named as in the path, e.g. `uid` for `:uid`): the schema the handler validates each with. */
  params?: Readonly<Record<string, z.ZodType>>;
  /** Query parameters: the schema the handler validates them with (validate.ts queryObject). */
  query?: z.ZodObject;
  /** The JSON body: the schema the handler validates it with. */
  body?: z.ZodType;
  /** A body the handler reads as text (`body: 'raw'` routes): its media type and what it holds. */
  rawBody?: { mediaType: string; description: string };
  /** Request headers the route reads besides Authorization. */
  headers?: Readonly<Record<string, { description: string; required?: boolean }>>;
  /** Bearer token other than a Herald JWT (e.g. the metrics token); documented, checked by the handler. */
  bearer?: string;
  /** A 'user' route that also runs without Authorization (Route.anonymous): what the body carries instead of a token. */
  capability?: string;
  /** Every status the handler itself answers (success and refusals). */
  answers: Answers;
}

export interface RouteContext<C extends Caller | undefined = Caller> {
  params: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string>;
  /** Parsed JSON body, or the body as UTF-8 text for `body: 'raw'` routes; undefined when a JSON request had none. */
  body: unknown;
  caller: C;
  requestId: string;
  log: Logger;
}

export interface RouteResult {
  status: number;
  /** Serialised as JSON unless `text` is given. */
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  /** uWebSockets.js pattern, e.g. `/api/v1/messages/:id`. */
  path: string;
  access: Access;
  /**
   * Reads the body: `true` parses it as JSON; `'raw'` hands it to the handler unparsed, as UTF-8
   * text (form posts and signed provider callbacks, e.g. Twilio's, which sign the exact fields).
   */
  body?: boolean | 'raw';
  /** Public routes only: not counted against the per-address limit (health and metrics probes). */
  unlimited?: boolean;
  /**
   * A 'user' route that a request without Authorization also reaches, without a caller (counted
   * against the per-address limit like a public route): its handler authenticates by other means
   * (a capability in the body, doc.capability). With Authorization the token is checked as usual.
   */
  anonymous?: boolean;
  doc: RouteDoc;
  handle(context: RouteContext<Caller | undefined>): Promise<RouteResult>;
}

/** Declares a route whose handler receives a verified caller. */
export function authed(
  method: Method,
  path: string,
  access: 'user' | 'admin',
  doc: RouteDoc,
  handle: (context: RouteContext<Caller>) => Promise<RouteResult>,
  options: { body?: Route['body'] } = {},
): Route {
  return { method, path, access, body: options.body ?? false, doc, handle: handle as Route['handle'] };
}

/** Declares a 'user' route that runs without a token too (Route.anonymous): the handler gets a caller only when the request had one. */
export function authedOrAnonymous(
  method: Method,
  path: string,
  doc: RouteDoc & { capability: string },
  handle: (context: RouteContext<Caller | undefined>) => Promise<RouteResult>,
  options: { body?: Route['body'] } = {},
): Route {
  return { method, path, access: 'user', anonymous: true, body: options.body ?? false, doc, handle };
}

export function open(
  method: Method,
  path: string,
  doc: RouteDoc,
  handle: (context: RouteContext<undefined>) => Promise<RouteResult>,
  options: { body?: Route['body']; unlimited?: boolean } = {},
): Route {
  return { method, path, access: 'public', body: options.body ?? false, unlimited: options.unlimited ?? false, doc, handle: handle as Route['handle'] };
}

export const json = (status: number, body?: unknown, headers?: Record<string, string>): RouteResult => ({ status, body, headers });

/** A success answer with a JSON body of `body`'s schema (or none). */
export const answer = (description: string, body?: z.ZodType, headers?: Answer['headers']): Answer => ({
  description,
  ...(body ? { body } : {}),
  ...(headers ? { headers } : {}),
});

/**
 * Refusals a handler answers, as problem+json: code → when. Grouped by the codes' statuses
 * (PROBLEM_CODES), so `{ ...refusals({ HERALD_FORBIDDEN: '...', HERALD_NOT_FOUND: '...' }) }`
 * spreads into `answers`.
 */
export function refusals(when: Partial<Record<ProblemCode, string>>): Record<number, Answer> {
  const answers: Record<number, { description: string; codes: ProblemCode[] }> = {};
  for (const [code, text] of Object.entries(when) as Array<[ProblemCode, string]>) {
    const status = PROBLEM_CODES[code].status;
    const existing = answers[status];
    if (existing) {
      existing.codes.push(code);
      existing.description += `; ${code}: ${text}`;
    } else answers[status] = { description: `${code}: ${text}`, codes: [code] };
  }
  return answers;
}
