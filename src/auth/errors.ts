/**
 * Why a bearer token is not accepted, as auth types: auth knows nothing of HTTP, and
 * src/problem.ts maps each to the problem code a client sees (401, or 503 to retry later).
 */

/** The token is missing, malformed, expired, badly signed or names no valid user; the message says which. */
export class TokenRejectedError extends Error {
  override name = 'TokenRejectedError';
}

/** The keys that would verify the token (the JWKS) cannot be fetched now: the token may well be good. */
export class TokenKeysUnavailableError extends Error {
  override name = 'TokenKeysUnavailableError';
}
