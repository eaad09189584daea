/**
 * GET /ws as an operation of the OpenAPI document: the WebSocket upgrade is not a REST route
 * (src/gateway/gateway.ts mounts it), so its answers are all spelled out here, and its frames,
 * which OpenAPI cannot model, are described in its text and as JSON schemas under
 * `x-herald-frames`. app.ts adds it to the document of a process with the gateway role.
 */
import { z } from 'zod';
import type { Operation } from '../api/openapi.js';
import { refusals } from '../api/route.js';
import { CATCH_UP_MAX_CHARS, SINCE_REPLAY_LIMIT } from './catch-up.js';
import { clientFrame, serverFrame } from './frames.js';
import { MAX_THREADS_PER_SOCKET } from './thread-topics.js';

const wsQuery = z.object({
  token: z.string().describe('A ticket from POST /api/v1/ws/token (single-use)'),
  since: z.uuid().optional().describe(`Replay the unread messages newer than this id first, oldest first (at most ${SINCE_REPLAY_LIMIT})`),
});

const DESCRIPTION = `Upgrades to a WebSocket carrying JSON text frames. The ticket is checked before the upgrade; refusals are problem+json.

Server → client frames:
- \`{"type": "message", "id", "msg", "title", "data", "urgency", "link", "createdAt", "sender"?}\`: a message for the user (\`sender\` only when a non-admin sent it). Every socket of the user receives it; broadcasts reach every socket whose user has not turned the realtime channel off; a thread's messages reach its members' sockets (at most ${MAX_THREADS_PER_SOCKET} threads per socket). Each message reaches a socket once: what arrives while it opens waits until the since= replay is sent, and is sent after it without the messages the replay sent.
- \`{"type": "pong"}\`: the answer to a ping frame.
- \`{"type": "error", "code": "HERALD_INVALID_FRAME", "detail"}\`: a client frame that is not valid; the socket stays open.

Client → server frames:
- \`{"type": "ack", "ids": [...]}\`: the messages reached the client (realtime receipt delivered).
- \`{"type": "read", "ids": [...]}\`: the user read them (realtime receipt read).
- \`{"type": "ping"}\`: a check-in; refreshes presence (pongs to the server's own WebSocket pings do too).

The socket is closed with 1001 when the server shuts down, with 1013 (try again later: reconnect with since=) when more than ${CATCH_UP_MAX_CHARS} characters of frames waited for it while it opened or its threads or replay could not be read, and by the server when the client stops reading and its buffer passes HERALD_WS_MAX_BACKPRESSURE; an idle one after HERALD_WS_IDLE_TIMEOUT seconds without traffic (the server pings it meanwhile).`;

/** The operation documents the query schema it lists; the gateway checks the same two parameters itself. */
export const wsOperation: Operation = {
  method: 'GET',
  path: '/ws',
  access: 'public',
  doc: { summary: 'The realtime WebSocket', description: DESCRIPTION, tag: 'realtime', query: wsQuery, answers: {} },
  answers: new Map(
    Object.entries({
      101: { description: 'Switching Protocols: the socket is open' },
      ...refusals({
        HERALD_INVALID_REQUEST: 'since is not a message id',
        HERALD_UNAUTHORIZED: 'no ticket, or one that is invalid, expired or already used',
        HERALD_FORBIDDEN: 'HERALD_CORS_ORIGINS is set and the page opening the socket is of another origin (Origin)',
        HERALD_RATE_LIMITED: 'the user already holds HERALD_MAX_SOCKETS_PER_USER sockets on this gateway process (Retry-After: 5)',
        HERALD_INTERNAL: 'a bug: quote the errorId',
        HERALD_UNAVAILABLE: 'the ticket ledger is unavailable (Retry-After: 5)',
      }),
    }).map(([status, answer]) => [Number(status), answer]),
  ),
  frames: { client: clientFrame, server: serverFrame },
};
