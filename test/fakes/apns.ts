/**
 * A loopback APNs for tests: an HTTP/2 TLS server (the shared test certificate) on an ephemeral
 * port of 127.0.0.1 that speaks the provider API's device endpoint, `POST /3/device/<token>`.
 * Guarantees:
 *  - Every request's `authorization: bearer <JWT>` is verified with jose against the test key's
 *    public key: ES256, `iss` = team id, `kid` header = key id, `iat` at most an hour old. A
 *    request that fails is answered 403 InvalidProviderToken and recorded in `authFailures`,
 *    never in `received`.
 *  - Every authorised request is recorded with its token, APNs headers, parsed JSON payload,
 *    bearer token and session number, then answered: 200 with an `apns-id` (the request's own
 *    when it sent one), or the next scripted answer for that token (`answer(token, [...])`, used
 *    up one per request; then 200 again). Error answers carry Apple's body
 *    `{"reason", "timestamp"?}` and, when scripted, a `retry-after` header.
 *  - `expireTokens()`: every bearer token seen so far is answered 403 ExpiredProviderToken from
 *    then on (recorded), as Apple answers a token over an hour old.
 *  - `sessions` counts the HTTP/2 connections clients opened, so a test can check reuse, and
 *    `maxInFlight` the most requests open at once.
 *  - `goawayAfter(n)`: every HTTP/2 session sends GOAWAY (NO_ERROR, last stream id = its n-th
 *    request) on its n-th request, answers the requests up to it, and refuses the later ones
 *    (REFUSED_STREAM) without recording them (counted in `refused`) — what a server going away
 *    promises.
 *  - `stallSessions(pred)`: a connection whose number (1-based) `pred` accepts completes TLS and
 *    is then never answered, not even SETTINGS or PING (./h2-stall.ts; counted in `stalled`).
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { stallableSessions } from './h2-stall.js';
import { testCertificate } from './tls.js';

export interface ApnsTestKey {
  /** The .p8 private key: PKCS8 PEM, as Apple hands it out. */
  key: string;
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
}

/** A fresh P-256 token-auth key with a made-up key id and team id (10 characters each). */
export function makeApnsKey(keyId = 'TESTKEY001', teamId = 'TESTTEAM01'): ApnsTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey, keyId, teamId };
}

export interface ApnsHeaders {
  topic?: string;
  pushType?: string;
  priority?: string;
  expiration?: string;
  collapseId?: string;
}

export interface ApnsReceived {
  token: string;
  headers: ApnsHeaders;
  payload: any;
  /** The request's own apns-id header, when it sent one. */
  apnsId?: string;
  /** The provider token (JWT) it carried. */
  bearer: string;
  /** The number (1-based) of the HTTP/2 session it came on. */
  session: number;
  /** What the fake answered. */
  status: number;
  reason?: string;
}

export interface ScriptedAnswer {
  status: number;
  reason?: string;
  /** Apple's `timestamp` (epoch ms) of a 410 Unregistered. */
  timestamp?: number;
  /** Sent as the retry-after header. */
  retryAfter?: string;
}

export interface ApnsFake {
  /** `127.0.0.1:<port>`, the form of HERALD_APNS_HOST. */
  host: string;
  port: number;
  /** Every authorised request, in arrival order (answered 200 or not). */
  received: ApnsReceived[];
  /** Requests whose bearer token did not verify, with why. */
  authFailures: string[];
  /** HTTP/2 sessions (connections) opened so far, stalled ones included. */
  readonly sessions: number;
  /** Sessions held by `stallSessions`. */
  readonly stalled: number;
  /** Requests refused after a GOAWAY (not in `received`). */
  readonly refused: number;
  /** The most requests open at once so far. */
  readonly maxInFlight: number;
  /** Connections whose number `pred` accepts stall (undefined: none). */
  stallSessions(pred: ((n: number) => boolean) | undefined): void;
  /** Every session sends GOAWAY on its n-th request (undefined: never). */
  goawayAfter(n: number | undefined): void;
  /** Every bearer token seen so far is answered 403 ExpiredProviderToken from now on. */
  expireTokens(): void;
  /** The next requests for `token` get these answers, one each, in order; then 200 again. */
  answer(token: string, answers: ScriptedAnswer[]): void;
  /** Resolves once `count` requests have been received in total (or one matches `match`); rejects after `timeoutMs`. */
  waitFor(count: number | ((r: ApnsReceived) => boolean), timeoutMs?: number): Promise<ApnsReceived[]>;
  close(): Promise<void>;
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(',') : value);

export async function startApnsFake(key: Pick<ApnsTestKey, 'publicKey' | 'keyId' | 'teamId'>): Promise<ApnsFake> {
  const cert = testCertificate();
  const received: ApnsReceived[] = [];
  const authFailures: string[] = [];
  const scripts = new Map<string, ScriptedAnswer[]>();
  const open = new Set<http2.ServerHttp2Session>();
  const sessionState = new WeakMap<http2.ServerHttp2Session, { n: number; requests: number; gone: boolean }>();
  const seenBearers = new Set<string>();
  const expiredBearers = new Set<string>();
  let goawayAt: number | undefined;
  let refused = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let waiters: Array<() => void> = [];

  const wake = (): void => {
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  };

  const bearerOf = (authorization: string | undefined): string | undefined => /^bearer (\S+)$/i.exec(authorization ?? '')?.[1];

  const authorise = async (authorization: string | undefined): Promise<string | undefined> => {
    const match = /^bearer (\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return 'missing bearer token';
    try {
      const { protectedHeader } = await jwtVerify(match[1], key.publicKey, { issuer: key.teamId, algorithms: ['ES256'], maxTokenAge: '1h' });
      if (protectedHeader.kid !== key.keyId) return `kid ${String(protectedHeader.kid)} is not ${key.keyId}`;
      return undefined;
    } catch (err) {
      return `jwt: ${(err as Error).message}`;
    }
  };

  const server = http2.createSecureServer({ key: cert.key, cert: cert.cert });
  const stalls = stallableSessions(server);
  server.on('session', (session) => {
    sessionState.set(session, { n: stalls.sessions, requests: 0, gone: false });
    open.add(session);
    session.on('close', () => open.delete(session));
    session.on('error', () => {});
  });

  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    // GOAWAY bookkeeping at arrival: stream ids grow in arrival order.
    const state = sessionState.get(stream.session as http2.ServerHttp2Session);
    if (state?.gone) {
      refused++;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    stream.once('close', () => inFlight--);
    if (state) {
      state.requests++;
      if (goawayAt !== undefined && state.requests >= goawayAt) {
        state.gone = true;
        stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
      }
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      void (async () => {
        const reply = (status: number, body?: Record<string, unknown>, extra: http2.OutgoingHttpHeaders = {}): void => {
          if (stream.destroyed) return;
          const out: http2.OutgoingHttpHeaders = { ':status': status, 'apns-id': header(headers['apns-id']) ?? randomUUID(), ...extra };
          if (body) {
            out['content-type'] = 'application/json';
            stream.respond(out);
            stream.end(JSON.stringify(body));
          } else {
            stream.respond(out, { endStream: true });
          }
        };

        const path = header(headers[':path']) ?? '';
        const match = /^\/3\/device\/([^/?]+)$/.exec(path);
        if (headers[':method'] !== 'POST' || !match?.[1]) return reply(404, { reason: 'BadPath' });
        const problem = await authorise(header(headers.authorization));
        if (problem) {
          authFailures.push(problem);
          wake();
          return reply(403, { reason: 'InvalidProviderToken' });
        }
        const token = match[1];
        const bearer = bearerOf(header(headers.authorization)) ?? '';
        const expired = expiredBearers.has(bearer);
        seenBearers.add(bearer);
        let payload: unknown;
        try {
          payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          payload = undefined;
        }
        const scripted: ScriptedAnswer | undefined = expired ? { status: 403, reason: 'ExpiredProviderToken' } : scripts.get(token)?.shift();
        const record: ApnsReceived = {
          token,
          headers: {
            topic: header(headers['apns-topic']),
            pushType: header(headers['apns-push-type']),
            priority: header(headers['apns-priority']),
            expiration: header(headers['apns-expiration']),
            collapseId: header(headers['apns-collapse-id']),
          },
          payload,
          bearer,
          session: state?.n ?? 0,
          status: scripted?.status ?? 200,
        };
        if (scripted?.reason) record.reason = scripted.reason;
        const apnsId = header(headers['apns-id']);
        if (apnsId !== undefined) record.apnsId = apnsId;
        received.push(record);
        wake();
        if (payload === undefined) return reply(400, { reason: 'PayloadEmpty' });
        if (!scripted || scripted.status === 200) return reply(200);
        const body: Record<string, unknown> = { reason: scripted.reason ?? 'InternalServerError' };
        if (scripted.timestamp !== undefined) body.timestamp = scripted.timestamp;
        reply(scripted.status, body, scripted.retryAfter !== undefined ? { 'retry-after': scripted.retryAfter } : {});
      })();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    port,
    received,
    authFailures,
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
    stallSessions(pred) {
      stalls.stall = pred;
    },
    goawayAfter(n) {
      goawayAt = n;
    },
    expireTokens() {
      for (const bearer of seenBearers) expiredBearers.add(bearer);
    },
    answer(token, answers) {
      scripts.set(token, [...(scripts.get(token) ?? []), ...answers]);
    },
    async waitFor(count, timeoutMs = 5_000) {
      const done = (): boolean => (typeof count === 'number' ? received.length >= count : received.some(count));
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`apns fake: condition not met after ${timeoutMs} ms; ${received.length} received, auth failures: ${JSON.stringify(authFailures)}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of open) session.destroy();
        stalls.destroy();
      }),
  };
}
