/**
 * Capabilities: what a service worker, which holds no user JWT, presents instead of one. Both are
 * HS256 JWTs (jose) signed with a key derived from the ticket secret (HKDF-SHA256, its own
 * label), so every process of a cluster verifies what any other signed, no secret is added to
 * configure, and neither can be taken for an API token (another key) or a WebSocket ticket
 * (another key and audience).
 *
 *  - A **receipt capability** (audience `herald:receipt`) names one message, one user and one
 *    device (claims `sub`, `mid`, `dev`, and `ch` the channel it was pushed on). POST
 *    /api/v1/receipts records with it that message's receipt of that device on that channel,
 *    and nothing else. It expires with the message (its
 *    `expiresAt`), at most RECEIPT_MAX_SECONDS after it was signed (the longest a push service
 *    keeps a push, and the lifetime of a message without ttl).
 *  - A **renewal capability** (audience `herald:renew`) names one user and one web push device,
 *    bound to the device's endpoint as it was when signed (claim `eph`, a hash of it). It lets
 *    the worker replace that subscription when the browser rotates it (`pushsubscriptionchange`,
 *    POST /api/v1/native/renew). Once used, the device's endpoint is another one: the
 *    capability no longer matches, so it works once; and `redeemRenewal` claims the (device,
 *    endpoint) pair in the ticket ledger (shared by a cluster's processes) before the
 *    replacement is written, so two renewals racing with capabilities of one pair cannot both
 *    pass the endpoint check.
 *
 * Both travel only inside the end-to-end encrypted push payload (RFC 8291: only the browser
 * holding the subscription's keys reads them). The worker keeps the renewal capability in Cache
 * Storage, the origin's (docs/security.md says what that exposes).
 */
import { createHash, hkdfSync } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { TicketLedger } from '../ticket-ledger/port.js';

const RECEIPT_AUDIENCE = 'herald:receipt';
const RENEW_AUDIENCE = 'herald:renew';
/** Four weeks: a push service keeps a push at most this long (the web push TTL of a message without ttl). */
export const RECEIPT_MAX_SECONDS = 2_419_200;
/** A renewal capability's lifetime: a new one comes with every push. */
export const RENEW_SECONDS = 2_419_200;

export interface ReceiptGrant {
  uid: string;
  messageId: string;
  deviceId: string;
  /** The channel the message reached the device on: the receipt's channel. */
  channel: string;
}

export interface RenewalGrant {
  uid: string;
  deviceId: string;
  /** endpointHash() of the device's endpoint when the capability was signed. */
  endpointHash: string;
}

export interface Capabilities {
  /** A receipt capability for (message, user, device), expiring with the message (`expiresAt`, epoch ms) or at the bounded default. */
  receipt(grant: ReceiptGrant, expiresAt?: number): Promise<string>;
  /** What the capability grants, when its signature, audience and expiry hold. */
  verifyReceipt(token: string): Promise<ReceiptGrant | undefined>;
  /** A renewal capability for the web push device `deviceId` of `uid`, whose endpoint is `endpoint` now. */
  renewal(uid: string, deviceId: string, endpoint: string): Promise<string>;
  verifyRenewal(token: string): Promise<RenewalGrant | undefined>;
  /**
   * Uses up the renewal of the grant's (device, endpoint): true the first time, false ever after
   * (for every capability of that pair, anywhere in the cluster). Rejects with
   * TicketLedgerUnavailableError when the ledger does not answer.
   */
  redeemRenewal(grant: RenewalGrant): Promise<boolean>;
}

/** The hash a renewal capability binds its device's endpoint with. */
export const endpointHash = (endpoint: string): string => createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);

const keyFrom = (ticketSecret: string): Uint8Array => new Uint8Array(hkdfSync('sha256', ticketSecret, 'herald', 'herald capabilities v1', 32));

export interface CapabilityOptions {
  /** Where used renewals are remembered: the process's ticket ledger (Redis in a cluster). */
  ledger: TicketLedger;
  now?: () => number;
}

export function createCapabilities(ticketSecret: string, options: CapabilityOptions): Capabilities {
  const key = keyFrom(ticketSecret);
  const now = options.now ?? Date.now;
  const seconds = () => Math.floor(now() / 1000);
  const verify = async (token: string, audience: string) => {
    if (typeof token !== 'string' || token.length > 2048) return undefined;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], audience, requiredClaims: ['sub', 'exp'], currentDate: new Date(now()) });
      return payload;
    } catch {
      return undefined;
    }
  };
  return {
    receipt(grant, expiresAt) {
      const latest = seconds() + RECEIPT_MAX_SECONDS;
      const exp = expiresAt === undefined ? latest : Math.min(latest, Math.ceil(expiresAt / 1000));
      return new SignJWT({ mid: grant.messageId, dev: grant.deviceId, ch: grant.channel })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(grant.uid)
        .setAudience(RECEIPT_AUDIENCE)
        .setExpirationTime(exp)
        .sign(key);
    },
    async verifyReceipt(token) {
      const payload = await verify(token, RECEIPT_AUDIENCE);
      const { sub, mid, dev, ch } = payload ?? {};
      if (typeof sub !== 'string' || typeof mid !== 'string' || typeof dev !== 'string' || typeof ch !== 'string') return undefined;
      return { uid: sub, messageId: mid, deviceId: dev, channel: ch };
    },
    renewal(uid, deviceId, endpoint) {
      return new SignJWT({ dev: deviceId, eph: endpointHash(endpoint) })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uid)
        .setAudience(RENEW_AUDIENCE)
        .setExpirationTime(seconds() + RENEW_SECONDS)
        .sign(key);
    },
    async verifyRenewal(token) {
      const payload = await verify(token, RENEW_AUDIENCE);
      if (!payload || typeof payload.sub !== 'string' || typeof payload.dev !== 'string' || typeof payload.eph !== 'string') return undefined;
      return { uid: payload.sub, deviceId: payload.dev, endpointHash: payload.eph };
    },
    // Every capability of the pair signed so far expires within RENEW_SECONDS; one signed later
    // names a device that the renewal removed.
    redeemRenewal: (grant) => options.ledger.claim(`renew:${grant.deviceId}:${grant.endpointHash}`, now() + RENEW_SECONDS * 1000),
  };
}
