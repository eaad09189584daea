/**
 * WebSocket tickets: short-lived JWTs (HS256, internal key, audience `herald:ws`) that a client
 * gets from POST /api/v1/ws/token and presents in the upgrade URL. Being signed rather than
 * stored, a ticket issued by one process is accepted by every gateway of the cluster; being a
 * different key and audience from API tokens, neither can stand in for the other.
 */
import { jwtVerify, SignJWT } from 'jose';

const AUDIENCE = 'herald:ws';

export interface TicketIssuer {
  issue(uid: string): Promise<{ token: string; expiresIn: number }>;
  /** The ticket's uid, or undefined when missing, invalid or expired. */
  verify(ticket: string): Promise<string | undefined>;
}

export function createTickets(secret: string, ttlSeconds: number): TicketIssuer {
  const key = new TextEncoder().encode(secret);
  return {
    async issue(uid) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(uid)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key);
      return { token, expiresIn: ttlSeconds };
    },
    async verify(ticket) {
      try {
        const { payload } = await jwtVerify(ticket, key, { algorithms: ['HS256'], audience: AUDIENCE });
        return payload.sub;
      } catch {
        return undefined;
      }
    },
  };
}
