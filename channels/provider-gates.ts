/**
 * The gates of a channel whose providers are only known at send time (web push: one per push
 * service origin). A gate is made on first use and forgotten once idle (nothing in flight or
 * waiting, circuit closed, no pause), so hosts named by many subscriptions cost nothing while
 * they are not being called.
 */
import { createProviderGate, type ProviderGate, type ProviderGateOptions, type ProviderStatus } from './provider-gate.js';

export interface ProviderGates {
  /** The gate of `provider`, made now if it has none. */
  of(provider: string): ProviderGate;
  statuses(): ProviderStatus[];
  /** Closes every gate (see ProviderGate.close). */
  close(): void;
}

export function createProviderGates(options: Omit<ProviderGateOptions, 'provider'>): ProviderGates {
  const gates = new Map<string, ProviderGate>();
  let closed = false;

  const forgetIdle = (): void => {
    for (const [name, gate] of gates) if (gate.idle()) gates.delete(name);
  };

  return {
    of(provider) {
      let gate = gates.get(provider);
      if (!gate) {
        forgetIdle();
        gate = createProviderGate({ ...options, provider });
        if (closed) gate.close();
        gates.set(provider, gate);
      }
      return gate;
    },
    statuses() {
      forgetIdle();
      return [...gates.values()].map((gate) => gate.status());
    },
    close() {
      closed = true;
      for (const gate of gates.values()) gate.close();
    },
  };
}
