/**
 * The realtime gateway: WebSocket endpoint `/ws` on the same uWebSockets.js app as the API.
 *
 * - A ticket (from POST /api/v1/ws/token) is checked before the upgrade: 401 without one.
 * - Every socket of a user receives that user's frames: the gateway subscribes to the user's
 *   bus subject while it holds at least one of their sockets, so routing works the same when the
 *   sender is another process.
 * - Broadcasts use uWS's native pub/sub: one `app.publish` writes to every subscribed socket.
 * - `since=<id>` replays unread messages newer than that id, oldest first, on connect.
 * - Presence: online while a socket lives; refreshed by `ping` frames and by pongs to the
 *   server's automatic pings, at most once per third of the TTL per user.
 * - Backpressure: a socket that stops reading is closed once its buffer passes
 *   HERALD_WS_MAX_BACKPRESSURE, so server memory stays bounded.
 */
import uWS, { type TemplatedApp, type WebSocket } from 'uWebSockets.js';
import type { TicketIssuer } from '../auth/tickets.js';
import { type Bus, type Subscription, subjects } from '../bus/port.js';
import { messageFrame } from '../exchange/message.js';
import type { InboxItem } from '../exchange/types.js';
import { isId } from '../ids.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientReceiptState } from '../pipeline/client-receipts.js';
import type { Stores } from '../store/port.js';
import { errorFrame, PONG, parseClientFrame } from './frames.js';
import type { Presence } from './presence-port.js';

const BROADCAST_TOPIC = 'broadcast';
/** At most this many unread messages are replayed on connect; older ones are read over REST. */
export const SINCE_REPLAY_LIMIT = 1000;

interface SocketData {
  uid: string;
  since?: string;
  realtimeOff: boolean;
}

export interface GatewayOptions {
  app: TemplatedApp;
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
  presenceTtlMs: number;
  onReceipts(uid: string, ids: string[], state: ClientReceiptState): Promise<void>;
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

  const send = (ws: WebSocket<SocketData>, text: string) => {
    // 2 = dropped for backpressure; with closeOnBackpressureLimit uWS closes the socket.
    if (ws.send(text, false) === 2) options.metrics.wsClosedForBackpressure.inc();
  };

  const sendToUser = (uid: string, text: string) => {
    const sockets = socketsByUid.get(uid);
    if (sockets) for (const ws of sockets) send(ws, text);
  };

  const subscriptions: Subscription[] = [
    bus.subscribe<ReturnType<typeof messageFrame>>(subjects.broadcastFrames, (frame) => {
      app.publish(BROADCAST_TOPIC, JSON.stringify(frame), false);
    }),
    bus.subscribe<{ uid: string; realtime: boolean }>(subjects.preferencesChanged, ({ uid, realtime }) => {
      for (const ws of socketsByUid.get(uid) ?? []) {
        if (realtime) ws.subscribe(BROADCAST_TOPIC);
        else ws.unsubscribe(BROADCAST_TOPIC);
      }
    }),
  ];

  app.ws<SocketData>('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    maxBackpressure: options.maxBackpressure,
    closeOnBackpressureLimit: 1,
    idleTimeout: options.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade(res, req, context) {
      const query = new URLSearchParams(req.getQuery() ?? '');
      const ticket = query.get('token') ?? '';
      const since = query.get('since') ?? undefined;
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const reject = (status: string, detail: string) =>
        res.cork(() => {
          res.writeStatus(status).writeHeader('content-type', 'application/problem+json');
          res.end(
            JSON.stringify({
              type: 'https://herald.dev/problems/herald-unauthorized',
              title: 'Unauthorized',
              status: Number.parseInt(status, 10),
              detail,
              code: status.startsWith('401') ? 'HERALD_UNAUTHORIZED' : 'HERALD_INVALID_REQUEST',
            }),
          );
        });
      void (async () => {
        const uid = ticket ? await options.tickets.verify(ticket) : undefined;
        if (aborted) return;
        if (!uid) return reject('401 Unauthorized', ticket ? 'ticket is invalid or expired' : 'missing ticket: pass ?token= from POST /api/v1/ws/token');
        if (since !== undefined && !isId(since)) return reject('400 Bad Request', 'since must be a message id');
        const preferences = await options.stores.users.getPreferences(uid);
        if (aborted) return;
        const data: SocketData = { uid, realtimeOff: preferences.channels.realtime === false };
        if (since) data.since = since;
        res.cork(() => res.upgrade(data, key, protocol, extensions, context));
      })().catch((error: unknown) => {
        log.error({ err: error }, 'upgrade failed');
        if (!aborted) res.cork(() => res.writeStatus('503 Service Unavailable').end());
      });
    },

    open(ws) {
      const data = ws.getUserData();
      live += 1;
      let sockets = socketsByUid.get(data.uid);
      if (!sockets) {
        sockets = new Set();
        socketsByUid.set(data.uid, sockets);
        const uid = data.uid;
        userSubscriptions.set(
          uid,
          bus.subscribe<ReturnType<typeof messageFrame>>(subjects.userFrames(uid), (frame) => sendToUser(uid, JSON.stringify(frame))),
        );
      }
      sockets.add(ws);
      if (!data.realtimeOff) ws.subscribe(BROADCAST_TOPIC);
      touch(data.uid, true);
      if (data.since) {
        const since = data.since;
        delete data.since;
        void replaySince(ws, data.uid, since);
      }
    },

    message(ws, raw) {
      const { uid } = ws.getUserData();
      const parsed = parseClientFrame(Buffer.from(raw).toString('utf8'));
      if (!parsed.ok) return send(ws, errorFrame('HERALD_INVALID_FRAME', parsed.detail));
      const frame = parsed.frame;
      if (frame.type === 'ping') {
        touch(uid, true);
        return send(ws, PONG);
      }
      options.onReceipts(uid, frame.ids, frame.type === 'ack' ? 'delivered' : 'read').catch((error: unknown) => {
        log.error({ err: error, uid }, 'client receipt not recorded');
      });
    },

    pong(ws) {
      touch(ws.getUserData().uid);
    },

    close(ws) {
      const { uid } = ws.getUserData();
      live -= 1;
      const sockets = socketsByUid.get(uid);
      if (!sockets) return;
      sockets.delete(ws);
      if (sockets.size > 0) return;
      socketsByUid.delete(uid);
      lastTouch.delete(uid);
      userSubscriptions.get(uid)?.unsubscribe();
      userSubscriptions.delete(uid);
      presence.leave(uid, options.holderId).catch((error: unknown) => log.warn({ err: error }, 'presence not cleared'));
    },
  });

  /** Sends unread messages newer than `since`, oldest first. The socket may close meanwhile. */
  async function replaySince(ws: WebSocket<SocketData>, uid: string, since: string) {
    const items: InboxItem[] = [];
    let before: string | undefined;
    while (items.length < SINCE_REPLAY_LIMIT) {
      const page = await options.stores.inbox.list(uid, { limit: 200, since, unreadOnly: true, ...(before ? { before } : {}) });
      items.push(...page);
      if (page.length < 200) break;
      before = page[page.length - 1]?.message.id;
    }
    if (!socketsByUid.get(uid)?.has(ws)) return;
    ws.cork(() => {
      for (const item of items.reverse()) send(ws, JSON.stringify(messageFrame(item.message)));
    });
  }

  return {
    liveSockets: () => live,
    close() {
      for (const s of subscriptions) s.unsubscribe();
      for (const s of userSubscriptions.values()) s.unsubscribe();
      for (const sockets of [...socketsByUid.values()]) for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
    },
  };
}
