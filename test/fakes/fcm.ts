/**
 * A loopback FCM for tests: one HTTPS server (HTTP/1.1, the shared test certificate, which names
 * fcm.googleapis.com and oauth2.googleapis.com) on an ephemeral port of 127.0.0.1, playing both
 * Google hosts firebase-admin talks to:
 *  - `POST /token`: the OAuth2 JWT-bearer grant. The RS256 assertion is verified with the public
 *    key of a trusted service account (iss = client_email, aud = the token URI, scope includes
 *    firebase.messaging); answers `{access_token, expires_in, token_type}`, or 400 invalid_grant.
 *  - `POST /v1/projects/<project>/messages:send`: checks `Authorization: Bearer <issued token>`,
 *    records the request, and answers `{name}`, or what was scripted for the token with
 *    `answer()`, in Google's error shape (`error.details[].errorCode` of type FcmError).
 * `writeServiceAccount()` makes a service-account JSON file with a fresh RSA key.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, type JWTPayload, jwtVerify } from 'jose';
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
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'herald-fcm-sa-'));
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

/** One scripted answer: an HTTP status and, for FCM errors, the FcmError code (UNREGISTERED, QUOTA_EXCEEDED…). */
export interface FcmAnswer {
  status: number;
  errorCode?: string;
}

export interface FcmRequest {
  project: string;
  token: string;
  /** The `message` of the request body, as sent on the wire. */
  message: Record<string, any>;
  status: number;
}

export interface FcmFake {
  /** `127.0.0.1:<port>`, for HERALD_FCM_HOST / the channel's `host`. */
  host: string;
  port: number;
  /** Every send request, answered or not. */
  requests: FcmRequest[];
  /** Sends answered 200. */
  received: FcmRequest[];
  /** Verified claims of every accepted token request. */
  assertions: JWTPayload[];
  /** Token requests, accepted or not. */
  tokenCalls: number;
  /** Lets this service account get tokens. */
  trust(account: ServiceAccountFile): void;
  /** The next sends to `token` get these answers, in order; then it is accepted again. */
  answer(token: string, answers: FcmAnswer[]): void;
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

const readBody = (req: import('node:http').IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

export async function startFcmFake(options: { accounts?: ServiceAccountFile[] } = {}): Promise<FcmFake> {
  const { key, cert } = testCertificate();
  const accounts = new Map<string, ServiceAccountFile>();
  const issued = new Set<string>();
  const scripts = new Map<string, FcmAnswer[]>();
  const requests: FcmRequest[] = [];
  const received: FcmRequest[] = [];
  const assertions: JWTPayload[] = [];
  let tokenCalls = 0;
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  for (const account of options.accounts ?? []) accounts.set(account.clientEmail, account);

  const send = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
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

  const fcmSend = (project: string, authorization: string | undefined, body: string): [number, unknown] => {
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (!bearer || !issued.has(bearer)) return [401, googleError(401, 'Request had invalid authentication credentials.')];
    let message: Record<string, any>;
    try {
      message = (JSON.parse(body) as { message: Record<string, any> }).message;
    } catch {
      return [400, googleError(400, 'Invalid JSON payload received.')];
    }
    const token = typeof message?.token === 'string' ? message.token : '';
    const scripted = scripts.get(token)?.shift();
    const status = scripted?.status ?? 200;
    const request: FcmRequest = { project, token, message, status };
    requests.push(request);
    if (scripted) return [scripted.status, googleError(scripted.status, `scripted ${scripted.errorCode ?? scripted.status}`, scripted.errorCode)];
    received.push(request);
    waiters = waiters.filter((w) => {
      if (received.length < w.count) return true;
      w.resolve();
      return false;
    });
    return [200, { name: `projects/${project}/messages/${randomUUID()}` }];
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    readBody(req).then(
      async (body) => {
        const url = new URL(req.url ?? '/', 'https://fake');
        if (req.method === 'POST' && url.pathname === '/token') {
          const [status, answer] = await token(body);
          return send(res, status, answer);
        }
        const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
        if (req.method === 'POST' && match?.[1]) {
          const [status, answer] = fcmSend(decodeURIComponent(match[1]), req.headers.authorization, body);
          return send(res, status, answer);
        }
        send(res, 404, googleError(404, `no route ${req.method} ${url.pathname}`));
      },
      () => res.destroy(),
    );
  });
  server.keepAliveTimeout = 60_000;
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
    trust(account) {
      accounts.set(account.clientEmail, account);
    },
    answer(token, answers) {
      scripts.set(token, [...(scripts.get(token) ?? []), ...answers]);
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
        server.closeAllConnections();
      }),
  };
}
