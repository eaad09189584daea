/**
 * REST plumbing on uWebSockets.js: turns uWS callbacks into `Route` calls.
 *
 * Per request it: reads everything it needs from the stack-allocated uWS request before any
 * await; watches for the client aborting (a response is never written to an aborted request);
 * enforces the body limit (413, from Content-Length up front or while a chunked body streams);
 * parses JSON (`body: 'raw'` routes get the text as is); verifies the bearer token and role;
 * answers problem+json for every error with the request id; records metrics; and counts
 * requests in flight so shutdown can drain them.
 * Unknown paths are 404, known paths with another method are 405 with `Allow`.
 */

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Caller, TokenVerifier } from '../auth/tokens.js';
import { ProblemError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { problemOf } from './problem.js';
import type { Method, Route, RouteContext, RouteResult } from './route.js';

export interface HttpServerOptions {
  routes: Route[];
  verifier: TokenVerifier;
  bodyLimit: number;
  log: Logger;
  metrics: Metrics;
  /** Called once per verified request, before the handler (users are created on first sight). */
  onCaller?: (caller: Caller) => Promise<void>;
}

export interface HttpServer {
  /** From now on, answer 503 (shutting down) to new requests. */
  stopAccepting(): void;
  /** Resolves when no request is in flight. */
  drained(): Promise<void>;
}

interface RequestState {
  aborted: boolean;
  answered: boolean;
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;
const UWS_METHOD: Record<Method, 'get' | 'post' | 'put' | 'del'> = { GET: 'get', POST: 'post', PUT: 'put', DELETE: 'del' };

export function mountHttpRoutes(app: TemplatedApp, options: HttpServerOptions): HttpServer {
  const { log, metrics } = options;
  let accepting = true;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const finish = (res: HttpResponse, state: RequestState, route: string, method: string, started: bigint, result: RouteResult, requestId: string) => {
    if (state.answered) return;
    state.answered = true;
    inFlight -= 1;
    if (inFlight === 0) onIdle?.();
    metrics.httpRequests.inc({ method, route, status: result.status });
    metrics.httpDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    if (state.aborted) return;
    const isProblem = result.status >= 400;
    const payload = result.text ?? (result.body === undefined ? '' : JSON.stringify(result.body));
    res.cork(() => {
      res.writeStatus(`${result.status} ${STATUS_CODES[result.status] ?? ''}`);
      res.writeHeader('x-request-id', requestId);
      if (result.body !== undefined && result.text === undefined) {
        res.writeHeader('content-type', isProblem ? 'application/problem+json' : 'application/json');
      }
      for (const [name, value] of Object.entries(result.headers ?? {})) res.writeHeader(name, value);
      // A body we did not read (413) leaves the connection unusable: close it after answering.
      res.end(payload, result.status === 413);
    });
  };

  const fail = (error: unknown, requestLog: () => Logger): RouteResult => {
    const problem = problemOf(error);
    if (problem.internal) requestLog().error({ err: problem.internal, errorId: problem.body.errorId }, 'request failed');
    else if (problem.body.status >= 500) requestLog().warn({ code: problem.body.code, detail: problem.body.detail }, 'dependency unavailable');
    return { status: problem.body.status, body: problem.body, headers: problem.headers };
  };

  const handle = (route: Route) => (res: HttpResponse, req: HttpRequest) => {
    const started = process.hrtime.bigint();
    const state: RequestState = { aborted: false, answered: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    inFlight += 1;

    const headers: Record<string, string> = {};
    req.forEach((name, value) => {
      headers[name] = value;
    });
    const params: Record<string, string> = {};
    route.path
      .split('/')
      .filter((part) => part.startsWith(':'))
      .forEach((part, index) => {
        params[part.slice(1)] = decodeURIComponent(req.getParameter(index));
      });
    const query = new URLSearchParams(req.getQuery() ?? '');
    const incomingId = headers['x-request-id'];
    const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    let child: Logger | undefined;
    const requestLog = () => (child ??= log.child({ reqId: requestId, route: route.path }));
    const answer = (result: RouteResult) => finish(res, state, route.path, route.method, started, result, requestId);

    if (!accepting) {
      answer(fail(new ProblemError('HERALD_UNAVAILABLE', 'server is shutting down', { retryAfterSeconds: 1 }), requestLog));
      return;
    }

    const run = async (body: unknown) => {
      try {
        const caller = route.access === 'public' ? undefined : await authenticate(headers.authorization, route.access);
        if (caller && options.onCaller) await options.onCaller(caller);
        const context: RouteContext<Caller | undefined> = {
          params,
          query,
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
    const runSafely = (body: unknown) =>
      run(body).catch((error: unknown) => {
        // Only reached if answering the error itself failed: never let it take the process down.
        log.fatal({ err: error, reqId: requestId }, 'error handling failed');
        answer({ status: 500, text: '' });
      });

    if (!route.body) {
      void runSafely(undefined);
      return;
    }
    const declared = Number(headers['content-length'] ?? '0');
    if (declared > options.bodyLimit) {
      answer(fail(tooLarge(options.bodyLimit), requestLog));
      return;
    }
    readBody(res, options.bodyLimit, state, (outcome) => {
      if (outcome.type === 'too-large') answer(fail(tooLarge(options.bodyLimit), requestLog));
      else {
        const parsed = route.body === 'raw' ? ({ ok: true, value: outcome.body.toString('utf8') } as const) : parseJson(outcome.body);
        if (parsed.ok) void runSafely(parsed.value);
        else answer(fail(parsed.error, requestLog));
      }
    });
  };

  async function authenticate(authorization: string | undefined, access: 'user' | 'admin'): Promise<Caller> {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw new ProblemError('HERALD_UNAUTHORIZED', 'missing bearer token in Authorization header');
    const caller = await options.verifier.verify(match[1]);
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
    app.any(
      path,
      statusOnly({
        method: 'GET',
        path,
        access: 'public',
        handle: async () => {
          throw new ProblemError('HERALD_METHOD_NOT_ALLOWED', `allowed methods: ${methods.join(', ')}`, { allow: methods });
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
      handle: async () => {
        throw new ProblemError('HERALD_NOT_FOUND', 'no such endpoint');
      },
    }),
  );

  return {
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

const tooLarge = (limit: number) => new ProblemError('HERALD_PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`);

type BodyOutcome = { type: 'body'; body: Buffer } | { type: 'too-large' };

/** Collects the body (chunked or not); stops at `limit` bytes. uWS reuses each chunk's memory, so it is copied. */
function readBody(res: HttpResponse, limit: number, state: RequestState, done: (outcome: BodyOutcome) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over || state.aborted) return;
    size += chunk.byteLength;
    if (size > limit) {
      over = true;
      done({ type: 'too-large' });
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) done({ type: 'body', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
  });
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false; error: ProblemError } {
  if (body.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: new ProblemError('HERALD_INVALID_JSON', `body is not valid JSON: ${(error as Error).message}`) };
  }
}
