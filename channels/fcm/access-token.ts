/**
 * The service account's OAuth2 access token for FCM: Google's JWT-bearer grant (RFC 7523), as
 * google-auth-library does it — an RS256 assertion {iss: client_email, scope, aud: token URI,
 * iat, exp ≤ 1 h} posted to https://oauth2.googleapis.com/token, answered
 * `{access_token, expires_in, token_type}`. firebase-admin calls `getAccessToken` and caches the
 * token until 5 minutes before it expires.
 *
 * Why not firebase-admin's `cert(path, agent)`: it caches credentials process-wide by path, so
 * the agent (and host) given first wins for every later App made from that file, including one
 * made after the first was closed. Building the credential here keeps each channel's connection
 * settings its own. A failure is a TokenRequestError carrying the HTTP status (none for network
 * errors), which classification needs: firebase-admin reports every token failure with one code.
 */
import https from 'node:https';
import type { Credential } from 'firebase-admin/app';
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

/** A firebase-admin Credential that gets tokens for `account`, connecting through `agent` when given. */
export function serviceAccountCredential(account: ServiceAccount, agent?: https.Agent): Credential {
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
