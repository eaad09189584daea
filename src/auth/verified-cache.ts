/**
 * Remembers tokens that passed verification, so a client reusing its token (the common case)
 * costs a Map lookup instead of a signature check. Guarantees:
 *  - Keyed by the whole token string: a token that differs in any byte (another signature,
 *    another payload) is never answered from the cache.
 *  - An entry is served only while `now() < expiresAt`, where `expiresAt` is the token's `exp`
 *    (in ms) capped at `maxAgeMs` after it was stored: never beyond the token's expiry, so an
 *    expired token is rejected by a full verification even if it was cached.
 *  - Bounded: at most `maxEntries`; when full, the oldest entry is dropped.
 *  - Only successes are stored; failures are verified afresh every time.
 */

export interface VerifiedCache<V> {
  get(token: string): V | undefined;
  /** `expiresAt`: the token's expiry in ms since the epoch, undefined when it has none. */
  set(token: string, value: V, expiresAt: number | undefined): void;
}

/** A verified token is re-verified at least this often (bounds the effect of a rotated JWKS key). */
export const VERIFIED_MAX_AGE_MS = 5 * 60_000;
export const VERIFIED_MAX_ENTRIES = 10_000;

export function createVerifiedCache<V>(options: { now: () => number; maxAgeMs?: number; maxEntries?: number }): VerifiedCache<V> {
  const maxAgeMs = options.maxAgeMs ?? VERIFIED_MAX_AGE_MS;
  const maxEntries = options.maxEntries ?? VERIFIED_MAX_ENTRIES;
  const entries = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(token) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      if (options.now() < entry.expiresAt) return entry.value;
      entries.delete(token);
      return undefined;
    },
    set(token, value, expiresAt) {
      const now = options.now();
      const until = Math.min(expiresAt ?? Number.POSITIVE_INFINITY, now + maxAgeMs);
      if (until <= now) return;
      if (entries.size >= maxEntries && !entries.has(token)) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(token, { value, expiresAt: until });
    },
  };
}
