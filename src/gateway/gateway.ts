/**
 * The realtime gateway: WebSocket endpoint `/ws` on the same uWebSockets.js app as the API.
 *
 * - A ticket (from POST /api/v1/ws/token) is checked before the upgrade: 401 without one, with an
 *   invalid or expired one, or with one already used (tickets are single-use, cluster-wide).
 * - With HERALD_CORS_ORIGINS set, an upgrade whose Origin it does not list is 403, before the
 *   ticket is looked at (src/cors.ts); one without Origin (not a browser) is not checked.
 * - At most HERALD_MAX_SOCKETS_PER_USER sockets per user on this process: one more is 429.
 * - Refusals are problem+json (src/problem.ts); every uWS handler is guarded, so an exception is
 *   logged with an errorId (and answered 500 during an upgrade) and never reaches uWS.
 * - Every socket of a user receives that user's frames: the gateway subscribes to the user's
 *   bus subject while it holds at least one of their sockets, so routing works the same when the
 *   sender is another process.
 * - Broadcasts and threads use uWS's native pub/sub (src/gateway/routing.ts): one `app.publish`
 *   per signal writes to every subscribed socket — the broadcast topic, and a topic per thread
 *   (src/gateway/thread-topics.ts) for each socket of its members; a membership change
 *   (un)subscribes the user's sockets on this gateway.
 * - Exactly once on connect (src/gateway/catch-up.ts): until a socket's thread memberships are
 *   loaded and its `since=<id>` replay (unread messages newer than that id) is read, the frames
 *   meant for it are held; then the replay is sent oldest first, the held frames after it
 *   without the messages the replay sent, and only then is it subscribed to its topics. A socket
 *   holding too much, or whose store reads fail, is closed with 1013 (try again later).
 * - Presence: online while a socket lives; refreshed by `ping` frames and by pongs to the
 *   server's automatic pings, at most once per third of the TTL per user.
 * - A user erased (DELETE /api/v1/users/{uid}) has its sockets closed with 4410 "user erased".
 * - Backpressure: a socket that stops reading is closed once its buffer passes
 *   HERALD_WS_MAX_BACKPRESSURE, so server memory stays bounded.
 */

import uWS, { type TemplatedApp, type WebSocket } from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { TicketIssuer } from '../auth/tickets.js';
import { type Bus, type MembershipSignal, type Subscription, subjects, type ThreadFrame } from '../bus/port.js';
import type { CorsPolicy } from '../cors.js';
import { invalid, ProblemError } from '../errors.js';
import type { messageFrame } from '../exchange/message.js';
import { isId } from '../ids.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientReceiptState } from '../pipeline/client-receipts.js';
import { ERASED_CLOSE_CODE } from '../pipeline/erasure.js';
import type { ReadSignal } from '../pipeline/withdraw.js';
import { problemOf } from '../problem.js';
import type { Stores } from '../store/port.js';
import { errorFrame, PONG, parseClientFrame } from './frames.js';
import { closeSocket, createRouting, type RoutedData } from './routing.js';

const unauthorized = (detail: string) => new ProblemError('HERALD_UNAUTHORIZED', detail);

import type { Presence } from '../presence/port.js';

/** Seconds a client refused for the socket cap is asked to wait (a socket of theirs must close first). */
const SOCKET_CAP_RETRY_AFTER = 5;

interface UpgradeRequest {
  query: string;
  /** The page's origin, when a browser opens the socket ('' otherwise). */
  origin: string;
  key: string;
  protocol: string;
  extensions: string;
}

interface SocketData extends RoutedData {
  /** This socket, among the user's: a read it reports spares it the `read` frame (src/pipeline/withdraw.ts). */
  id: string;
  since?: string;
}

export interface GatewayOptions {
  app: TemplatedApp;
  /** HERALD_CORS_ORIGINS (src/cors.ts): when set, an upgrade from a page of another origin is 403. */
  cors?: CorsPolicy;
  /** Identifies this process as a presence holder. */
  holderId: string;
  tickets: TicketIssuer;
  bus: Bus;
  presence: Presence;
  stores: Stores;
  log: Logger;
  metrics: Metrics;
  maxBackpressure: number;
  idleTimeoutSeconds: number;
  /** Sockets one user may hold on this process (open plus being upgraded); one more is 429. */
  maxSocketsPerUser: number;
  presenceTtlMs: number;
  /** `socket`: the SocketData id of the socket that sent the frame. */
  onReceipts(uid: string, ids: string[], state: ClientReceiptState, socket: string): Promise<void>;
  /** A broadcast's or thread message's frame went out to `sockets` sockets of this gateway (one publish): its tally. */
  onPublished?(messageId: string, sockets: number): Promise<void>;
}

export interface Gateway {
  liveSockets(): number;
  /** Closes every socket with 1001 (going away) and stops routing. */
  close(): void;
}

export function mountGateway(options: GatewayOptions): Gateway {
  const { app, bus, presence, log } = options;
  const socketsByUid = new Map<string, Set<WebSocket<SocketData>>>();
  const userSubscriptions = new Map<string, Subscription>();
  const lastTouch = new Map<string, number>();
  let live = 0;

  const touch = (uid: string, force = false) => {
    const now = Date.now();
    if (!force && now - (lastTouch.get(uid) ?? 0) < options.presenceTtlMs / 3) return;
    lastTouch.set(uid, now);
    presence.touch(uid, options.holderId, options.presenceTtlMs).catch((error: unknown) => log.warn({ err: error }, 'presence not updated'));
  };

  /** Upgrades admitted but not yet open, per user: they count against the socket cap. */
  const pending = new Map<string, number>();
  const reserve = (uid: string) => {
    const count = (socketsByUid.get(uid)?.size ?? 0) + (pending.get(uid) ?? 0);
    if (count >= options.maxSocketsPerUser) {
      throw new ProblemError(
        'HERALD_RATE_LIMITED',
        `this user already has ${options.maxSocketsPerUser} sockets on this gateway (HERALD_MAX_SOCKETS_PER_USER); close one first`,
        {
          retryAfterSeconds: SOCKET_CAP_RETRY_AFTER,
        },
      );
    }
    pending.set(uid, (pending.get(uid) ?? 0) + 1);
  };
  const release = (uid: string | undefined) => {
    if (uid === undefined) return;
    const left = (pending.get(uid) ?? 1) - 1;
    if (left > 0) pending.set(uid, left);
    else pending.delete(uid);
  };

  const send = (ws: WebSocket<SocketData>, text: string) => {
    // 2 = dropped for backpressure; with closeOnBackpressureLimit uWS closes the socket.
    if (ws.send(text, false) === 2) options.metrics.wsClosedForBackpressure.inc();
  };

  const routing = createRouting<SocketData>({ app, stores: options.stores, log, send });
  /** Reports how many sockets a timeline message's frame reached here (not a recall's, or other frames'). */
  const tallied = (frame: unknown, sockets: number) => {
    const message = frame as { type?: unknown; id?: unknown };
    if (sockets === 0 || message.type !== 'message' || typeof message.id !== 'string' || !options.onPublished) return;
    options.onPublished(message.id, sockets).catch((error: unknown) => log.warn({ err: error }, 'the tally of a publish was not recorded'));
  };
  const socketsOf = (uid: string) => socketsByUid.get(uid) ?? [];

  /** A frame of the user's subject; a `read` signal may name a socket to skip (src/pipeline/withdraw.ts ReadSignal). */
  const routeUserFrame = (uid: string, frame: ReturnType<typeof messageFrame> | ReadSignal) => {
    if (frame.type === 'read' && 'except' in frame) {
      const { except, ...rest } = frame;
      routing.toSockets(
        [...socketsOf(uid)].filter((ws) => ws.getUserData().id !== except),
        JSON.stringify(rest),
        rest,
      );
    } else routing.toSockets(socketsOf(uid), JSON.stringify(frame), frame);
  };

  const subscriptions: Subscription[] = [
    bus.subscribe<ReturnType<typeof messageFrame>>(subjects.broadcastFrames, (frame) => tallied(frame, routing.publish(frame))),
    // One publish per thread message on this gateway, whatever the number of its members.
    bus.subscribe<ThreadFrame>(subjects.threadFrames, ({ thread, frame, at }) => tallied(frame, routing.publish(frame, { thread, postedAt: at }))),
    bus.subscribe<MembershipSignal>(subjects.membershipChanged, ({ uid, thread, member, at }) => routing.membership(socketsOf(uid), thread, member, at)),
    // The user was erased (src/pipeline/erasure.ts): its sockets close for good.
    bus.subscribe<{ uid: string }>(subjects.userErased, ({ uid }) => {
      for (const ws of [...(socketsByUid.get(uid) ?? [])]) closeSocket(ws, ERASED_CLOSE_CODE, 'user erased');
    }),
    bus.subscribe<{ uid: string; realtime: boolean }>(subjects.preferencesChanged, ({ uid, realtime }) => routing.realtime(socketsOf(uid), realtime)),
  ];

  /** Runs a uWS handler so that nothing it throws reaches uWS (which would end the process). */
  const guarded =
    <A extends unknown[]>(handler: string, fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (error) {
        const errorId = randomUUID();
        log.error({ err: error, errorId, handler }, 'gateway handler failed');
      }
    };

  app.ws<SocketData>('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    maxBackpressure: options.maxBackpressure,
    closeOnBackpressureLimit: 1,
    idleTimeout: options.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade(res, req, context) {
      let aborted = false;
      let answered = false;
      /** Answers a refusal (or a 500 with errorId) as problem+json, unless the client went away. */
      const refuse = (error: unknown) => {
        const problem = problemOf(error);
        if (problem.internal !== undefined) log.error({ err: problem.internal, errorId: problem.body.errorId }, 'upgrade failed');
        if (aborted || answered) return;
        answered = true;
        try {
          res.cork(() => {
            res.writeStatus(`${problem.body.status} ${STATUS_CODES[problem.body.status] ?? ''}`.trim());
            res.writeHeader('content-type', 'application/problem+json');
            for (const [name, value] of Object.entries(problem.headers)) res.writeHeader(name, value);
            res.end(JSON.stringify(problem.body));
          });
        } catch (writeError) {
          log.error({ err: writeError }, 'upgrade refusal not written');
        }
      };
      try {
        res.onAborted(() => {
          aborted = true;
        });
        // uWS's req lives only during this call: read everything now.
        const request: UpgradeRequest = {
          query: req.getQuery() ?? '',
          origin: req.getHeader('origin'),
          key: req.getHeader('sec-websocket-key'),
          protocol: req.getHeader('sec-websocket-protocol'),
          extensions: req.getHeader('sec-websocket-extensions'),
        };
        let data: SocketData | undefined;
        /** Checks the request and the ticket, reserves a socket slot; the socket's data, or throws a ProblemError. */
        const admit = async (r: UpgradeRequest): Promise<SocketData> => {
          // Before the ticket is looked at, so a page of a refused origin cannot spend one.
          if (options.cors?.enabled && r.origin !== '' && !options.cors.allows(r.origin)) {
            throw new ProblemError('HERALD_FORBIDDEN', `Origin ${JSON.stringify(r.origin.slice(0, 200))} may not open a socket (HERALD_CORS_ORIGINS)`);
          }
          const query = new URLSearchParams(r.query);
          const ticket = query.get('token') ?? '';
          const since = query.get('since') ?? undefined;
          if (since !== undefined && !isId(since)) throw invalid([{ path: 'since', message: 'must be a message id' }]);
          if (!ticket) throw unauthorized('missing ticket: pass ?token= from POST /api/v1/ws/token');
          const verified = await options.tickets.verify(ticket);
          if (!verified) throw unauthorized('ticket is invalid or expired');
          reserve(verified.uid);
          data = { uid: verified.uid, id: randomUUID(), realtimeOff: false, threads: new Set() };
          let fresh: boolean;
          try {
            fresh = await options.tickets.redeem(verified);
          } catch (error) {
            throw new ProblemError('HERALD_UNAVAILABLE', 'ticket ledger unavailable, retry later', { retryAfterSeconds: 5 }, { cause: error });
          }
          if (!fresh) throw unauthorized('ticket was already used: get a new one from POST /api/v1/ws/token for each connection');
          const preferences = await options.stores.users.getPreferences(verified.uid);
          data.realtimeOff = preferences.channels.realtime === false;
          if (since) data.since = since;
          return data;
        };
        void admit(request)
          .then((admitted) => {
            if (aborted) return release(admitted.uid);
            answered = true;
            // Deliberately not inside res.cork(). In the uWS bundled here (uWS.js 20.30), cork() runs
            // its HTTP clean-up after the callback: when the upgrade adopted the socket at the same
            // address, it reads the old HttpResponse's state from what is now the WebSocket and,
            // when those bytes look like "connection: close, response done", shuts the socket down
            // right after open: about 1 in 1,000 sockets of a burst closed with 1006 at both ends.
            // Fixed upstream in uNetworking/uWebSockets#1929 (cork() also compares the socket
            // context); once Herald's uWS.js has it, this may go back inside res.cork. Uncorked,
            // upgrade writes the 101 itself (uWS.js prints a cork warning on stderr for it).
            // The caller is a Node I/O callback (ticket check, ledger, store read), never a uWS one.
            // The slot stays reserved until `open` counts the socket itself: uWS may open it after
            // this call returns, and a concurrent upgrade must not see the slot free in between.
            res.upgrade(admitted, request.key, request.protocol, request.extensions, context);
          })
          .catch((error: unknown) => {
            release(data?.uid);
            refuse(error);
          });
      } catch (error) {
        refuse(error);
      }
    },

    open: guarded('open', (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      live += 1;
      let sockets = socketsByUid.get(data.uid);
      if (!sockets) {
        sockets = new Set();
        socketsByUid.set(data.uid, sockets);
        const uid = data.uid;
        userSubscriptions.set(
          uid,
          bus.subscribe<ReturnType<typeof messageFrame> | ReadSignal>(subjects.userFrames(uid), (frame) => routeUserFrame(uid, frame)),
        );
      }
      sockets.add(ws);
      release(data.uid); // its reservation, now counted in socketsByUid
      touch(data.uid, true);
      const since = data.since;
      delete data.since;
      routing.open(ws, since).catch((error: unknown) => log.error({ err: error, uid: data.uid }, 'socket not caught up'));
    }),

    message: guarded('message', (ws: WebSocket<SocketData>, raw: ArrayBuffer) => {
      const { uid, id } = ws.getUserData();
      const parsed = parseClientFrame(Buffer.from(raw).toString('utf8'));
      if (!parsed.ok) return send(ws, errorFrame('HERALD_INVALID_FRAME', parsed.detail));
      const frame = parsed.frame;
      if (frame.type === 'ping') {
        touch(uid, true);
        return send(ws, PONG);
      }
      options.onReceipts(uid, frame.ids, frame.type === 'ack' ? 'delivered' : 'read', id).catch((error: unknown) => {
        log.error({ err: error, uid }, 'client receipt not recorded');
      });
    }),

    pong: guarded('pong', (ws: WebSocket<SocketData>) => {
      touch(ws.getUserData().uid);
    }),

    drain: guarded('drain', (ws: WebSocket<SocketData>) => {
      log.debug({ uid: ws.getUserData().uid, buffered: ws.getBufferedAmount() }, 'socket drained');
    }),

    close: guarded('close', (ws: WebSocket<SocketData>) => {
      const { uid } = ws.getUserData();
      live -= 1;
      routing.close(ws);
      const sockets = socketsByUid.get(uid);
      if (!sockets) return;
      sockets.delete(ws);
      if (sockets.size > 0) return;
      socketsByUid.delete(uid);
      lastTouch.delete(uid);
      userSubscriptions.get(uid)?.unsubscribe();
      userSubscriptions.delete(uid);
      presence.leave(uid, options.holderId).catch((error: unknown) => log.warn({ err: error }, 'presence not cleared'));
    }),
  });

  return {
    liveSockets: () => live,
    close() {
      for (const s of subscriptions) s.unsubscribe();
      for (const s of userSubscriptions.values()) s.unsubscribe();
      for (const sockets of [...socketsByUid.values()]) for (const ws of [...sockets]) closeSocket(ws, 1001, 'server shutting down');
    },
  };
}
