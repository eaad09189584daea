/**
 * How frames reach the sockets of one gateway (src/gateway/gateway.ts holds the sockets and the
 * bus subscriptions, and calls this):
 *
 * - a user's frame is written to each of that user's sockets (`toSockets`);
 * - a broadcast or a thread's frame is one `app.publish` to its uWS topic (`publish`): the
 *   broadcast topic, or the thread's (src/gateway/thread-topics.ts), whatever the audience;
 * - a socket catches up from `open` (src/gateway/catch-up.ts): what is meant for it is held —
 *   its user's frames, and the published ones, which would not reach it since it is not
 *   subscribed yet — until its memberships and replay are read (`open` does both); then it is
 *   sent the replay and what it held, and subscribed to its topics, in one cork;
 * - a socket whose user joins a thread is sent the thread's frames this gateway published before
 *   it heard of the join, of messages posted since the join (src/gateway/recent-thread-frames.ts),
 *   then subscribed to the thread's topic.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { Logger } from '../observability/log.js';
import type { Stores } from '../store/port.js';
import { CATCH_UP_OVERFLOW_CODE, CatchUp, type Held, heldFrame, type Replayed, readReplay } from './catch-up.js';
import { RecentThreadFrames } from './recent-thread-frames.js';
import { applyMembership, loadThreads, threadTopic } from './thread-topics.js';

/** The topic of broadcasts: no thread topic is it (thread topics are `thread/<name>`). */
export const BROADCAST_TOPIC = 'broadcast';

/** What routing reads and keeps on a socket. */
export interface RoutedData {
  uid: string;
  /** The user turned the realtime channel off: no broadcasts. */
  realtimeOff: boolean;
  /** The threads whose topics it is subscribed to, once caught up. */
  threads: Set<string>;
}

export interface RoutingOptions {
  app: TemplatedApp;
  stores: Pick<Stores, 'inbox' | 'timelines'>;
  log: Logger;
  /** Writes a frame to a socket (counting one dropped for backpressure). */
  send(ws: WebSocket<RoutedData>, text: string): void;
}

/** Closes `ws` from outside a uWS callback (a bus signal, after an await): the close frame is written in a cork, as uWS asks. */
export function closeSocket(ws: WebSocket<unknown>, code: number, reason: string): void {
  ws.cork(() => ws.end(code, reason));
}

export function createRouting<D extends RoutedData>(options: RoutingOptions) {
  const { app, log, send } = options;
  /** The sockets catching up: what is meant for them is held, not sent. */
  const catchingUp = new Map<WebSocket<D>, CatchUp>();
  const recentThreadFrames = new RecentThreadFrames();

  /** Holds `entry` for a catching-up socket; one that holds too much is closed (a reconnect with since= recovers). */
  const hold = (ws: WebSocket<D>, catchUp: CatchUp, entry: Held) => {
    if (catchUp.hold(entry)) return;
    catchingUp.delete(ws);
    log.warn({ uid: ws.getUserData().uid }, 'socket closed: too many frames held while it caught up');
    closeSocket(ws, CATCH_UP_OVERFLOW_CODE, 'try again later');
  };

  /** (Un)subscribes the socket to the broadcast topic and its threads' topics. */
  const subscribeTopics = (ws: WebSocket<D>, on: boolean) => {
    for (const topic of [BROADCAST_TOPIC, ...[...ws.getUserData().threads].map(threadTopic)]) {
      if (on) ws.subscribe(topic);
      else ws.unsubscribe(topic);
    }
  };

  /** Sends the replay and what the socket held, subscribes it to its topics: it is caught up. */
  const finish = (ws: WebSocket<D>, catchUp: CatchUp, replay: Replayed[], loaded: Map<string, number>) => {
    catchingUp.delete(ws);
    const settled = catchUp.settle(replay, loaded);
    const data = ws.getUserData();
    data.threads = settled.threads;
    ws.cork(() => {
      for (const text of settled.texts) send(ws, text);
      if (!data.realtimeOff) subscribeTopics(ws, true);
    });
  };

  return {
    /**
     * Starts the socket's catch-up: reads its user's threads and, with `since`, the replay;
     * then, unless it closed meanwhile, finishes it. A failed read closes it with 1013.
     */
    async open(ws: WebSocket<D>, since: string | undefined): Promise<void> {
      const catchUp = new CatchUp();
      catchingUp.set(ws, catchUp);
      const { uid } = ws.getUserData();
      let read: [Map<string, number>, Replayed[]];
      try {
        read = await Promise.all([loadThreads(options.stores.timelines, uid), since ? readReplay(options.stores.inbox, uid, since) : []]);
      } catch (error) {
        log.error({ err: error, uid }, 'socket closed: its thread memberships or since= replay could not be read');
        if (catchingUp.delete(ws)) closeSocket(ws, CATCH_UP_OVERFLOW_CODE, 'try again later');
        return;
      }
      if (catchingUp.get(ws) === catchUp) finish(ws, catchUp, read[1], read[0]);
    },

    /** The socket closed: its catch-up, if any, is dropped. */
    close(ws: WebSocket<D>): void {
      catchingUp.delete(ws);
    },

    /** A frame for these sockets (a user's): sent, or held by those catching up. */
    toSockets(sockets: Iterable<WebSocket<D>>, text: string, frame: unknown): void {
      for (const ws of [...sockets]) {
        const catchUp = catchingUp.get(ws);
        if (catchUp) hold(ws, catchUp, heldFrame(text, frame));
        else send(ws, text);
      }
    },

    /**
     * A broadcast (no `thread`) or a thread's frame: one publish, and held by every socket
     * catching up. Returns how many sockets the publish wrote it to: those subscribed to the
     * topic (not those catching up, which may yet drop it, nor late joiners sent it later).
     */
    publish(frame: unknown, to?: { thread: string; postedAt: number }): number {
      const text = JSON.stringify(frame);
      const thread = to?.thread;
      const topic = thread === undefined ? BROADCAST_TOPIC : threadTopic(thread);
      app.publish(topic, text, false);
      if (to) recentThreadFrames.remember(to.thread, text, to.postedAt);
      for (const [ws, catchUp] of [...catchingUp]) {
        if (ws.getUserData().realtimeOff) continue;
        hold(ws, catchUp, heldFrame(text, frame, to));
      }
      return app.numSubscribers(topic);
    },

    /** The user of these sockets joined (`member`) or left the thread at `at`. */
    membership(sockets: Iterable<WebSocket<D>>, thread: string, member: boolean, at: number): void {
      let missed: string[] | undefined;
      for (const ws of [...sockets]) {
        const catchUp = catchingUp.get(ws);
        if (catchUp) hold(ws, catchUp, { kind: 'membership', thread, member, at });
        else if (applyMembership(ws.getUserData().threads, thread, member) && !ws.getUserData().realtimeOff) {
          if (!member) {
            ws.unsubscribe(threadTopic(thread));
            continue;
          }
          missed ??= recentThreadFrames.postedSince(thread, at);
          ws.cork(() => {
            for (const text of missed ?? []) send(ws, text);
            ws.subscribe(threadTopic(thread));
          });
        }
      }
    },

    /** The user of these sockets turned the realtime channel on or off: broadcasts and thread messages follow. */
    realtime(sockets: Iterable<WebSocket<D>>, on: boolean): void {
      for (const ws of sockets) {
        ws.getUserData().realtimeOff = !on;
        if (catchingUp.has(ws)) continue; // it subscribes as it catches up
        subscribeTopics(ws, on);
      }
    },
  };
}
