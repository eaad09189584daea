/**
 * WebSocket tickets: short-lived JWTs (HS256, internal key, audience `herald:ws`) that a client
 * gets from POST /api/v1/ws/token and presents in the upgrade URL. Being signed rather than
 * stored, a ticket issued by one process is accepted by every gateway of the cluster; being a
 * different key and audience from API tokens, neither can stand in for the other.
 *
 * Single use: each ticket carries a random `jti`, and `redeem` records it in the TicketLedger
 * (in memory embedded, Redis in a cluster), so a second upgrade with the same ticket is refused
 * on every gateway.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { TicketLedger } from '../ticket-ledger/port.js';

const AUDIENCE = 'herald:ws';

export interface VerifiedTicket {
  uid: string;
  jti: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface TicketIssuer {
  issue(uid: string): Promise<{ token: string; expiresIn: number }>;
  /** The ticket's claims when its signature, audience and expiry hold; does not use it up. */
  verify(ticket: string): Promise<VerifiedTicket | undefined>;
  /** Uses the ticket up: true the first time, false when it was already redeemed (anywhere). */
  redeem(ticket: VerifiedTicket): Promise<boolean>;
}

export function createTickets(secret: string, ttlSeconds: number, ledger: TicketLedger): TicketIssuer {
  const key = new TextEncoder().encode(secret);
  return {
    async issue(uid) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uid)
        .setAudience(AUDIENCE)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key);
      return { token, expiresIn: ttlSeconds };
    },
    async verify(ticket) {
      try {
        const { payload } = await jwtVerify(ticket, key, { algorithms: ['HS256'], audience: AUDIENCE, requiredClaims: ['sub', 'jti', 'exp'] });
        if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return undefined;
        return { uid: payload.sub, jti: payload.jti, expiresAt: payload.exp * 1000 };
      } catch {
        return undefined;
      }
    },
    redeem: (ticket) => ledger.claim(ticket.jti, ticket.expiresAt),
  };
}
