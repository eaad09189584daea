/**
 * cluster ingest: accepted sends/s through the cluster's API processes (durable: each 202 means
 * the message is in Cassandra and its triage work in JetStream). The same request mix as
 * bench/ingest.ts (POST /api/v1/send {"msg":"hello","uid":"u<k>"}, k cycling over 1,000 uids,
 * admin JWT), with autocannon in this process: the connections are split evenly over the API
 * processes (one autocannon instance per process, run at the same time; a load balancer would
 * spread them the same way), warm-up discarded, then the measured run. Latency percentiles
 * are over every response of the measured run (all instances), recorded per response.
 * The embedded figure beside it is bench/ingest.ts's measureIngest against embedded Herald.
 */
import autocannon from 'autocannon';
import { mintToken } from '../../src/auth/tokens.js';
import type { IngestOptions } from '../ingest.js';
import { BENCH_SECRET, cpuSeconds } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';
import type { Cluster } from './cluster.js';
import { allIdle } from './latency.js';

const UIDS = 1000;

export interface IngestFigures {
  acceptedPerSecond: number;
  accepted: number;
  non202: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU used during the measured run, in cores, per role (summed over its processes). */
  cores: Record<string, number>;
}

function requestsFor(token: string) {
  return Array.from({ length: UIDS }, (_, k) => ({
    method: 'POST' as const,
    path: '/api/v1/send',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ msg: 'hello', uid: `u${k}` }),
  }));
}

interface LoadResult {
  duration: number;
  statusCounts: Map<number, number>;
  errors: number;
  latencies: number[];
}

/** One autocannon instance per URL, all at once; `record` keeps every response time. */
async function load(urls: string[], token: string, connections: number, seconds: number, record: boolean): Promise<LoadResult> {
  const requests = requestsFor(token);
  const latencies: number[] = [];
  const statusCounts = new Map<number, number>();
  const per = Math.max(1, Math.floor(connections / urls.length));
  const results = await Promise.all(
    urls.map(
      (url) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon({ url, connections: per, pipelining: 1, duration: seconds, requests, timeout: 10 }, (error, result) =>
            error ? reject(error) : resolve(result),
          );
          instance.on('response', (_client, statusCode, _bytes, responseTime) => {
            statusCounts.set(statusCode, (statusCounts.get(statusCode) ?? 0) + 1);
            if (record) latencies.push(responseTime);
          });
        }),
    ),
  );
  return {
    duration: Math.max(...results.map((r) => r.duration)),
    statusCounts,
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
    latencies,
  };
}

/** The processes under test: the API ones get the load (`role` 'api' or 'embedded'); all must go idle. */
export type IngestTarget = Array<{ url: string; pid: number; role: string }>;

export const clusterIngestTarget = (cluster: Cluster): IngestTarget => cluster.processes.map((p) => ({ url: p.url, pid: p.pid, role: p.role }));

export async function measureIngest(target: IngestTarget, options: IngestOptions): Promise<IngestFigures> {
  const urls = target.filter((p) => p.role === 'api' || p.role === 'embedded').map((p) => p.url);
  const pids = target.map((p) => p.pid);
  const token = await mintToken(BENCH_SECRET, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 });
  await load(urls, token, options.connections, options.warmupSeconds, false);
  await allIdle(pids, 60_000);
  const cpu0 = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
  const result = await load(urls, token, options.connections, options.durationSeconds, true);
  const cores: Record<string, number> = {};
  for (const p of target) cores[p.role] = (cores[p.role] ?? 0) + (cpuSeconds(p.pid) - (cpu0.get(p.pid) ?? 0)) / result.duration;
  const accepted = result.statusCounts.get(202) ?? 0;
  const total = [...result.statusCounts.values()].reduce((a, b) => a + b, 0);
  const s = summarize(result.latencies);
  return {
    accepted,
    acceptedPerSecond: accepted / result.duration,
    non202: total - accepted,
    errors: result.errors,
    p50Ms: s.p50,
    p99Ms: s.p99,
    cores,
  };
}
