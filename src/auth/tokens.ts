/**
 * API tokens: verifying the caller's JWT (jose) and minting development tokens.
 *
 * HS256 with a shared secret by default; RS256/ES256 with an SPKI public key or a JWKS URL.
 * `iss` and `aud` are checked when configured; `exp` is required unless HERALD_JWT_REQUIRE_EXP
 * is false, and HERALD_JWT_MAX_AGE caps a token's age from its `iat`. While the JWKS URL cannot
 * be reached (or serves no valid key set), verification fails as 503, not as the client's 401. A token is admin when its admin claim
 * (HERALD_ADMIN_CLAIM, `role=admin` by default) holds the value, or is an array containing it.
 *
 * Hot path: the HS256 secret is imported as a CryptoKey once (jose would re-import raw bytes on
 * every verify), and verified tokens are remembered (src/auth/verified-cache.ts) keyed by the
 * whole token string, until the token's `exp` and never longer, so a token is still rejected
 * the moment it expires and a token with another signature is always verified afresh.
 */

import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import { createRemoteJWKSet, importSPKI, type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config.js';
import { UID_PATTERN } from '../exchange/limits.js';
import { TokenKeysUnavailableError, TokenRejectedError } from './errors.js';
import { createVerifiedCache } from './verified-cache.js';

export interface Caller {
  uid: string;
  admin: boolean;
}

export interface TokenVerifier {
  /** Resolves the caller, or rejects with a TokenRejectedError that says why (TokenKeysUnavailableError when the JWKS is down). */
  verify(token: string): Promise<Caller>;
}

type AdminClaim = { name: string; value: string };

export const parseAdminClaim = (setting: string): AdminClaim => {
  const at = setting.indexOf('=');
  return { name: setting.slice(0, at), value: setting.slice(at + 1) };
};

const holdsAdmin = (payload: JWTPayload, claim: AdminClaim): boolean => {
  const held = payload[claim.name];
  return held === claim.value || (Array.isArray(held) && held.includes(claim.value));
};

export interface TokenVerifierOptions {
  /** The clock, ms since the epoch (tests). Default `Date.now`. */
  now?: () => number;
}

export async function createTokenVerifier(config: Config, hsSecret: string, verifierOptions: TokenVerifierOptions = {}): Promise<TokenVerifier> {
  const now = verifierOptions.now ?? Date.now;
  const claim = parseAdminClaim(config.adminClaim);
  const options = {
    algorithms: [config.jwtAlgorithm],
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
    ...(config.jwtRequireExp ? { requiredClaims: ['exp'] } : {}),
    ...(config.jwtMaxAge ? { maxTokenAge: config.jwtMaxAge } : {}),
  };
  let key: webcrypto.CryptoKey | Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey;
  if (config.jwtAlgorithm === 'HS256') key = await importHmacKey(hsSecret);
  else if (config.jwtJwksUrl) key = createRemoteJWKSet(new URL(config.jwtJwksUrl), { timeoutDuration: JWKS_TIMEOUT_MS });
  else {
    const pem = (config.jwtPublicKey ?? '').includes('BEGIN') ? (config.jwtPublicKey ?? '') : fs.readFileSync(config.jwtPublicKey ?? '', 'utf8');
    key = await importSPKI(pem, config.jwtAlgorithm);
  }
  const verified = createVerifiedCache<Caller>({ now });

  const verifyFully = async (token: string): Promise<{ caller: Caller; exp: number | undefined }> => {
    let payload: JWTPayload;
    try {
      const at = { ...options, currentDate: new Date(now()) };
      payload = typeof key === 'function' ? (await jwtVerify(token, key, at)).payload : (await jwtVerify(token, key, at)).payload;
    } catch (error) {
      if (isKeySourceFailure(error)) {
        throw new TokenKeysUnavailableError('token keys (JWKS) cannot be fetched, retry later', { cause: error });
      }
      throw new TokenRejectedError(describeJoseError(error), { cause: error });
    }
    if (typeof payload.sub !== 'string' || !UID_PATTERN.test(payload.sub)) {
      throw new TokenRejectedError('token has no valid sub (user id)');
    }
    return { caller: Object.freeze({ uid: payload.sub, admin: holdsAdmin(payload, claim) }), exp: payload.exp };
  };

  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached) return cached;
      const { caller, exp } = await verifyFully(token);
      verified.set(token, caller, exp === undefined ? undefined : exp * 1000);
      return caller;
    },
  };
}

/** How long a JWKS fetch may take before requests are answered 503. */
const JWKS_TIMEOUT_MS = 2_000;

/**
 * Whether verification failed because the key source did: the JWKS fetch timed out, failed
 * (network errors reach us as fetch's TypeError), answered other than 200, or served something
 * that is not a key set.
 * A token whose `kid` matches no key is the client's fault (401), not an outage.
 */
function isKeySourceFailure(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return true;
  // A non-200 answer or a body that is not JSON: jose's generic error, raised only by the fetch here.
  if (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC') return true;
  return !(error instanceof joseErrors.JOSEError) && error instanceof Error && (error.name === 'TypeError' || error.name === 'AbortError');
}

/** The HS256 secret as a non-extractable HMAC CryptoKey, imported once. */
const importHmacKey = (secret: string): Promise<webcrypto.CryptoKey> =>
  webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `token has no "${error.claim}" claim`;
    return `token claim "${error.claim}" is not accepted`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm is not accepted';
  return 'token is malformed or cannot be verified';
}

/** Mints an HS256 API token (for `herald token`, tests and benchmarks). */
export async function mintToken(
  secret: string,
  options: { sub: string; admin?: boolean; ttlSeconds?: number; adminClaim?: string; issuer?: string; audience?: string },
): Promise<string> {
  const claim = parseAdminClaim(options.adminClaim ?? 'role=admin');
  const jwt = new SignJWT(options.admin ? { [claim.name]: claim.value } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
