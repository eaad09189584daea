/**
 * An ordered list of providers for one channel (several SMTP servers, a second Twilio account),
 * each behind its own gate (./provider-gate.ts). A delivery goes to the first provider whose gate
 * is available (circuit not open, not paused by a Retry-After); when that provider answers a
 * retryable failure (or its gate deferred it), it moves on to the next available one, each tried
 * at most once. When none is available it goes to the first provider's gate, which holds or
 * defers it (./provider-gate.ts).
 * A delivery one of them sent names it (`DeliveryResult.provider`: the receipt records it); the
 * last retryable answer is returned when all failed.
 */
import type { Urgency } from '../src/exchange/types.js';
import type { DeliveryResult } from './port.js';
import type { ProviderGate, ProviderStatus } from './provider-gate.js';

export interface FailoverProvider<C> {
  gate: ProviderGate;
  client: C;
}

export interface Failover<C> {
  send(urgency: Urgency, request: (client: C) => Promise<DeliveryResult>): Promise<DeliveryResult>;
  statuses(): ProviderStatus[];
  close(): void;
}

export function createFailover<C>(providers: ReadonlyArray<FailoverProvider<C>>): Failover<C> {
  const [first] = providers;
  if (!first) throw new Error('failover: at least one provider is needed');
  const named = providers.length > 1;

  const via = (provider: FailoverProvider<C>, result: DeliveryResult): DeliveryResult =>
    named && result.type === 'sent' ? { ...result, provider: provider.gate.provider } : result;

  return {
    async send(urgency, request) {
      const tried = new Set<FailoverProvider<C>>();
      let current = providers.find((p) => p.gate.available()) ?? first;
      for (;;) {
        tried.add(current);
        const provider = current;
        const result = await provider.gate.send(urgency, () => request(provider.client));
        if (result.type !== 'retry' && result.type !== 'deferred') return via(provider, result);
        const next = providers.find((p) => !tried.has(p) && p.gate.available());
        if (!next) return result;
        current = next;
      }
    },
    statuses: () => providers.map((p) => p.gate.status()),
    close() {
      for (const p of providers) p.gate.close();
    },
  };
}
