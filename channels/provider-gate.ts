/**
 * The gate in front of one provider (a push service origin, an APNs connection, an FCM project,
 * an SMTP server, a Twilio account): every request a channel makes to it goes through `send`.
 *
 *  - **Urgency order.** Requests wait in an UrgencyQueue (./urgency-queue.ts): the highest
 *    urgency first, FIFO within one, a guaranteed share for the lower ones.
 *  - **Adaptive concurrency.** At most `limit` requests are in flight; `limit` starts at
 *    `concurrency`, grows by 1/limit per success (additive increase) and halves when the provider
 *    throttles or fails (multiplicative decrease), never below 1 nor above `concurrency`. One
 *    burst of failures halves it once: only a request granted after the last decrease lowers it.
 *  - **Backpressure.** A `throttled` result (a 429 with Retry-After; DeliveryResult.cause) pauses
 *    the gate until its `afterMs` (the provider's Retry-After) has passed: no request goes out
 *    before that. Only this provider pauses; the channel's other providers carry on. A 429
 *    without Retry-After is `unavailable`: it halves the concurrency and, repeated, opens the
 *    circuit (a pause of `openMs`, then a probe).
 *  - **Circuit breaker.** `failureThreshold` `unavailable` results in a row (5xx, network, TLS)
 *    open the circuit; requests that were in flight together and failed together (the streams
 *    of one dead connection) count as one. Nothing is sent for `openMs`, then one probe goes out
 *    (half-open). A probe that succeeds closes the circuit; one that fails opens it again for
 *    twice as long (at most `maxOpenMs`).
 *  - **Waiting without holding.** While the gate is paused or open, a request is not held in
 *    memory: it would keep the worker's batch, and with it a delivery slot of its channel and
 *    urgency, so a paused provider would hold back the deliveries of every other provider (the
 *    urgency bench measured a 388 ms p99 for a healthy push service while another's 429 pause
 *    was ending, with a hold of 1 s; 6 ms without). The request is answered `deferred` until the
 *    gate reopens, and the worker schedules it again then at the same attempt, so it burns no
 *    retry. A channel with several providers fails it over instead (./failover.ts). `holdMs`
 *    (default 0) lets a wait that short be held instead.
 *
 * Any result other than `throttled`/`unavailable` (sent, a refusal, a gone token) shows the
 * provider answering, so it counts as a success. `close()` rejects the requests still waiting
 * (the worker's batch is then redelivered by the bus; receipts keep it from being sent twice).
 * `run()` (one request for many deliveries) rejects a deferred request with
 * ProviderDeferredError, which the channel turns into `deferred` results.
 */
import type { Urgency } from '../src/exchange/types.js';
import type { DeliveryResult, ProviderStatus } from './port.js';
import { createUrgencyQueue, DEFAULT_SHARE_EVERY } from './urgency-queue.js';

export type CircuitState = ProviderStatus['circuit'];
export type { ProviderStatus };

/** HERALD_CIRCUIT_FAILURES and HERALD_CIRCUIT_OPEN_MS, as each channel's options carry them. */
export interface CircuitSettings {
  failures: number;
  openMs: number;
}

export interface ProviderGateOptions {
  /** The provider's name in /healthz, /metrics and logs. */
  provider: string;
  /** The most requests in flight at once (and the starting limit). */
  concurrency: number;
  /** The circuit's settings; `failureThreshold` and `openMs` below win over them. */
  circuit?: CircuitSettings;
  /** `unavailable` results in a row that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before its first probe, in ms. Default 5 s. */
  openMs?: number;
  /** The longest it stays open after failed probes, in ms. Default 60 s. */
  maxOpenMs?: number;
  /** The longest a request waits in memory for a pause or an open circuit to end; beyond, it is deferred. Default 0. */
  holdMs?: number;
  /** See ./urgency-queue.ts. */
  shareEvery?: number;
  now?: () => number;
  /** Told of each circuit change (for logs). */
  onCircuit?: (provider: string, state: CircuitState) => void;
}

/** What one request showed of the provider: it answered (`ok`), it throttles, or it is unavailable. */
export type ProviderSignal = { type: 'ok' } | { type: 'throttled'; afterMs: number } | { type: 'unavailable' };

/** The signal of one delivery's result (DeliveryResult.cause). */
export const signalOf = (result: DeliveryResult): ProviderSignal => {
  if (result.type !== 'retry' || result.cause === undefined) return { type: 'ok' };
  return result.cause === 'throttled' ? { type: 'throttled', afterMs: result.afterMs } : { type: 'unavailable' };
};

export interface ProviderGate {
  readonly provider: string;
  /** Runs `request` (one delivery) when the gate lets it (see above) and learns from its result. */
  send(urgency: Urgency, request: () => Promise<DeliveryResult>): Promise<DeliveryResult>;
  /** The same for a request of any kind (one request for many deliveries): `judge` tells what it showed. */
  run<T>(urgency: Urgency, request: () => Promise<T>, judge: (value: T) => ProviderSignal): Promise<T>;
  /** True when a request sent now would not wait for a pause or an open circuit. */
  available(): boolean;
  /** Nothing in flight or waiting, circuit closed, no pause: the gate may be forgotten. */
  idle(): boolean;
  status(): ProviderStatus;
  /** Rejects the requests still waiting; later sends reject at once. */
  close(): void;
}

interface Waiting {
  /** Runs the request, hands what it showed to `finish`, then settles the caller's promise. */
  start: (finish: (signal: ProviderSignal) => void) => Promise<void>;
  reject: (err: unknown) => void;
}

export class ProviderGateClosedError extends Error {
  override name = 'ProviderGateClosedError';
}

/** A request the gate did not send: it is paused or open until `untilMs` (see `holdMs`). */
export class ProviderDeferredError extends Error {
  override name = 'ProviderDeferredError';
  constructor(
    readonly untilMs: number,
    readonly reason: 'provider-paused' | 'circuit-open',
  ) {
    super(`provider ${reason} until ${new Date(untilMs).toISOString()}`);
  }
}

export function createProviderGate(options: ProviderGateOptions): ProviderGate {
  const { provider } = options;
  const max = Math.max(1, Math.floor(options.concurrency));
  const threshold = Math.max(1, Math.floor(options.failureThreshold ?? options.circuit?.failures ?? 5));
  const baseOpenMs = Math.max(1, options.openMs ?? options.circuit?.openMs ?? 5_000);
  const maxOpenMs = Math.max(baseOpenMs, options.maxOpenMs ?? 60_000);
  const holdMs = Math.max(0, options.holdMs ?? 0);
  const now = options.now ?? Date.now;
  const queue = createUrgencyQueue<Waiting>(options.shareEvery ?? DEFAULT_SHARE_EVERY);

  let limit = max;
  let active = 0;
  /** Requests granted so far; each request knows its number, so a burst can be told from a sequence. */
  let grants = 0;
  /** `grants` when the limit was last lowered / a failure last counted: requests granted up to then are that burst. */
  let decreasedAtGrant = 0;
  let pausedUntil = 0;
  let circuit: CircuitState = 'closed';
  let openUntil = 0;
  let openMs = baseOpenMs;
  let failuresInARow = 0;
  let failedAtGrant = 0;
  let probing = false;
  let closed = false;
  let wake: NodeJS.Timeout | undefined;

  const setCircuit = (state: CircuitState): void => {
    if (state === circuit) return;
    circuit = state;
    options.onCircuit?.(provider, state);
  };

  const open = (): void => {
    openUntil = now() + openMs;
    openMs = Math.min(maxOpenMs, openMs * 2);
    setCircuit('open');
  };

  const wakeAt = (at: number): void => {
    if (wake) clearTimeout(wake);
    wake = setTimeout(
      () => {
        wake = undefined;
        pump();
      },
      Math.max(1, at - now()),
    );
  };

  const decrease = (grantNo: number): void => {
    if (grantNo <= decreasedAtGrant) return;
    limit = Math.max(1, limit / 2);
    decreasedAtGrant = grants;
  };

  const learn = (signal: ProviderSignal, grantNo: number, probe: boolean): void => {
    if (signal.type === 'throttled') {
      pausedUntil = Math.max(pausedUntil, now() + Math.max(0, signal.afterMs));
      decrease(grantNo);
      // A throttling provider is up: a probe that gets a 429 closes the circuit (the pause holds it back).
      if (probe) closeCircuit();
      return;
    }
    if (signal.type === 'unavailable') {
      // Requests in flight together that fail together (one dead connection's streams) are one
      // failure: only a request started after the last counted failure counts again.
      if (grantNo > failedAtGrant) failuresInARow++;
      failedAtGrant = grants;
      decrease(grantNo);
      if (probe) open();
      else if (circuit === 'closed' && failuresInARow >= threshold) open();
      return;
    }
    failuresInARow = 0;
    if (probe) closeCircuit();
    limit = Math.min(max, limit + 1 / limit);
  };

  const closeCircuit = (): void => {
    failuresInARow = 0;
    openMs = baseOpenMs;
    setCircuit('closed');
  };

  const grant = (waiting: Waiting, probe: boolean): void => {
    active++;
    const grantNo = ++grants;
    // The gate learns before the caller resumes, so what the caller sees next (status,
    // available) already follows from its answer.
    const finish = (signal: ProviderSignal): void => {
      active--;
      if (probe) probing = false;
      learn(signal, grantNo, probe);
    };
    void waiting.start(finish).finally(pump);
  };

  /** Waits for `until` when it is within holdMs; otherwise defers everything waiting. */
  const waitFor = (until: number, reason: ProviderDeferredError['reason']): void => {
    if (holdMs > 0 && until - now() <= holdMs) {
      wakeAt(until);
      return;
    }
    for (const waiting of queue.drain()) waiting.reject(new ProviderDeferredError(until, reason));
  };

  const pump = (): void => {
    while (!closed && queue.size > 0) {
      const t = now();
      if (pausedUntil > t) {
        waitFor(pausedUntil, 'provider-paused');
        return;
      }
      if (circuit === 'open') {
        if (t < openUntil) {
          waitFor(Math.max(openUntil, pausedUntil), 'circuit-open');
          return;
        }
        setCircuit('half-open');
      }
      if (circuit === 'half-open') {
        if (probing || active > 0) return;
        probing = true;
        grant(queue.take() as Waiting, true);
        return;
      }
      if (active >= Math.floor(limit)) return;
      grant(queue.take() as Waiting, false);
    }
  };

  const run = <T>(urgency: Urgency, request: () => Promise<T>, judge: (value: T) => ProviderSignal): Promise<T> => {
    if (closed) return Promise.reject(new ProviderGateClosedError(`${provider}: gate closed`));
    return new Promise<T>((resolve, reject) => {
      const start = async (finish: (signal: ProviderSignal) => void): Promise<void> => {
        let value: T;
        try {
          value = await request();
        } catch (err) {
          finish({ type: 'unavailable' });
          reject(err);
          return;
        }
        let signal: ProviderSignal = { type: 'ok' };
        try {
          signal = judge(value);
        } catch {
          // A judge that throws teaches nothing; the caller still gets its value.
        }
        finish(signal);
        resolve(value);
      };
      queue.push(urgency, { start, reject });
      pump();
    });
  };

  return {
    provider,
    run,
    send: (urgency, request) =>
      run(urgency, request, signalOf).catch((err: unknown) => {
        if (err instanceof ProviderDeferredError) return { type: 'deferred', untilMs: err.untilMs, reason: err.reason } satisfies DeliveryResult;
        throw err;
      }),

    available() {
      const t = now();
      return !closed && pausedUntil <= t && (circuit === 'closed' || (circuit === 'open' && t >= openUntil) || (circuit === 'half-open' && !probing));
    },

    idle() {
      return active === 0 && queue.size === 0 && circuit === 'closed' && pausedUntil <= now();
    },

    status() {
      return {
        provider,
        circuit,
        ...(pausedUntil > now() ? { pausedUntil } : {}),
        limit: Math.floor(limit),
        active,
        queued: queue.depths(),
      };
    },

    close() {
      closed = true;
      if (wake) clearTimeout(wake);
      for (const waiting of queue.drain()) waiting.reject(new ProviderGateClosedError(`${provider}: gate closed`));
    },
  };
}
