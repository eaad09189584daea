/**
 * In-process Bus adapter (embedded mode). Guarantees, beyond the Bus port contract:
 *  - Work is queued FIFO per (subject, group). Every group of a subject gets every message
 *    published after the group first appeared; the members of one group share them.
 *  - Messages published to a subject that has never had a consumer are kept (unclaimed) and
 *    handed to the first group that consumes it, so the API may publish before workers start.
 *  - Subjects never share a queue: a backlog on one subject never delays another.
 *  - A group outlives its members (like a durable consumer): when its last member unsubscribes,
 *    its queue keeps filling until a member of the group consumes again.
 *  - A handler that throws gets its message again after `backoff(attempt)`; after `maxDeliver`
 *    attempts the message is published as work on `herald.dead.<subject>` (kept and counted in
 *    `depths()` even when nobody consumes it). Dead letters of dead-letter subjects are dropped.
 *  - Payloads travel as JSON (serialised at publish/emit, parsed for each delivery), exactly as
 *    they would across processes; a non-serialisable payload is rejected at publish.
 *  - `publish` rejects with `BusUnavailableError` after `close()` or when the subject already
 *    holds `maxDepth` messages (back-pressure instead of unbounded memory).
 *  - Signals fan out synchronously to the subscribers current at `emit`; a throwing subscriber
 *    is logged and never affects the others.
 */
import type { Bus, ConsumeOptions, Subscription, WorkHandler } from '../port.js';
import { BusUnavailableError, DEFAULT_MAX_DELIVER, defaultBackoff, subjects } from '../port.js';

export interface MemoryBusOptions {
  /** Most unacknowledged messages one subject may hold before `publish` rejects. Default 100 000. */
  maxDepth?: number;
  /** Where handler and subscriber errors are reported. */
  logger?: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

export interface MemoryBus extends Bus {
  /**
   * Work items of each subject not yet acknowledged (queued, waiting for redelivery or being
   * handled), summed over its groups, including unclaimed ones. Subjects at 0 are included
   * once they have been used.
   */
  depths(): Record<string, number>;
}

interface Envelope {
  /** The JSON text of the payload; parsed afresh for every delivery. */
  json: string;
  attempt: number;
}

interface Member {
  handler: WorkHandler<unknown>;
  concurrency: number;
  maxDeliver: number;
  backoff: (attempt: number) => number;
  active: number;
  stopped: boolean;
}

interface Group {
  queue: Envelope[];
  members: Member[];
  /** Round-robin cursor over members. */
  next: number;
  /** Messages delivered and not yet settled, or waiting for redelivery. */
  outstanding: number;
}

interface Topic {
  groups: Map<string, Group>;
  /** Messages published before any group existed. */
  unclaimed: Envelope[];
}

const DEAD_PREFIX = subjects.dead('');

export function createMemoryBus(options: MemoryBusOptions = {}): MemoryBus {
  const maxDepth = options.maxDepth ?? 100_000;
  const logger = options.logger;
  const topics = new Map<string, Topic>();
  const signals = new Map<string, Set<(data: unknown) => void>>();
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const signalFailed = (subject: string, err: unknown): void => {
    logger?.error({ err, subject }, 'bus: signal subscriber failed');
  };

  const topic = (subject: string): Topic => {
    let t = topics.get(subject);
    if (!t) {
      t = { groups: new Map(), unclaimed: [] };
      topics.set(subject, t);
    }
    return t;
  };

  const depthOf = (t: Topic): number => {
    let n = t.unclaimed.length;
    for (const g of t.groups.values()) n += g.queue.length + g.outstanding;
    return n;
  };

  const enqueue = (subject: string, json: string): void => {
    const t = topic(subject);
    if (t.groups.size === 0) {
      t.unclaimed.push({ json, attempt: 1 });
      return;
    }
    for (const group of t.groups.values()) {
      group.queue.push({ json, attempt: 1 });
      pump(subject, group);
    }
  };

  /** Picks the next member of `group` with a free slot, round-robin. */
  const freeMember = (group: Group): Member | undefined => {
    const n = group.members.length;
    for (let i = 0; i < n; i++) {
      const m = group.members[(group.next + i) % n];
      if (m && !m.stopped && m.active < m.concurrency) {
        group.next = (group.next + i + 1) % n;
        return m;
      }
    }
    return undefined;
  };

  const pump = (subject: string, group: Group): void => {
    if (closed) return;
    while (group.queue.length > 0) {
      const member = freeMember(group);
      if (!member) return;
      const envelope = group.queue.shift() as Envelope;
      run(subject, group, member, envelope);
    }
  };

  const run = (subject: string, group: Group, member: Member, envelope: Envelope): void => {
    member.active++;
    group.outstanding++;
    const settled = Promise.resolve()
      .then(() => member.handler({ subject, data: JSON.parse(envelope.json), attempt: envelope.attempt, fresh: envelope.attempt === 1 }))
      .then(
        () => undefined,
        (err: unknown) => err ?? new Error('handler rejected without a reason'),
      )
      .then((err) => {
        member.active--;
        if (err === undefined || closed) {
          group.outstanding--;
        } else {
          fail(subject, group, member, envelope, err);
        }
        pump(subject, group);
      })
      .finally(() => inFlight.delete(settled));
    inFlight.add(settled);
  };

  const fail = (subject: string, group: Group, member: Member, envelope: Envelope, err: unknown): void => {
    if (envelope.attempt >= member.maxDeliver) {
      group.outstanding--;
      logger?.error({ err, subject, attempt: envelope.attempt }, 'bus: dead-lettering message');
      if (subject.startsWith(DEAD_PREFIX)) return;
      enqueue(subjects.dead(subject), envelope.json);
      return;
    }
    logger?.warn({ err, subject, attempt: envelope.attempt }, 'bus: handler failed, redelivering');
    const delay = Math.max(0, member.backoff(envelope.attempt));
    const timer = setTimeout(() => {
      timers.delete(timer);
      group.outstanding--;
      group.queue.push({ json: envelope.json, attempt: envelope.attempt + 1 });
      pump(subject, group);
    }, delay);
    timers.add(timer);
  };

  return {
    async publish(subject, data) {
      if (closed) throw new BusUnavailableError('bus is closed');
      const json = JSON.stringify(data);
      if (json === undefined) throw new TypeError(`bus payload for ${subject} is not JSON-serialisable`);
      const t = topics.get(subject);
      if (t && depthOf(t) >= maxDepth) {
        throw new BusUnavailableError(`subject ${subject} holds ${maxDepth} unacknowledged messages`);
      }
      enqueue(subject, json);
    },

    consume<T>(subject: string, groupName: string, handler: WorkHandler<T>, opts: ConsumeOptions = {}): Subscription {
      if (closed) throw new BusUnavailableError('bus is closed');
      const member: Member = {
        handler: handler as WorkHandler<unknown>,
        concurrency: Math.max(1, Math.floor(opts.concurrency ?? 1)),
        maxDeliver: Math.max(1, Math.floor(opts.maxDeliver ?? DEFAULT_MAX_DELIVER)),
        backoff: opts.backoff ?? defaultBackoff,
        active: 0,
        stopped: false,
      };
      const t = topic(subject);
      let group = t.groups.get(groupName);
      if (!group) {
        group = { queue: [], members: [], next: 0, outstanding: 0 };
        if (t.groups.size === 0) group.queue = t.unclaimed.splice(0);
        t.groups.set(groupName, group);
      }
      group.members.push(member);
      const g = group;
      pump(subject, g);
      return {
        unsubscribe() {
          if (member.stopped) return;
          member.stopped = true;
          g.members = g.members.filter((m) => m !== member);
          g.next = 0;
        },
      };
    },

    emit(subject, data) {
      if (closed) return;
      const handlers = signals.get(subject);
      if (!handlers || handlers.size === 0) return;
      const json = JSON.stringify(data);
      if (json === undefined) throw new TypeError(`signal payload for ${subject} is not JSON-serialisable`);
      for (const handler of [...handlers]) {
        if (!handlers.has(handler)) continue;
        try {
          // A subscriber typed `=> void` may still be async: its rejection must not escape either.
          const result: unknown = handler(JSON.parse(json));
          if (result instanceof Promise) result.catch((err: unknown) => signalFailed(subject, err));
        } catch (err) {
          signalFailed(subject, err);
        }
      }
    },

    subscribe<T>(subject: string, handler: (data: T) => void): Subscription {
      const h = handler as (data: unknown) => void;
      let set = signals.get(subject);
      if (!set) {
        set = new Set();
        signals.set(subject, set);
      }
      set.add(h);
      return {
        unsubscribe() {
          const current = signals.get(subject);
          if (!current) return;
          current.delete(h);
          if (current.size === 0) signals.delete(subject);
        },
      };
    },

    async healthy() {
      return !closed;
    },

    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      signals.clear();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    depths() {
      const out: Record<string, number> = {};
      for (const [subject, t] of topics) out[subject] = depthOf(t);
      return out;
    },
  };
}
