/**
 * The service account's OAuth2 access token for FCM: Google's JWT-bearer grant (RFC 7523), as
 * google-auth-library does it — an RS256 assertion {iss: client_email, scope, aud: token URI,
 * iat, exp ≤ 1 h} posted to https://oauth2.googleapis.com/token (over HTTPS/1.1, through the
 * channel's agent when it has one), answered `{access_token, expires_in, token_type}`.
 *
 * `cachedAccessToken` keeps one token for every request of the channel: fetched on first use
 * (one fetch shared by every caller waiting for it), reused until REFRESH_BEFORE_MS before it
 * expires (firebase-admin's margin; half its life if it lives shorter), dropped by `invalidate(token)` when FCM refused it (401),
 * so that the next caller fetches a new one — once, however many requests saw the 401. A failed
 * fetch is remembered for FAILURE_HOLD_MS, so a batch arriving while Google is unreachable or
 * refuses the account asks once, not once per delivery.
 *
 * A failure is a TokenRequestError carrying the HTTP status (none for network errors), which
 * classification needs (./classify.ts: refused → failed, else retry).
 */
import https from 'node:https';
import { SignJWT } from 'jose';
import type { ServiceAccount } from './service-account.js';

export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const TIMEOUT_MS = 15_000;

export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
  constructor(
    message: string,
    /** The token endpoint's HTTP status; undefined when no answer came (network, TLS, timeout). */
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

type TokenReply = { status: number; body: string };

function post(url: string, form: URLSearchParams, agent: https.Agent | undefined): Promise<TokenReply> {
  const body = form.toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
        ...(agent ? { agent } : {}),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the token endpoint within ${TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new TokenRequestError(`token request failed: ${err.code ?? err.message}`, undefined)));
    req.end(body);
  });
}

export interface AccessToken {
  access_token: string;
  /** Seconds. */
  expires_in: number;
}

/** Fetches a new token for `account` each call, connecting through `agent` when given. */
export function serviceAccountCredential(account: ServiceAccount, agent?: https.Agent): { getAccessToken(): Promise<AccessToken> } {
  return {
    async getAccessToken() {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({ scope: FCM_SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
        .setIssuer(account.clientEmail)
        .setAudience(GOOGLE_TOKEN_URI)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(account.privateKey);
      const reply = await post(GOOGLE_TOKEN_URI, new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }), agent);
      let json: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
      try {
        json = JSON.parse(reply.body) as typeof json;
      } catch {
        // Not JSON: judged by the status below.
      }
      if (reply.status !== 200)
        throw new TokenRequestError(`token endpoint answered ${reply.status}${typeof json.error === 'string' ? ` ${json.error}` : ''}`, reply.status);
      if (typeof json.access_token !== 'string' || typeof json.expires_in !== 'number') {
        throw new TokenRequestError('token endpoint answered without access_token/expires_in', undefined);
      }
      return { access_token: json.access_token, expires_in: json.expires_in };
    },
  };
}

/** Refresh this long before the token expires. */
export const REFRESH_BEFORE_MS = 5 * 60_000;
/** A failed fetch is answered again for this long before the endpoint is asked again. */
export const FAILURE_HOLD_MS = 1_000;

export interface TokenCache {
  /** The current token, fetched if there is none, it nears expiry, or it was invalidated. */
  get(): Promise<string>;
  /** FCM refused `token`: the next get() fetches another (unless one was fetched since). */
  invalidate(token: string): void;
}

export function cachedAccessToken(fetchToken: () => Promise<AccessToken>, now: () => number = Date.now): TokenCache {
  let token: { value: string; refreshAt: number } | undefined;
  let fetching: Promise<string> | undefined;
  let failure: { error: unknown; until: number } | undefined;

  const fetchOnce = (): Promise<string> => {
    fetching ??= fetchToken().then(
      (answer) => {
        fetching = undefined;
        failure = undefined;
        const lifetimeMs = answer.expires_in * 1000;
        // A token shorter-lived than the margin is kept for half its life.
        token = { value: answer.access_token, refreshAt: now() + Math.max(lifetimeMs / 2, lifetimeMs - REFRESH_BEFORE_MS) };
        return answer.access_token;
      },
      (error: unknown) => {
        fetching = undefined;
        failure = { error, until: now() + FAILURE_HOLD_MS };
        throw error;
      },
    );
    return fetching;
  };

  return {
    async get() {
      if (token && now() < token.refreshAt) return token.value;
      if (fetching) return fetching;
      if (failure && now() < failure.until) throw failure.error;
      return fetchOnce();
    },
    invalidate(value) {
      if (token?.value === value) token = undefined;
    },
  };
}
