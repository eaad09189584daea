/**
 * The waiting line of one provider: waiters queued by urgency, taken highest urgency first, FIFO
 * within an urgency — with a guaranteed share for the lower ones so they never starve.
 *
 * The share: whenever `shareEvery` - 1 grants in a row went to the highest waiting urgency
 * while a lower one was waiting, the next grant goes to the oldest waiter of the lower ones
 * (whatever its urgency). Lower urgencies therefore get at least 1/`shareEvery` of the grants
 * under a steady high load, and among themselves the oldest goes first, so very-low drains too.
 * Without such a load (the usual case) the order is strictly by urgency.
 */
import { URGENCIES, type Urgency } from '../src/exchange/types.js';

/** Every tenth grant at least goes to a lower urgency while one is waiting. */
export const DEFAULT_SHARE_EVERY = 10;

interface Waiter<T> {
  value: T;
  seq: number;
}

export interface UrgencyQueue<T> {
  push(urgency: Urgency, value: T): void;
  /** The next value to grant, or undefined when none waits. */
  take(): T | undefined;
  /** Removes every waiting value and returns them, oldest first. */
  drain(): T[];
  readonly size: number;
  /** Waiting values per urgency. */
  depths(): Record<Urgency, number>;
}

/** Highest urgency first. */
const BY_PRIORITY: readonly Urgency[] = [...URGENCIES].reverse();

export function createUrgencyQueue<T>(shareEvery: number = DEFAULT_SHARE_EVERY): UrgencyQueue<T> {
  const every = Math.max(2, Math.floor(shareEvery));
  const lines = new Map<Urgency, Array<Waiter<T>>>(BY_PRIORITY.map((u) => [u, []]));
  let seq = 0;
  let size = 0;
  /** Grants in a row to the top urgency while a lower one waited. */
  let topStreak = 0;

  const line = (urgency: Urgency): Array<Waiter<T>> => lines.get(urgency) as Array<Waiter<T>>;

  return {
    push(urgency, value) {
      line(urgency).push({ value, seq: seq++ });
      size++;
    },

    take() {
      if (size === 0) return undefined;
      const waiting = BY_PRIORITY.filter((u) => line(u).length > 0);
      const [top, ...lower] = waiting;
      let from = top as Urgency;
      if (lower.length === 0) {
        topStreak = 0;
      } else if (topStreak >= every - 1) {
        // The oldest waiter among the lower urgencies.
        from = lower.reduce((a, b) => ((line(a)[0] as Waiter<T>).seq <= (line(b)[0] as Waiter<T>).seq ? a : b));
        topStreak = 0;
      } else {
        topStreak++;
      }
      size--;
      return (line(from).shift() as Waiter<T>).value;
    },

    drain() {
      const all = BY_PRIORITY.flatMap((u) => line(u).splice(0));
      size = 0;
      return all.sort((a, b) => a.seq - b.seq).map((w) => w.value);
    },

    get size() {
      return size;
    },

    depths() {
      return Object.fromEntries(URGENCIES.map((u) => [u, line(u).length])) as Record<Urgency, number>;
    },
  };
}
