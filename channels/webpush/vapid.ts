/**
 * VAPID (RFC 8292) `Authorization` headers, signed once per push service origin and reused
 * until close to expiry, instead of an ES256 signature per notification (the largest CPU cost
 * of a send). Guarantees:
 *  - `aud` is the endpoint's origin (scheme, host, port), `sub` the configured subject, `exp`
 *    `lifetimeSeconds` ahead (default 12 h; RFC 8292 allows at most 24 h).
 *  - A header is replaced once less than `refreshBeforeSeconds` (default 1 h) of it remains,
 *    so no request ever carries a token about to expire.
 *  - Bad keys or subject throw at creation (web-push validates them), not at send time.
 *  - At most `maxOrigins` headers are kept (oldest dropped first); browsers use a handful.
 */
import webpush from 'web-push';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** `mailto:` or `https:` contact of the sender. */
  subject: string;
}

export interface VapidSigner {
  /** The `Authorization` header value for a request to `origin` (e.g. `https://fcm.googleapis.com`). */
  authorization(origin: string): string;
}

export interface VapidSignerOptions {
  lifetimeSeconds?: number;
  refreshBeforeSeconds?: number;
  maxOrigins?: number;
  /** Epoch milliseconds; tests move it. */
  now?: () => number;
}

export function createVapidSigner(keys: VapidKeys, options: VapidSignerOptions = {}): VapidSigner {
  const lifetime = options.lifetimeSeconds ?? 12 * 3600;
  const refreshBefore = options.refreshBeforeSeconds ?? 3600;
  const maxOrigins = options.maxOrigins ?? 1000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { header: string; exp: number }>();

  const sign = (origin: string, exp: number): string =>
    webpush.getVapidHeaders(origin, keys.subject, keys.publicKey, keys.privateKey, 'aes128gcm', exp).Authorization;

  // Throws now for bad keys or subject.
  sign('https://push.invalid', Math.floor(now() / 1000) + lifetime);

  return {
    authorization(origin) {
      const seconds = Math.floor(now() / 1000);
      const cached = cache.get(origin);
      if (cached && cached.exp - seconds > refreshBefore) return cached.header;
      const exp = seconds + lifetime;
      const header = sign(origin, exp);
      cache.delete(origin);
      if (cache.size >= maxOrigins) cache.delete(cache.keys().next().value as string);
      cache.set(origin, { header, exp });
      return header;
    },
  };
}
