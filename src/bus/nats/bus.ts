/**
 * NATS Bus adapter (distributed mode): work on JetStream, signals on core NATS.
 *
 * Guarantees, beyond the Bus port contract:
 *  - `publish` resolves only once JetStream has stored the message (PubAck); it rejects with
 *    `BusUnavailableError` (cause attached) when the PubAck does not come within
 *    `publishTimeoutMs` (server down, reconnecting, no stream) or after `close()`. A stream deleted
 *    under a running bus is re-created once before giving up. A publish that timed out while
 *    reconnecting may still reach the stream later (nats.js flushes its buffer on reconnect), so
 *    a retried 503 can yield a duplicate: consumers are idempotent (at-least-once) anyway.
 *  - Work subjects live under the stream prefix on the wire (`herald.accepted.high` travels as
 *    `HERALD.accepted.high` in stream `HERALD_ACCEPTED`; other subjects in `HERALD_WORK`), which
 *    keeps prefixes isolated and work apart from signals of the same subject (nats/naming.ts).
 *  - Work is durable and at-least-once across processes: each (group, subject) is one durable pull
 *    consumer with explicit ack; a message whose process dies before acknowledging is redelivered
 *    to another member after `ackWaitMs`. Long handlers keep their message with `working()`.
 *  - Redelivery after a handler throws: `nak` with the consumer's backoff; dead-lettering to
 *    `herald.dead.<subject>` (a JetStream subject too) after `maxDeliver` attempts. See
 *    nats/member.ts for the per-message rules and bounded concurrency, nats/admin.ts for the
 *    stream and consumer settings, nats/naming.ts for the wire subjects and stream names.
 *  - Each subject has its own consumer per group, so a backlog on `herald.accepted.low` never
 *    delays `herald.accepted.high`.
 *  - Signals are core NATS publish/subscribe on the bus subject itself: fire-and-forget, never
 *    stored; a throwing (or rejecting) subscriber is logged and affects no other.
 *  - The connection reconnects forever with jitter; `healthy()` is false while disconnected.
 *    Losing the connection and getting it back each call every subscription's `onGap`.
 *  - `close()` stops pulling, waits for in-flight handlers (their acks go out), then drains.
 *  - `depths()` reports, from JetStream consumer info, pending + ack-pending work per subject
 *    across all processes (see nats/depths.ts). It is synchronous for the metrics gauge, so it
 *    returns the last reading and starts a fresh one when that is older than `depthsMaxAgeMs`;
 *    `refreshDepths()` reads them now.
 */
import type { JetStreamClient, JetStreamManager, NatsConnection, Subscription as NatsSubscription, QueuedIterator, Status } from 'nats';
import { connect, Events, headers as natsHeaders } from 'nats';
import type { ConsumeOptions, SignalOptions, Subscription, WorkHandler } from '../port.js';
import { BusUnavailableError } from '../port.js';
import { ensureConsumer, ensureStreams, isNoResponders, isStreamNotFound } from './admin.js';
import { readDepths } from './depths.js';
import { Member } from './member.js';
import { durableName, streamDefs, streamNameOf, validatePrefix, validateSubject, wireSubjectOf } from './naming.js';
import type { NatsBus, NatsBusOptions } from './options.js';

export type { BusLogger } from './member.js';
export type { NatsBus, NatsBusOptions } from './options.js';

const DAY_MS = 86_400_000;
const DRAIN_TIMEOUT_MS = 5_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeJson(subject: string, data: unknown): Uint8Array {
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`bus payload for ${subject} is not JSON-serialisable`);
  return encoder.encode(json);
}

export async function createNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const prefix = validatePrefix(options.streamPrefix ?? 'HERALD');
  const logger = options.logger;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  // A pull request dies with the server it was sent to; after a NATS restart a consumer waits
  // out its expiry before pulling again, so a short expiry bounds that stall (at the cost of one
  // idle pull per consumer every 5 s).
  const pullExpiresMs = options.pullExpiresMs ?? 5_000;
  const clockSkewMs = options.clockSkewMs ?? 5_000;
  const depthsMaxAgeMs = options.depthsMaxAgeMs ?? 5_000;
  const limits = { maxAgeMs: options.maxAgeMs ?? 3 * DAY_MS, deadMaxAgeMs: options.deadMaxAgeMs ?? 14 * DAY_MS, replicas: options.replicas ?? 1 };
  const defs = streamDefs(prefix);

  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  try {
    nc = await connect({
      servers: options.servers.split(',').map((s) => s.trim()),
      name: options.name ?? 'herald',
      timeout: options.connectTimeoutMs ?? 5_000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      reconnectJitter: 500,
      reconnectJitterTLS: 1_000,
      pingInterval: 10_000,
      maxPingOut: 3,
      // nats.js otherwise captures a stack (new Error()) for every request — each JetStream
      // publish, pull and ack-wait — to append to a timeout's: a cost per message on the hot
      // path, for stacks that BusUnavailableError's own stack and cause already give.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new BusUnavailableError(`cannot connect to NATS at ${serverNames(options.servers)}`, { cause: err });
  }
  try {
    jsm = await nc.jetstreamManager({ timeout: publishTimeoutMs });
    js = nc.jetstream({ timeout: publishTimeoutMs });
    await ensureStreams(jsm, defs, limits);
  } catch (err) {
    await nc.close().catch(() => {});
    throw new BusUnavailableError(`JetStream at ${serverNames(options.servers)} is not usable for streams ${prefix}_*`, { cause: err });
  }

  let connected = true;
  let closing = false;
  let closed: Promise<void> | undefined;
  const members = new Set<Member<unknown>>();
  const inFlight = new Set<Promise<void>>();
  /** The `onGap` of every signal subscription that asked for one. */
  const gapListeners = new Set<() => void>();
  const signalGap = (): void => {
    for (const listener of gapListeners) listener();
  };
  // nats.js hands out a QueuedIterator, which does not end on close by itself.
  const statuses = nc.status() as AsyncIterable<Status> & Partial<Pick<QueuedIterator<Status>, 'stop'>>;
  void (async () => {
    for await (const s of statuses) {
      if (s.type === Events.Disconnect) {
        connected = false;
        signalGap();
        logger?.warn({ server: s.data }, 'bus: disconnected from NATS, reconnecting');
      } else if (s.type === Events.Reconnect) {
        connected = true;
        signalGap();
        logger?.warn({ server: s.data }, 'bus: reconnected to NATS');
      }
    }
  })();

  /** One stream re-creation at a time, shared by whoever finds a stream missing. */
  let restoring: Promise<void> | undefined;
  const restoreStreams = (): Promise<void> => {
    restoring ??= ensureStreams(jsm, defs, limits).finally(() => {
      restoring = undefined;
    });
    return restoring;
  };

  const publishRaw = async (subject: string, payload: Uint8Array, hdrs?: Record<string, string>): Promise<void> => {
    const wire = wireSubjectOf(prefix, subject);
    const h = hdrs ? natsHeaders() : undefined;
    for (const [k, v] of Object.entries(hdrs ?? {})) h?.set(k, v);
    const once = () => js.publish(wire, payload, { timeout: publishTimeoutMs, ...(h ? { headers: h } : {}) });
    try {
      try {
        await once();
      } catch (err) {
        if (!isNoResponders(err)) throw err;
        await restoreStreams();
        await once();
      }
    } catch (err) {
      throw new BusUnavailableError(`JetStream did not acknowledge work on ${subject}`, { cause: err });
    }
  };

  let depthsSnapshot: Record<string, number> = {};
  let depthsReadAt = 0;
  let depthsReading: Promise<Record<string, number>> | undefined;
  const refreshDepths = (): Promise<Record<string, number>> => {
    depthsReading ??= readDepths(jsm, prefix, defs)
      .then((d) => {
        depthsSnapshot = d;
        depthsReadAt = Date.now();
        return d;
      })
      .finally(() => {
        depthsReading = undefined;
      });
    return depthsReading;
  };

  return {
    async publish(subject, data) {
      if (closing) throw new BusUnavailableError('bus is closed');
      await publishRaw(subject, encodeJson(subject, data));
    },

    consume<T>(subject: string, group: string, handler: WorkHandler<T>, opts: ConsumeOptions = {}): Subscription {
      if (closing) throw new BusUnavailableError('bus is closed');
      validateSubject(subject);
      if (!group) throw new TypeError('consumer group must be a non-empty string');
      const stream = streamNameOf(prefix, subject);
      const durable = durableName(group, subject);
      const spec = { stream, durable, filterSubject: wireSubjectOf(prefix, subject), ackWaitMs, requestedAt: Date.now() };
      const ensure = async (): Promise<void> => {
        try {
          await ensureConsumer(jsm, spec);
        } catch (err) {
          if (!isStreamNotFound(err)) throw err;
          await restoreStreams();
          await ensureConsumer(jsm, spec);
        }
      };
      const track = (settled: Promise<void>): void => {
        inFlight.add(settled);
        void settled.finally(() => inFlight.delete(settled));
      };
      const member = new Member<T>({ js, logger, ackWaitMs, pullExpiresMs, clockSkewMs, ensure, publishRaw, track }, stream, durable, subject, handler, opts);
      members.add(member as Member<unknown>);
      member.start();
      return {
        unsubscribe() {
          member.stop();
          members.delete(member as Member<unknown>);
        },
      };
    },

    emit(subject, data) {
      if (closing) return;
      const payload = encodeJson(subject, data);
      try {
        nc.publish(validateSubject(subject), payload);
      } catch (err) {
        if (err instanceof TypeError) throw err;
        logger?.warn({ err, subject }, 'bus: signal not sent');
      }
    },

    subscribe<T>(subject: string, handler: (data: T) => void, options: SignalOptions = {}): Subscription {
      validateSubject(subject);
      if (closing) return { unsubscribe() {} };
      const { onGap } = options;
      if (onGap) gapListeners.add(onGap);
      const failed = (err: unknown): void => logger?.error({ err, subject }, 'bus: signal subscriber failed');
      const sub: NatsSubscription = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) {
            failed(err);
            return;
          }
          try {
            const result: unknown = handler(JSON.parse(decoder.decode(msg.data)) as T);
            if (result instanceof Promise) result.catch(failed);
          } catch (e) {
            failed(e);
          }
        },
      });
      return {
        unsubscribe() {
          if (onGap) gapListeners.delete(onGap);
          if (!sub.isClosed()) sub.unsubscribe();
        },
      };
    },

    async healthy() {
      return !closing && connected && !nc.isClosed();
    },

    close() {
      closed ??= (async () => {
        closing = true;
        for (const m of members) m.stop();
        members.clear();
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS);
        });
        const drained = await Promise.race([nc.drain().catch((err: unknown) => logger?.warn({ err }, 'bus: drain failed')), timeout]);
        clearTimeout(timer);
        if (drained === 'timeout' || !nc.isClosed()) await nc.close().catch(() => {});
        statuses.stop?.();
      })();
      return closed;
    },

    depths() {
      if (!closing && Date.now() - depthsReadAt > depthsMaxAgeMs) {
        refreshDepths().catch((err: unknown) => logger?.warn({ err }, 'bus: reading queue depths failed'));
      }
      return { ...depthsSnapshot };
    },

    refreshDepths,
  };
}

/** The servers of HERALD_NATS_URL as errors may name them: `host:port`, without user or password. */
export const serverNames = (servers: string): string =>
  servers
    .split(',')
    .map((server) =>
      server
        .trim()
        .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
        .replace(/^[^@/]*@/, ''),
    )
    .join(',');
