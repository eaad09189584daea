/**
 * What a REST route is: plain async functions over parsed input, free of uWebSockets.js, so
 * each route file reads as the contract it implements. src/api/http-server.ts does the plumbing.
 */
import type { Caller } from '../auth/tokens.js';
import type { Logger } from '../observability/log.js';

/** Who may call a route: anyone, any valid token, or an admin token. */
export type Access = 'public' | 'user' | 'admin';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

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
  handle(context: RouteContext<Caller | undefined>): Promise<RouteResult>;
}

/** Declares a route whose handler receives a verified caller. */
export function authed(
  method: Method,
  path: string,
  access: 'user' | 'admin',
  handle: (context: RouteContext<Caller>) => Promise<RouteResult>,
  options: { body?: Route['body'] } = {},
): Route {
  return { method, path, access, body: options.body ?? false, handle: handle as Route['handle'] };
}

export function open(
  method: Method,
  path: string,
  handle: (context: RouteContext<undefined>) => Promise<RouteResult>,
  options: { body?: Route['body']; unlimited?: boolean } = {},
): Route {
  return { method, path, access: 'public', body: options.body ?? false, unlimited: options.unlimited ?? false, handle: handle as Route['handle'] };
}

export const json = (status: number, body?: unknown, headers?: Record<string, string>): RouteResult => ({ status, body, headers });
