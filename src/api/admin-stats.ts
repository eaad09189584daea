/**
 * The figures of the admin console's live panel (GET /api/v1/admin/stats), read from this
 * process's metrics registry (src/observability/metrics.ts) — the same numbers /metrics
 * exposes, as JSON, so a browser never parses the Prometheus text.
 *
 * Rates per minute come from the counters' totals: each read keeps a sample (at most one a
 * second), samples older than a minute are dropped except the newest of them, which is the
 * baseline. A rate is null until a baseline at least MIN_WINDOW_MS old exists (the first read
 * after a start has nothing to compare with).
 */
import type { Metrics } from '../observability/metrics.js';

const WINDOW_MS = 60_000;
const MIN_WINDOW_MS = 5_000;
const SAMPLE_EVERY_MS = 1_000;

interface Sample {
  at: number;
  totals: Map<string, number>;
}

interface MetricValue {
  labels: Record<string, string | number | undefined>;
  value: number;
}

export interface AdminStats {
  at: number;
  sockets: number;
  scheduledJobs: number;
  /** Seconds the rates are measured over; null before a baseline exists. */
  windowSeconds: number | null;
  accepted: Array<{ urgency: string; total: number; perMinute: number | null }>;
  deliveries: Array<{ channel: string; result: string; total: number; perMinute: number | null }>;
  queues: Array<{ subject: string; depth: number }>;
}

async function values(metrics: Metrics, name: string): Promise<MetricValue[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values as MetricValue[];
}

const sum = (rows: MetricValue[]) => rows.reduce((total, row) => total + row.value, 0);

/** Adds `value` to the total under `key`. */
function add(totals: Map<string, number>, key: string, value: number) {
  totals.set(key, (totals.get(key) ?? 0) + value);
}

export function createAdminStats(metrics: Metrics, urgencies: readonly string[]) {
  const samples: Sample[] = [];

  return async function read(now: number): Promise<AdminStats> {
    const [accepted, deliveries, sockets, scheduled, queues] = await Promise.all([
      values(metrics, 'herald_messages_accepted_total'),
      values(metrics, 'herald_deliveries_total'),
      values(metrics, 'herald_ws_connections'),
      values(metrics, 'herald_scheduled_jobs'),
      values(metrics, 'herald_queue_depth'),
    ]);
    const totals = new Map<string, number>();
    // Every urgency is listed, with 0 before its first message, so the panel's rows stay put.
    for (const urgency of urgencies) totals.set(`accepted:${urgency}`, 0);
    for (const row of accepted) add(totals, `accepted:${String(row.labels.urgency)}`, row.value);
    for (const row of deliveries) add(totals, `delivery:${String(row.labels.channel)}\u0000${String(row.labels.result)}`, row.value);

    const last = samples[samples.length - 1];
    if (!last || now - last.at >= SAMPLE_EVERY_MS) samples.push({ at: now, totals });
    // Keep the newest sample that is at least a minute old as the baseline.
    while (samples.length > 1 && (samples[1] as Sample).at <= now - WINDOW_MS) samples.shift();
    const base = samples[0];
    const window = base && now - base.at >= MIN_WINDOW_MS ? now - base.at : undefined;
    const perMinute = (key: string, total: number) =>
      window === undefined || !base ? null : Math.round((((total - (base.totals.get(key) ?? 0)) * 60_000) / window) * 10) / 10;

    const acceptedRows = [...totals]
      .filter(([key]) => key.startsWith('accepted:'))
      .map(([key, total]) => ({ urgency: key.slice('accepted:'.length), total, perMinute: perMinute(key, total) }));
    const deliveryRows = [...totals]
      .filter(([key]) => key.startsWith('delivery:'))
      .map(([key, total]) => {
        const [channel = '', result = ''] = key.slice('delivery:'.length).split('\u0000');
        return { channel, result, total, perMinute: perMinute(key, total) };
      })
      .sort((a, b) => a.channel.localeCompare(b.channel) || a.result.localeCompare(b.result));
    return {
      at: now,
      sockets: sum(sockets),
      scheduledJobs: sum(scheduled),
      windowSeconds: window === undefined ? null : Math.round(window / 1000),
      accepted: acceptedRows,
      deliveries: deliveryRows,
      queues: queues.map((row) => ({ subject: String(row.labels.subject), depth: row.value })).sort((a, b) => a.subject.localeCompare(b.subject)),
    };
  };
}
