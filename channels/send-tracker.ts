/**
 * The lifecycle every provider channel shares: sends are tracked while in flight; `close()`
 * refuses new sends and waits for those in flight to settle before the channel releases its
 * provider client.
 */
export interface SendTracker {
  /** Runs `send`, tracked; rejects at once when the channel is closed. */
  run<T>(send: () => Promise<T>): Promise<T>;
  /** Refuses new sends and waits for those in flight; false when it was already closed. */
  close(): Promise<boolean>;
}

export function trackSends(channel: string): SendTracker {
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  return {
    async run(send) {
      if (closed) throw new Error(`${channel} channel is closed`);
      const running = send();
      inFlight.add(running);
      try {
        return await running;
      } finally {
        inFlight.delete(running);
      }
    },
    async close() {
      if (closed) return false;
      closed = true;
      await Promise.allSettled([...inFlight]);
      return true;
    },
  };
}
