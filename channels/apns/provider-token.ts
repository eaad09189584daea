/**
 * The APNs provider token (token-based authentication, the .p8 key): an ES256 JWT with header
 * `{alg: ES256, kid: <key id>}` and claims `{iss: <team id>, iat: <now, seconds>}`, signed with
 * jose, sent as `authorization: bearer <token>` on every request.
 *
 * Apple refuses a token older than an hour (403 ExpiredProviderToken) and one renewed more often
 * than every 20 minutes (429 TooManyProviderTokenUpdates), so one token serves every request of
 * the channel: signed on first use (one signing shared by every caller waiting for it), reused
 * until RENEW_AFTER_MS (50 min) after its `iat`, then replaced. `refused(token)`, for a 403
 * ExpiredProviderToken, tells the caller whether a re-send can carry another token: true when a
 * newer token is already current (another request saw the refusal first) or when this one is
 * dropped now, so the next `get()` signs a new one — once, however many requests saw the 403.
 * A refusal renews at most once per MIN_FORCED_RENEWAL_MS (20 min, Apple's limit): a clock Apple
 * disagrees with would otherwise make every request sign a new token. Then it answers false,
 * and the caller retries later.
 *
 * `loadSigningKey` reads the key once, at creation: a key that is not a P-256 EC private key
 * throws then, not at the first send.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** A token is replaced this long after its `iat` (Apple accepts it for an hour). */
export const RENEW_AFTER_MS = 50 * 60_000;
/** A refusal (ExpiredProviderToken) renews the token at most this often. */
export const MIN_FORCED_RENEWAL_MS = 20 * 60_000;

export interface ProviderTokens {
  /** The current token, signed when there is none or it is RENEW_AFTER_MS old. */
  get(): Promise<string>;
  /** Apple refused `token` as expired: true when a re-send may carry a different token. */
  refused(token: string): boolean;
  /** Tokens signed so far (tests). */
  readonly signed: number;
}

/** The .p8 key as a KeyObject; throws unless it is a P-256 EC private key (PEM). */
export function loadSigningKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`expected a P-256 EC private key, got ${key.asymmetricKeyType ?? 'another kind'}`);
  }
  return key;
}

export function providerTokens(options: { key: KeyObject; keyId: string; teamId: string; now?: () => number }): ProviderTokens {
  const { key, keyId, teamId } = options;
  const now = options.now ?? Date.now;
  let current: { token: Promise<string>; issuedAt: number; value?: string } | undefined;
  let forcedAt = Number.NEGATIVE_INFINITY;
  let signed = 0;

  const sign = (): NonNullable<typeof current> => {
    const issuedAt = now();
    signed++;
    const entry: NonNullable<typeof current> = {
      issuedAt,
      token: new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: keyId })
        .setIssuer(teamId)
        .setIssuedAt(Math.floor(issuedAt / 1000))
        .sign(key),
    };
    entry.token.then(
      (value) => {
        entry.value = value;
      },
      () => {
        // A failed signing is not kept: the next caller signs again.
        if (current === entry) current = undefined;
      },
    );
    return entry;
  };

  return {
    get() {
      if (current === undefined || now() - current.issuedAt >= RENEW_AFTER_MS) current = sign();
      return current.token;
    },

    refused(token) {
      if (current === undefined || current.value !== token) return true;
      const t = now();
      if (t - forcedAt < MIN_FORCED_RENEWAL_MS) return false;
      forcedAt = t;
      current = undefined;
      return true;
    },

    get signed() {
      return signed;
    },
  };
}
