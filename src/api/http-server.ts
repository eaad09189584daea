/**
 * REST plumbing on uWebSockets.js: turns uWS callbacks into `Route` calls.
 *
 * Per request it: reads everything it needs from the stack-allocated uWS request before any
 * await; watches for the client aborting (a response is never written to an aborted request,
 * and an aborted one leaves the in-flight count at once); decodes path parameters and checks
 * the content type (src/api/request-input.ts); enforces the body limit (413, from
 * Content-Length up front or while a chunked body streams); parses JSON (`body: 'raw'` routes
 * get the text as is); limits unauthenticated requests per client address; verifies the bearer
 * token and role; answers problem+json for every error with the request id; records metrics;
 * and counts requests in flight so shutdown can drain them.
 *
 * Nothing a client sends can throw out of a uWS callback (that would end the process): every
 * callback runs inside a guard that turns an exception into a logged 500 with an `errorId`.
 * Unknown paths are 404, known paths with another method are 405 with `Allow`. OPTIONS on a
 * known path is 204 with `Allow`, or a CORS preflight (src/cors.ts): 204 with the path's methods
 * for an allowed origin, 403 naming the `Origin` for another; every answer to an allowed origin
 * carries `Access-Control-Allow-Origin`, and with CORS on every answer `Vary: Origin`. (Methods the
 * uWS parser does not know, such as PROPFIND, are refused by uWS itself: it closes the
 * connection without a response, before any handler runs.)
 *
 * With `onResponseMismatch` set (tests only), every answer is checked against its route's
 * document (src/api/response-check.ts) before it is written; one that breaks it is reported and
 * answered as a 500 naming what is wrong instead.
 */

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { TokenRejectedError } from '../auth/errors.js';
import type { Caller, TokenVerifier } from '../auth/tokens.js';
import type { CorsPolicy } from '../cors.js';
import { ProblemError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { problemOf } from './problem.js';
import { decodeParams, parseJsonBody, parseQuery, requireJsonContentType } from './request-input.js';
import { checkResponse, type ResponseMismatch } from './response-check.js';
import { type Method, type Route, type RouteContext, type RouteResult, refusals } from './route.js';

export interface HttpServerOptions {
  routes: Route[];
  verifier: TokenVerifier;
  bodyLimit: number;
  log: Logger;
  metrics: Metrics;
  /** Called once per verified request, before the handler (users are created on first sight). */
  onCaller?: (caller: Caller) => Promise<void>;
  /**
   * Called for each request that carries no valid token (a public route, or a failed
   * authentication) with the client's address; throws a 429 ProblemError when over the limit.
   * Routes marked `unlimited` (health and metrics probes) are not counted.
   */
  limitUnauthenticated?: (ip: string) => Promise<void>;
  /** Take the client address from the last `X-Forwarded-For` entry (set by a trusted proxy). */
  trustProxy?: boolean;
  /** HERALD_CORS_ORIGINS (src/cors.ts); absent: no CORS. */
  cors?: CorsPolicy;
  /**
   * Tests only: check every answer against its route's document and report each one that breaks
   * it here (it is then answered as a 500 naming the mismatch). Unset: nothing is checked.
   */
  onResponseMismatch?: (mismatch: ResponseMismatch) => void;
}

export interface HttpServer {
  /** From now on, answer 503 (shutting down) to new requests. */
  stopAccepting(): void;
  /** Resolves when no request is in flight. */
  drained(): Promise<void>;
  /** The routes mounted (options.routes), in order. */
  routes: readonly Route[];
}

interface RequestState {
  aborted: boolean;
  answered: boolean;
  /** The client sent a body Herald did not read: the connection cannot carry another request. */
  unreadBody?: boolean;
  /** Headers every answer to this request carries (CORS). */
  corsHeaders?: Record<string, string>;
}

/** Headers of every API response: never sniffed as another type, never cached by a browser or proxy. */
const SECURITY_HEADERS: Record<string, string> = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
/** Status recorded for a request whose client went away before it was answered (nginx's convention). */
const CLIENT_CLOSED = 499;

const REQUEST_ID = /^[\w.:-]{1,64}$/;
const UWS_METHOD: Record<Method, 'get' | 'post' | 'put' | 'del'> = { GET: 'get', POST: 'post', PUT: 'put', DELETE: 'del' };

export function mountHttpRoutes(app: TemplatedApp, options: HttpServerOptions): HttpServer {
  const { log, metrics } = options;
  let accepting = true;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  /** Records the request as done (once): metrics, the in-flight count, the drain waiter. */
  const settle = (state: RequestState, route: string, method: string, started: bigint, status: number): boolean => {
    if (state.answered) return false;
    state.answered = true;
    inFlight -= 1;
    if (inFlight === 0) onIdle?.();
    metrics.httpRequests.inc({ method, route, status });
    metrics.httpDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    return true;
  };

  /** With checking on: the answer itself, or a 500 naming how it breaks the route's document. */
  const checked = (route: Route, result: RouteResult): RouteResult => {
    const report = options.onResponseMismatch;
    const mismatch = report && checkResponse(route, result);
    if (!mismatch) return result;
    log.error({ mismatch }, 'response breaks its document');
    report(mismatch);
    const detail = `response breaks its document: ${mismatch.method} ${mismatch.path} ${mismatch.status}: ${mismatch.problem}`;
    return { status: 500, body: problemOf(new ProblemError('HERALD_INTERNAL', detail)).body };
  };

  const finish = (res: HttpResponse, state: RequestState, route: Route, started: bigint, answered: RouteResult, requestId: string) => {
    if (!settle(state, route.path, route.method, started, answered.status) || state.aborted) return;
    const result = checked(route, answered);
    const isProblem = result.status >= 400 && isProblemBody(result.body);
    const payload = result.text ?? (result.body === undefined ? '' : JSON.stringify(result.body));
    const headers = { ...SECURITY_HEADERS, ...state.corsHeaders, ...result.headers };
    res.cork(() => {
      res.writeStatus(`${result.status} ${STATUS_CODES[result.status] ?? ''}`);
      res.writeHeader('x-request-id', requestId);
      if (result.body !== undefined && result.text === undefined) {
        res.writeHeader('content-type', isProblem ? 'application/problem+json' : 'application/json');
      }
      for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
      // A body we did not read (413, 415, a body sent to a route that takes none) leaves the
      // connection unusable: close it after answering.
      const close = state.unreadBody === true || result.status === 413 || result.status === 415;
      // A 204 or 304 has no body and so no Content-Length (RFC 9110 §8.6), which `end` would write.
      if (!close && (result.status === 204 || result.status === 304)) res.endWithoutBody();
      else res.end(payload, close);
    });
  };

  const fail = (error: unknown, requestLog: () => Logger): RouteResult => {
    const problem = problemOf(error);
    if (problem.internal) requestLog().error({ err: problem.internal, errorId: problem.body.errorId }, 'request failed');
    else if (problem.body.status >= 500) requestLog().warn({ code: problem.body.code, detail: problem.body.detail }, 'dependency unavailable');
    return { status: problem.body.status, body: problem.body, headers: problem.headers };
  };

  const handle = (route: Route) => {
    const paramNames = route.path
      .split('/')
      .filter((part) => part.startsWith(':'))
      .map((part) => part.slice(1));
    return (res: HttpResponse, req: HttpRequest) => {
      const started = process.hrtime.bigint();
      const state: RequestState = { aborted: false, answered: false };
      inFlight += 1;
      res.onAborted(() => {
        state.aborted = true;
        settle(state, route.path, route.method, started, CLIENT_CLOSED);
      });
      let requestId = '';
      try {
        // The uWS request lives only until this callback returns: read everything from it now.
        const headers: Record<string, string> = {};
        req.forEach((name, value) => {
          headers[name] = value;
        });
        const rawParams = paramNames.map((_, index) => req.getParameter(index) ?? '');
        const rawQuery = req.getQuery() ?? '';
        const ip = clientIp(res, headers, options.trustProxy === true);
        const incomingId = headers['x-request-id'];
        if (options.cors?.enabled) state.corsHeaders = options.cors.responseHeaders(headers.origin);
        requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
        serve(res, route, state, started, { headers, paramNames, rawParams, rawQuery, ip, requestId });
      } catch (error) {
        guardFailed(error, requestId, (result) => finish(res, state, route, started, result, requestId || randomUUID()));
      }
    };
  };

  /** Logs an exception that escaped the request's own error handling, then answers it as problem+json (a 500 with its `errorId`). */
  const guardFailed = (error: unknown, requestId: string, answer: (result: RouteResult) => void) => {
    const problem = problemOf(error);
    log.fatal({ err: error, reqId: requestId, errorId: problem.body.errorId }, 'request handling failed');
    try {
      answer({ status: problem.body.status, body: problem.body, headers: problem.headers });
    } catch (answerError) {
      log.fatal({ err: answerError, errorId: problem.body.errorId }, 'could not answer a failed request');
    }
  };

  interface RawRequest {
    headers: Record<string, string>;
    paramNames: string[];
    rawParams: string[];
    rawQuery: string;
    ip: string;
    requestId: string;
  }

  const serve = (res: HttpResponse, route: Route, state: RequestState, started: bigint, raw: RawRequest) => {
    const { headers, requestId } = raw;
    let child: Logger | undefined;
    const requestLog = () => (child ??= log.child({ reqId: requestId, route: route.path }));
    const answer = (result: RouteResult) => finish(res, state, route, started, result, requestId);

    if (!accepting) {
      answer(fail(new ProblemError('HERALD_UNAVAILABLE', 'server is shutting down', { retryAfterSeconds: 1 }), requestLog));
      return;
    }

    const run = async (body: unknown) => {
      try {
        const caller =
          route.access === 'public' || (route.anonymous && headers.authorization === undefined)
            ? await admitPublic(route, raw.ip)
            : await authenticate(headers.authorization, route.access, raw.ip);
        const params = decodeParams(raw.paramNames, raw.rawParams);
        if (caller && options.onCaller) await options.onCaller(caller);
        const context: RouteContext<Caller | undefined> = {
          params,
          query: parseQuery(raw.rawQuery),
          headers,
          body,
          caller,
          requestId,
          get log() {
            return requestLog();
          },
        };
        answer(await route.handle(context));
      } catch (error) {
        answer(fail(error, requestLog));
      }
    };
    const runSafely = (body: unknown) => run(body).catch((error: unknown) => guardFailed(error, requestId, answer));

    const declared = Number(headers['content-length'] ?? '0');
    if (!route.body) {
      state.unreadBody = declared > 0 || headers['transfer-encoding'] !== undefined;
      void runSafely(undefined);
      return;
    }
    try {
      if (route.body === true) requireJsonContentType(headers['content-type'], declared > 0 || headers['transfer-encoding'] !== undefined);
    } catch (error) {
      answer(fail(error, requestLog));
      return;
    }
    if (declared > options.bodyLimit) {
      answer(fail(tooLarge(options.bodyLimit), requestLog));
      return;
    }
    readBody(
      res,
      options.bodyLimit,
      state,
      (outcome) => {
        if (outcome.type === 'too-large') return answer(fail(tooLarge(options.bodyLimit), requestLog));
        let parsed: unknown;
        try {
          parsed = route.body === 'raw' ? outcome.body.toString('utf8') : parseJsonBody(outcome.body);
        } catch (error) {
          return answer(fail(error, requestLog));
        }
        void runSafely(parsed);
      },
      (error) => guardFailed(error, requestId, answer),
    );
  };

  /** Public routes count against the per-address limit of unauthenticated requests. */
  async function admitPublic(route: Route, ip: string): Promise<undefined> {
    if (!route.unlimited) await options.limitUnauthenticated?.(ip);
    return undefined;
  }

  async function authenticate(authorization: string | undefined, access: 'user' | 'admin', ip: string): Promise<Caller> {
    let caller: Caller;
    try {
      const match = authorization?.match(/^Bearer\s+(\S+)$/i);
      if (!match?.[1]) throw new TokenRejectedError('missing bearer token in Authorization header');
      caller = await options.verifier.verify(match[1]);
    } catch (error) {
      // A request without a valid token counts as unauthenticated: past the limit, 429 wins over 401.
      if (error instanceof TokenRejectedError) await options.limitUnauthenticated?.(ip);
      throw error;
    }
    if (access === 'admin' && !caller.admin) throw new ProblemError('HERALD_FORBIDDEN', 'this endpoint needs an admin token');
    return caller;
  }

  const methodsByPath = new Map<string, Method[]>();
  for (const route of options.routes) {
    app[UWS_METHOD[route.method]](route.path, handle(route));
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
  }
  const statusOnly = (route: Route) => handle(route);
  for (const [path, methods] of methodsByPath) {
    app.options(path, statusOnly(optionsRoute(path, methods, options.cors)));
    app.any(
      path,
      statusOnly({
        method: 'GET',
        path,
        access: 'public',
        doc: {
          summary: 'Another method on a known path',
          tag: 'operations',
          answers: refusals({ HERALD_METHOD_NOT_ALLOWED: 'the path exists with the methods in Allow' }),
        },
        handle: async () => {
          throw new ProblemError('HERALD_METHOD_NOT_ALLOWED', `allowed methods: ${methods.join(', ')}`, { allow: [...methods, 'OPTIONS'] });
        },
      }),
    );
  }
  app.any(
    '/*',
    statusOnly({
      method: 'GET',
      path: '/*',
      access: 'public',
      doc: { summary: 'An unknown path', tag: 'operations', answers: refusals({ HERALD_NOT_FOUND: 'no such endpoint' }) },
      handle: async () => {
        throw new ProblemError('HERALD_NOT_FOUND', 'no such endpoint');
      },
    }),
  );

  return {
    routes: [...options.routes],
    stopAccepting() {
      accepting = false;
    },
    drained() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onIdle = resolve;
      });
    },
  };
}

/**
 * OPTIONS on a known path: a CORS preflight when it carries `Origin` and
 * `Access-Control-Request-Method` (src/cors.ts), else the path's methods in `Allow`.
 */
function optionsRoute(path: string, methods: readonly Method[], cors: CorsPolicy | undefined): Route {
  const allow = [...methods, 'OPTIONS'].join(', ');
  return {
    method: 'GET',
    path,
    access: 'public',
    doc: {
      summary: 'OPTIONS: the methods of a path, or a CORS preflight',
      tag: 'operations',
      answers: {
        204: { description: 'The methods in Allow; for a preflight from an allowed origin, the Access-Control-Allow-* headers' },
        ...refusals({
          HERALD_FORBIDDEN: 'a preflight from an origin HERALD_CORS_ORIGINS does not list',
          HERALD_METHOD_NOT_ALLOWED: 'a preflight for a method the path does not serve',
        }),
      },
    },
    handle: async ({ headers }) => {
      const origin = headers.origin;
      const requested = headers['access-control-request-method'];
      if (origin === undefined || requested === undefined) return { status: 204, headers: { allow } };
      if (!cors?.allows(origin)) {
        throw new ProblemError('HERALD_FORBIDDEN', `Origin ${JSON.stringify(origin.slice(0, 200))} may not call this API (HERALD_CORS_ORIGINS)`);
      }
      if (!(methods as readonly string[]).includes(requested)) {
        throw new ProblemError('HERALD_METHOD_NOT_ALLOWED', `Access-Control-Request-Method: allowed methods: ${methods.join(', ')}`, { allow: [...methods] });
      }
      return { status: 204, headers: { allow, ...cors.preflightHeaders(origin, methods) } };
    },
  };
}

const tooLarge = (limit: number) => new ProblemError('HERALD_PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`);

type BodyOutcome = { type: 'body'; body: Buffer } | { type: 'too-large' };

/**
 * Collects the body (chunked or not); stops at `limit` bytes. uWS reuses each chunk's memory, so
 * it is copied. `onError` receives anything `done` throws, so nothing escapes into uWS.
 */
function readBody(res: HttpResponse, limit: number, state: RequestState, done: (outcome: BodyOutcome) => void, onError: (error: unknown) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    try {
      if (over || state.aborted) return;
      size += chunk.byteLength;
      if (size > limit) {
        over = true;
        done({ type: 'too-large' });
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) done({ type: 'body', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
    } catch (error) {
      onError(error);
    }
  });
}

/**
 * The client's address: the peer of the TCP connection, or behind a trusted proxy the last
 * `X-Forwarded-For` entry (the one that proxy added; earlier entries are the client's to forge).
 */
function clientIp(res: HttpResponse, headers: Record<string, string>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = headers['x-forwarded-for']?.split(',').pop()?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  return Buffer.from(res.getRemoteAddressAsText()).toString('utf8');
}

/** An RFC 9457 body (src/problem.ts): sent as application/problem+json; any other JSON body as application/json. */
const isProblemBody = (body: unknown): boolean =>
  typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string' && typeof (body as { code?: unknown }).code === 'string';
