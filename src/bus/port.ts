/**
 * Bus port: how Herald's processes hand work to each other.
 *
 * Two kinds of traffic travel on it:
 *  - **work** (`publish` / `consume`): at-least-once, load-balanced across the consumers of a
 *    group. A handler that resolves acknowledges its message; one that throws has it redelivered
 *    after a backoff, up to `maxDeliver` attempts, after which it goes to `herald.dead.<subject>`.
 *    Work subjects: `herald.accepted.<urgency>`, `herald.deliver.<channel>.<urgency>` (one
 *    subject per urgency, so a backlog of low work never stands in front of a high message).
 *  - **signals** (`emit` / `subscribe`): fire-and-forget fan-out to every current subscriber, for
 *    realtime routing (`herald.rt.user.<uid>`, `herald.rt.broadcast`) and cache invalidation.
 *    A signal with no subscriber is dropped; nothing is stored.
 *
 * Adapters never leak into this contract: connection handling, stream names, consumer config
 * and serialisation are each adapter's own business. Payloads are JSON-serialisable values.
 *
 * Errors: `publish` rejects with `BusUnavailableError` when the bus cannot take responsibility
 * for the message (the API then answers 503 rather than accepting what it cannot make durable).
 */
import { backoffDelay } from '../retry.js';

export interface Bus {
  /** Resolves once the bus has taken responsibility for delivering `data` to a consumer group. */
  publish(subject: string, data: unknown): Promise<void>;
  /** Starts a consumer in `group`; every message of `subject` goes to exactly one member of the group at a time. */
  consume<T>(subject: string, group: string, handler: WorkHandler<T>, options?: ConsumeOptions): Subscription;
  /** Sends a signal to every current subscriber of `subject`. */
  emit(subject: string, data: unknown): void;
  subscribe<T>(subject: string, handler: (data: T) => void, options?: SignalOptions): Subscription;
  /** True when the bus can accept work now. */
  healthy(): Promise<boolean>;
  /** Stops consumers (in-flight handlers finish first) and releases connections. */
  close(): Promise<void>;
}

export interface WorkMessage<T> {
  subject: string;
  data: T;
  /** 1 on first delivery, incremented on each redelivery. */
  attempt: number;
  /**
   * Whether this is the message's first delivery to its group: attempt 1, and published after the
   * group's consumer was created. A consumer made again (the NATS bus re-creates a deleted one) is
   * handed the work retained from before it, which may have been handled once already: that work
   * is not fresh, whatever its attempt. When an adapter cannot tell, it answers false.
   */
  fresh: boolean;
}

export type WorkHandler<T> = (message: WorkMessage<T>) => Promise<void>;

export interface ConsumeOptions {
  /** Handlers of this consumer running at once. Default 1. */
  concurrency?: number;
  /** Attempts before the message is dead-lettered. Default 5. */
  maxDeliver?: number;
  /** Delay before redelivery n (1-based). Default: 250 ms × 2^(n-1), at most 30 s. */
  backoff?: (attempt: number) => number;
}

export interface SignalOptions {
  /**
   * Called when signals of the subject may have been missed: the adapter lost its connection,
   * or got it back (signals sent meanwhile are gone). An in-process bus never calls it.
   */
  onGap?: () => void;
}

export interface Subscription {
  unsubscribe(): void;
}

export const DEFAULT_MAX_DELIVER = 5;
/** 250 ms doubling, at most 30 s (src/retry.ts). */
export const defaultBackoff = (attempt: number): number => backoffDelay({ firstMs: 250, maxMs: 30_000, growth: 'doubling' }, attempt);

export const subjects = {
  accepted: (urgency: string) => `herald.accepted.${urgency}`,
  deliver: (channel: string, urgency: string) => `herald.deliver.${channel}.${urgency}`,
  /** Delivery work published before subjects carried the urgency; still drained (as normal). */
  legacyDeliver: (channel: string) => `herald.deliver.${channel}`,
  dead: (subject: string) => `herald.dead.${subject}`,
  /** uids may hold any printable character; subjects may not, so the uid is base64url-encoded. */
  userFrames: (uid: string) => `herald.rt.user.${Buffer.from(uid).toString('base64url')}`,
  broadcastFrames: 'herald.rt.broadcast',
  /** A frame for every live socket of a thread's members: `{ thread, frame }` (ThreadFrame). */
  threadFrames: 'herald.rt.thread',
  /** A user joined or left a thread: `{ uid, thread, member }` (MembershipSignal); gateways (un)subscribe their sockets. */
  membershipChanged: 'herald.threads.membership',
  preferencesChanged: 'herald.preferences.changed',
  /** A message was recalled (DELETE /api/v1/messages/{id}): `{ id }` (src/pipeline/recent-recalls.ts). */
  messageRecalled: 'herald.messages.recalled',
  /** A user was erased (DELETE /api/v1/users/{uid}): gateways close that user's sockets. */
  userErased: 'herald.users.erased',
} as const;

/** What travels on `subjects.threadFrames`: a server frame for the members of `thread`. */
export interface ThreadFrame<F = unknown> {
  thread: string;
  frame: F;
  /** When the message was posted to the thread (TimelineStore.post): the members at that time see it. */
  at: number;
}

/** What travels on `subjects.membershipChanged`. */
export interface MembershipSignal {
  uid: string;
  thread: string;
  member: boolean;
  /** When the user joined or left (TimelineStore.join / leave). */
  at: number;
}

export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}
