import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ProviderStatus } from '../../channels/port.js';

/**
 * Prometheus metrics of one Herald process. Gauges whose value lives elsewhere (queue depths,
 * live sockets, scheduled jobs) are read at scrape time through the `sample` callbacks.
 */
export interface MetricSources {
  queueDepths: () => Record<string, number>;
  liveSockets: () => number;
  scheduledJobs: () => Promise<number>;
  /** The providers' gates of this process's channels (channels/provider-gate.ts). */
  providers: () => ProviderSample[];
}

/** A provider's gate as a channel reports it (ProviderStatus), named with its channel. */
export type ProviderSample = ProviderStatus & { channel: string };

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_process_' });
  const sources: Partial<MetricSources> = {};

  const metrics = {
    registry,
    httpRequests: new Counter({
      name: 'herald_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'herald_http_request_duration_seconds',
      help: 'Time to answer an HTTP request',
      labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    acceptedMessages: new Counter({
      name: 'herald_messages_accepted_total',
      help: 'Messages accepted (202), by urgency and kind of target',
      labelNames: ['urgency', 'target'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'herald_deliveries_total',
      help: 'Delivery attempts, by channel and classified result',
      labelNames: ['channel', 'result'] as const,
      registers: [registry],
    }),
    withdrawals: new Counter({
      name: 'herald_withdrawals_total',
      help: 'Withdrawals of delivered push copies (read elsewhere or recalled), by channel and classified result; never counted as deliveries',
      labelNames: ['channel', 'result'] as const,
      registers: [registry],
    }),
    receipts: new Counter({
      name: 'herald_receipts_total',
      help: 'Receipts recorded, by channel and state',
      labelNames: ['channel', 'state'] as const,
      registers: [registry],
    }),
    wsClosedForBackpressure: new Counter({
      name: 'herald_ws_backpressure_closes_total',
      help: 'Sockets closed because they stopped reading and their buffer passed the limit',
      registers: [registry],
    }),
    /** Connects the gauges to where their values live. */
    observe(next: Partial<MetricSources>) {
      Object.assign(sources, next);
    },
  };

  new Gauge({
    name: 'herald_queue_depth',
    help: 'Work waiting on the bus, by subject',
    labelNames: ['subject'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [subject, depth] of Object.entries(sources.queueDepths?.() ?? {})) this.set({ subject }, depth);
    },
  });
  new Gauge({
    name: 'herald_ws_connections',
    help: 'Live WebSocket connections on this process',
    registers: [registry],
    collect() {
      this.set(sources.liveSockets?.() ?? 0);
    },
  });
  new Gauge({
    name: 'herald_scheduled_jobs',
    help: 'Jobs waiting in the scheduler',
    registers: [registry],
    async collect() {
      this.set((await sources.scheduledJobs?.()) ?? 0);
    },
  });
  new Gauge({
    name: 'herald_provider_circuit',
    help: "A provider's circuit on this process: 0 closed, 1 half-open, 2 open",
    labelNames: ['channel', 'provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.providers?.() ?? []) this.set({ channel: p.channel, provider: p.provider }, CIRCUIT_VALUE[p.circuit]);
    },
  });
  new Gauge({
    name: 'herald_provider_concurrency',
    help: "Requests a provider's gate lets in flight now (adaptive: halved when it throttles or fails)",
    labelNames: ['channel', 'provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.providers?.() ?? []) this.set({ channel: p.channel, provider: p.provider }, p.limit);
    },
  });
  new Gauge({
    name: 'herald_provider_queued',
    help: "Requests waiting at a provider's gate on this process, by urgency",
    labelNames: ['channel', 'provider', 'urgency'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.providers?.() ?? []) {
        for (const [urgency, n] of Object.entries(p.queued)) this.set({ channel: p.channel, provider: p.provider, urgency }, n);
      }
    },
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
