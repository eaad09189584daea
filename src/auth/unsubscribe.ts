/**
 * One-click unsubscribe tokens (RFC 8058): what the `List-Unsubscribe` link of every email
 * carries (docs/security.md, "Unsubscribe links").
 *
 * A token is an HS256 JWT (jose) signed with a key derived from the ticket secret (HKDF-SHA256,
 * its own label, as src/auth/capabilities.ts does for its own), so every process of a cluster
 * verifies what any other signed and no secret is added to configure; being another key, it is
 * never taken for an API token, a WebSocket ticket or a capability, and its audience
 * (`herald:unsubscribe`) is checked too. It names one user (`sub`) and one thing to switch off:
 * a category (`cat`) — the message's — or the email channel (`ch: "email"`) for a message
 * without one. It expires UNSUBSCRIBE_SECONDS after it was signed (a link in an old email
 * stops working; a newer email carries a new one). Nothing else is in it: not the address,
 * nor the message.
 */
import { hkdfSync } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

const AUDIENCE = 'herald:unsubscribe';
/** 90 days: how long the link of an email keeps working. */
export const UNSUBSCRIBE_SECONDS = 90 * 24 * 3600;
/** A token longer than this is not looked at (a signed one is ~250 characters). */
export const UNSUBSCRIBE_TOKEN_MAX = 2048;

export type UnsubscribeScope = { category: string } | { channel: 'email' };

export interface UnsubscribeGrant {
  uid: string;
  scope: UnsubscribeScope;
  /** When it was signed (epoch ms). */
  issuedAt: number;
}

export interface UnsubscribeTokens {
  sign(uid: string, scope: UnsubscribeScope): Promise<string>;
  /** What the token grants, when its signature, audience, expiry and claims hold. */
  verify(token: string): Promise<UnsubscribeGrant | undefined>;
}

const keyFrom = (ticketSecret: string): Uint8Array => new Uint8Array(hkdfSync('sha256', ticketSecret, 'herald', 'herald unsubscribe v1', 32));

export function createUnsubscribeTokens(ticketSecret: string, options: { now?: () => number } = {}): UnsubscribeTokens {
  const key = keyFrom(ticketSecret);
  const now = options.now ?? Date.now;
  return {
    sign(uid, scope) {
      const seconds = Math.floor(now() / 1000);
      const claims = 'category' in scope ? { cat: scope.category } : { ch: scope.channel };
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uid)
        .setAudience(AUDIENCE)
        .setIssuedAt(seconds)
        .setExpirationTime(seconds + UNSUBSCRIBE_SECONDS)
        .sign(key);
    },
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > UNSUBSCRIBE_TOKEN_MAX) return undefined;
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          audience: AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat'],
          currentDate: new Date(now()),
        });
        const { sub, cat, ch, iat } = payload as { sub?: unknown; cat?: unknown; ch?: unknown; iat?: unknown };
        if (typeof sub !== 'string' || typeof iat !== 'number') return undefined;
        if (typeof cat === 'string' && ch === undefined) return { uid: sub, scope: { category: cat }, issuedAt: iat * 1000 };
        if (ch === 'email' && cat === undefined) return { uid: sub, scope: { channel: 'email' }, issuedAt: iat * 1000 };
        return undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** The scope an email of a message with `category` (or none) offers to switch off. */
export const unsubscribeScopeOf = (category: string | undefined): UnsubscribeScope => (category !== undefined ? { category } : { channel: 'email' });

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The base of unsubscribe links for HERALD_PUBLIC_URL, or undefined when emails must carry none:
 * unset, or not https (RFC 8058 requires an HTTPS URI) — except http on a loopback host, for
 * development. A path in it is kept (Herald behind a prefix).
 */
export function unsubscribeBase(publicUrl: string | undefined): string | undefined {
  if (!publicUrl) return undefined;
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/unsubscribe`;
}

export const unsubscribeLink = (base: string, token: string): string => `${base}?token=${encodeURIComponent(token)}`;

/** Signs the unsubscribe link of one email: what the pipeline hands the email channel. */
export interface UnsubscribeLinks {
  link(uid: string, scope: UnsubscribeScope): Promise<string>;
}

export const createUnsubscribeLinks = (tokens: UnsubscribeTokens, base: string): UnsubscribeLinks => ({
  link: async (uid, scope) => unsubscribeLink(base, await tokens.sign(uid, scope)),
});
