/**
 * Small helpers shared by the contract suites: message fixtures and event-driven waiting
 * (a promise settled by the code under test, with a generous safety timeout that fails the test).
 */

import type { Message } from '../../src/exchange/types.js';
import { newId } from '../../src/ids.js';
import type { NewDevice, UserStore } from '../../src/store/port.js';

export const SAFETY_TIMEOUT_MS = 10_000;

export function makeMessage(overrides: Partial<Message> = {}): Message {
  return {
    id: newId(),
    sender: 'app-1',
    target: { kind: 'user', uid: 'u-1' },
    msg: 'hello',
    urgency: 'normal',
    createdAt: Date.now(),
    ...overrides,
  };
}

export function webDevice(endpoint: string): NewDevice & { kind: 'web' } {
  return { kind: 'web', token: endpoint, keys: { p256dh: `p256dh-${endpoint}`, auth: 'auth-secret' }, expirationTime: null };
}

/** Resolves with `promise`, or rejects when it has not settled within `ms` (the test then fails). */
export async function within<T>(promise: Promise<T>, label: string, ms = SAFETY_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending callbacks, timers due now and I/O callbacks run. */
export const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Every uid UserStore.pageReachable answers, walking `limit` at a time until an empty page, in the walk's order. */
export async function walkReachable(users: Pick<UserStore, 'pageReachable'>, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await users.pageReachable(after, limit);
    if (page.length === 0) return seen;
    seen.push(...page.map((u) => u.uid));
    after = page.at(-1)?.uid;
  }
}
