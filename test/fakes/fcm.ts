/**
 * A loopback FCM for tests and benchmarks: one TLS server (node:http2 with HTTP/1.1 allowed, the
 * shared test certificate, which names fcm.googleapis.com and oauth2.googleapis.com) on an
 * ephemeral port of 127.0.0.1, playing both Google hosts the FCM channel talks to:
 *  - `POST /token`: the OAuth2 JWT-bearer grant. The RS256 assertion is verified with the public
 *    key of a trusted service account (iss = client_email, aud = the token URI, scope includes
 *    firebase.messaging); answers `{access_token, expires_in, token_type}`, or 400 invalid_grant.
 *  - `POST /v1/projects/<project>/messages:send`: checks `Authorization: Bearer <issued token>`
 *    (else 401 UNAUTHENTICATED, counted in `unauthorized`), records the request, and answers
 *    `{name}`, or what was scripted for the token with `answer()`, in Google's error shape
 *    (`error.details[].errorCode` of type FcmError, `Retry-After` when scripted), or never (a
 *    scripted stall).
 * Either path works over HTTP/2 or HTTP/1.1 (ALPN decides). For the transport's behaviour:
 *  - `sessions` counts the HTTP/2 sessions opened (TLS connections that chose h2), each
 *    request records the session it came on, and `maxInFlight` the most send requests open at
 *    once;
 *  - `goawayAfter(n)`: every HTTP/2 session sends GOAWAY (NO_ERROR, last stream id = its n-th
 *    send request) after its n-th send request, answers the requests up to it, and refuses the
 *    later ones (REFUSED_STREAM) without recording them — what a server going away promises;
 *  - `stallSessions(pred)`: an HTTP/2 session whose number (1-based) `pred` accepts completes
 *    TLS and then never answers anything, not even SETTINGS or PING (counted in `stalled`;
 *    ./h2-stall.ts);
 *  - `stallStreams(pred)`: a send request whose number (1-based, over all sessions) `pred`
 *    accepts is read and never answered; its session stays healthy;
 *  - `revokeTokens()`: every access token issued so far is refused from now on (401).
 * `writeServiceAccount()` makes a service-account JSON file with a fresh RSA key.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { decodeJwt, type JWTPayload, jwtVerify } from 'jose';
import { tempDir } from '../helpers/temp-dir.js';
import { stallableSessions } from './h2-stall.js';
import { testCertificate } from './tls.js';

export const TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

export interface ServiceAccountFile {
  path: string;
  projectId: string;
  clientEmail: string;
  publicKey: KeyObject;
}

/** Writes a service-account JSON (as the Firebase console gives it) with a new RSA key; `dir` defaults to a temp folder. */
export function writeServiceAccount(options: { projectId?: string; dir?: string } = {}): ServiceAccountFile {
  const projectId = options.projectId ?? `herald-test-${randomUUID().slice(0, 8)}`;
  const clientEmail = `firebase-adminsdk@${projectId}.iam.gserviceaccount.com`;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = options.dir ?? tempDir('herald-fcm-sa');
  const file = path.join(dir, 'service-account.json');
  const json = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomUUID().replaceAll('-', ''),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: '100000000000000000000',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: TOKEN_URI,
  };
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  return { path: file, projectId, clientEmail, publicKey };
}

/** One scripted answer: an HTTP status and, for FCM errors, the FcmError code (UNREGISTERED, QUOTA_EXCEEDED…); or a stall. */
export interface FcmAnswer {
  status: number;
  errorCode?: string;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
  /** Sent as the body as is (text/html), instead of Google's JSON error. */
  rawBody?: string;
  /** Read the request, record it, and never answer (`status` is ignored). */
  stall?: boolean;
}

export interface FcmRequest {
  project: string;
  token: string;
  /** The `message` of the request body, as sent on the wire. */
  message: Record<string, any>;
  status: number;
  /** The HTTP/2 session (1-based) it came on; 0 over HTTP/1.1. */
  session: number;
  /** The request's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

export interface FcmFake {
  /** `127.0.0.1:<port>`, for HERALD_FCM_HOST / the channel's `host`. */
  host: string;
  port: number;
  /** Every authorised send request, answered or not. */
  requests: FcmRequest[];
  /** Sends answered 200. */
  received: FcmRequest[];
  /** Verified claims of every accepted token request. */
  assertions: JWTPayload[];
  /** Token requests, accepted or not. */
  readonly tokenCalls: number;
  /** Send requests refused 401 for their bearer token (not in `requests`). */
  readonly unauthorized: number;
  /** HTTP/2 sessions opened so far, stalled ones included. */
  readonly sessions: number;
  /** HTTP/2 sessions stalled by `stallSessions`. */
  readonly stalled: number;
  /** Send requests refused after a GOAWAY (not in `requests`). */
  readonly refused: number;
  /** The most send requests open at once so far. */
  readonly maxInFlight: number;
  /** Lets this service account get tokens. */
  trust(account: ServiceAccountFile): void;
  /** The next sends to `token` get these answers, in order; then it is accepted again. */
  answer(token: string, answers: FcmAnswer[]): void;
  /** Every HTTP/2 session goes away after its `n`-th send request (undefined: never). */
  goawayAfter(n: number | undefined): void;
  /** HTTP/2 sessions whose number `pred` accepts stall (undefined: none). */
  stallSessions(pred: ((n: number) => boolean) | undefined): void;
  /** Send requests whose number `pred` accepts are never answered (undefined: none). */
  stallStreams(pred: ((n: number) => boolean) | undefined): void;
  /** Refuses every access token issued so far. */
  revokeTokens(): void;
  /** Resolves once `count` sends were accepted in total; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<FcmRequest[]>;
  close(): Promise<void>;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

const googleError = (status: number, message: string, errorCode?: string) => ({
  error: {
    code: status,
    message,
    status: STATUS_NAMES[status] ?? 'UNKNOWN',
    ...(errorCode ? { details: [{ '@type': FCM_ERROR_TYPE, errorCode }] } : {}),
  },
});

type Req = IncomingMessage | http2.Http2ServerRequest;
type Res = ServerResponse | http2.Http2ServerResponse;

const readBody = (req: Req): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

type Reply = { status: number; body: unknown; headers?: Record<string, string> } | { stall: true };

export async function startFcmFake(options: { accounts?: ServiceAccountFile[] } = {}): Promise<FcmFake> {
  const { key, cert } = testCertificate();
  const accounts = new Map<string, ServiceAccountFile>();
  const issued = new Set<string>();
  const scripts = new Map<string, FcmAnswer[]>();
  const requests: FcmRequest[] = [];
  const received: FcmRequest[] = [];
  const assertions: JWTPayload[] = [];
  let tokenCalls = 0;
  let unauthorized = 0;
  let refused = 0;
  let sendNumber = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let goawayAt: number | undefined;
  let stallStream: ((n: number) => boolean) | undefined;
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  const sockets = new Set<Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  const sessionNumber = new WeakMap<http2.ServerHttp2Session, { n: number; sends: number; gone: boolean }>();
  for (const account of options.accounts ?? []) accounts.set(account.clientEmail, account);

  const send = (res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/html; charset=UTF-8' : 'application/json; charset=UTF-8';
    res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };

  const token = async (body: string): Promise<[number, unknown]> => {
    tokenCalls++;
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return [400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' }];
    const assertion = form.get('assertion') ?? '';
    try {
      const iss = decodeJwt(assertion).iss;
      const account = iss ? accounts.get(iss) : undefined;
      if (!account) return [400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }];
      const { payload } = await jwtVerify(assertion, account.publicKey, {
        algorithms: ['RS256'],
        issuer: account.clientEmail,
        audience: TOKEN_URI,
        requiredClaims: ['iat', 'exp'],
      });
      if ((payload.exp ?? 0) - (payload.iat ?? 0) > 3600)
        return [400, { error: 'invalid_grant', error_description: 'Invalid JWT: exp more than 1 h after iat' }];
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      if (!scopes.includes(FCM_SCOPE)) return [400, { error: 'invalid_scope', error_description: 'firebase.messaging scope missing' }];
      assertions.push(payload);
      const accessToken = `ya29.fake-${randomUUID()}`;
      issued.add(accessToken);
      return [200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }];
    } catch (err) {
      return [400, { error: 'invalid_grant', error_description: `Invalid JWT: ${(err as Error).message}` }];
    }
  };

  const fcmSend = (project: string, req: Req, body: string, session: number, stall: boolean): Reply => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !issued.has(bearer)) {
      unauthorized++;
      return { status: 401, body: googleError(401, 'Request had invalid authentication credentials.') };
    }
    let message: Record<string, any>;
    try {
      message = (JSON.parse(body) as { message: Record<string, any> }).message;
    } catch {
      return { status: 400, body: googleError(400, 'Invalid JSON payload received.') };
    }
    const token = typeof message?.token === 'string' ? message.token : '';
    const scripted: FcmAnswer | undefined = stall ? { status: 0, stall: true } : scripts.get(token)?.shift();
    const status = scripted?.stall ? 0 : (scripted?.status ?? 200);
    const request: FcmRequest = { project, token, message, status, session, headers: { ...req.headers } };
    requests.push(request);
    if (scripted?.stall) return { stall: true };
    if (scripted) {
      const headers = scripted.retryAfter !== undefined ? { 'retry-after': scripted.retryAfter } : undefined;
      const answer = scripted.rawBody ?? googleError(scripted.status, `scripted ${scripted.errorCode ?? scripted.status}`, scripted.errorCode);
      return { status: scripted.status, body: answer, ...(headers ? { headers } : {}) };
    }
    received.push(request);
    waiters = waiters.filter((w) => {
      if (received.length < w.count) return true;
      w.resolve();
      return false;
    });
    return { status: 200, body: { name: `projects/${project}/messages/${randomUUID()}` } };
  };

  const onRequest = (req: Req, res: Res): void => {
    const url = new URL(req.url ?? '/', 'https://fake');
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
    const isSend = req.method === 'POST' && match?.[1] !== undefined;
    const h2 = 'stream' in req ? (req.stream.session as http2.ServerHttp2Session) : undefined;
    const state = h2 ? sessionNumber.get(h2) : undefined;
    if (isSend && h2 && state) {
      // GOAWAY bookkeeping at arrival: stream ids grow in arrival order.
      if (state.gone) {
        refused++;
        (req as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      state.sends++;
      if (goawayAt !== undefined && state.sends >= goawayAt) {
        state.gone = true;
        h2.goaway(http2.constants.NGHTTP2_NO_ERROR, (req as http2.Http2ServerRequest).stream.id);
      }
    }
    const number = isSend ? ++sendNumber : 0;
    if (isSend) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.once('close', () => inFlight--);
    }
    readBody(req).then(
      async (body) => {
        if (req.method === 'POST' && url.pathname === '/token') {
          const [status, answer] = await token(body);
          return send(res, status, answer);
        }
        if (isSend && match?.[1]) {
          const reply = fcmSend(decodeURIComponent(match[1]), req, body, state?.n ?? 0, stallStream?.(number) === true);
          if ('stall' in reply) return;
          return send(res, reply.status, reply.body, reply.headers);
        }
        send(res, 404, googleError(404, `no route ${req.method} ${url.pathname}`));
      },
      () => res.destroy(),
    );
  };

  const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, onRequest);
  const stalls = stallableSessions(server);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => {
    sessionNumber.set(session, { n: stalls.sessions, sends: 0, gone: false });
    h2Sessions.add(session);
    session.on('close', () => h2Sessions.delete(session));
    session.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    received,
    assertions,
    get tokenCalls() {
      return tokenCalls;
    },
    get unauthorized() {
      return unauthorized;
    },
    get sessions() {
      return stalls.sessions;
    },
    get stalled() {
      return stalls.stalled;
    },
    get refused() {
      return refused;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    trust(account) {
      accounts.set(account.clientEmail, account);
    },
    answer(token, answers) {
      scripts.set(token, [...(scripts.get(token) ?? []), ...answers]);
    },
    goawayAfter(n) {
      goawayAt = n;
    },
    stallSessions(pred) {
      stalls.stall = pred;
    },
    stallStreams(pred) {
      stallStream = pred;
    },
    revokeTokens() {
      issued.clear();
    },
    waitFor(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve(received.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fcm fake: ${received.length} of ${count} sends after ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received.slice());
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of h2Sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        stalls.destroy();
      }),
  };
}
