/**
 * cluster latency: send → WebSocket frame across processes. One socket (uid `lat0`) is open on
 * the gateway process with a ticket from an API process; this process sends POST /api/v1/send
 * to `lat0` through the API processes (alternately) at a fixed rate, open loop (each send is
 * scheduled by the clock, never by the previous answer), with the send time in `opts.data.t`.
 * The frame travels API → JetStream → worker (triage, deliver) → NATS → gateway → socket;
 * the same process sends and receives, so latency = frame arrival − send start on one clock.
 * Same method as bench/latency.ts (embedded): warm-up ramping 10 % → 100 % of the rate
 * (discarded), then every Herald process is left to go idle, then the measured run at the full
 * rate. The embedded figure beside it is bench/latency.ts's own measurement, in the same run.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { mintToken } from '../../src/auth/tokens.js';
import { type OpenLoopResult, openLoop } from '../latency.js';
import { HttpPool } from '../lib/http.js';
import { BENCH_SECRET, sleep, waitIdle } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';
import type { Cluster } from './cluster.js';
import { serverPids } from './servers.js';

const now = () => performance.timeOrigin + performance.now();

export interface LatencyOptions {
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  log(line: string): void;
  /** Called once the socket is connected and caught up, before the first send (to read counters from there). */
  beforeSends?: () => Promise<void>;
}

export interface LatencyFigures {
  /** Over every measured send; a frame that never came (within 10 s of the last send) counts as infinitely late. */
  frames: ReturnType<typeof summarize>;
  http: ReturnType<typeof summarize>;
  result: OpenLoopResult;
  warmupSent: number;
}

/** Where to measure: the API URLs sends go to (in turn), the gateway URL, the pids that must go idle. */
export interface LatencyTarget {
  apis: string[];
  gateway: string;
  pids: number[];
}

export const clusterTarget = (cluster: Cluster): LatencyTarget => {
  const apis = cluster.of('api').map((p) => p.url);
  const gateway = cluster.of('gateway')[0]?.url;
  if (apis.length === 0 || !gateway) throw new Error('cluster latency needs an API and a gateway process');
  return { apis, gateway, pids: cluster.processes.map((p) => p.pid) };
};

/** Waits until every process is idle (or `maxMs` passed). */
export async function allIdle(pids: number[], maxMs = 20_000): Promise<void> {
  await Promise.all(pids.map((pid) => waitIdle(pid, { windowMs: 300, maxMs })));
}

export const clusterIdle = (cluster: Cluster, maxMs = 20_000) =>
  allIdle(
    cluster.processes.map((p) => p.pid),
    maxMs,
  );

/**
 * The cluster's processes and the servers at rest (the servers' housekeeping allowed: at most
 * 10 % of a core each), so a measurement does not inherit the previous one's work (Cassandra's
 * flushes and compactions, Elasticsearch's merges). Resolves with how long it waited.
 */
export async function clusterQuiet(cluster: Cluster, maxMs = 60_000): Promise<number> {
  const started = Date.now();
  const servers = Object.values(serverPids()).filter((pid): pid is number => pid !== undefined);
  await Promise.all([clusterIdle(cluster, maxMs), ...servers.map((pid) => waitIdle(pid, { windowMs: 1_000, maxCpuShare: 0.1, maxMs }))]);
  return Date.now() - started;
}

export async function measureLatency(target: LatencyTarget, options: LatencyOptions): Promise<LatencyFigures> {
  const sender = await mintToken(BENCH_SECRET, { sub: 'bench-sender', ttlSeconds: 3600 });
  const user = await mintToken(BENCH_SECRET, { sub: 'lat0', ttlSeconds: 3600 });
  const one = new HttpPool(target.apis[0] as string, 1);
  const ticket = await one.request('POST', '/api/v1/ws/token', { authorization: `Bearer ${user}` });
  one.close();
  if (ticket.status !== 200) throw new Error(`ticket: ${ticket.status} ${ticket.body}`);
  const frameTimes = new Map<number, number>();
  const ws = new WebSocket(`${target.gateway.replace('http:', 'ws:')}/ws?token=${(JSON.parse(ticket.body) as { token: string }).token}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('message', (data: Buffer) => {
    const at = now();
    const frame = JSON.parse(data.toString()) as { type: string; data?: { seq?: number } };
    if (frame.type === 'message' && typeof frame.data?.seq === 'number') frameTimes.set(frame.data.seq, at);
  });
  // Presence is written asynchronously when the socket opens: let it land before the first send.
  await sleep(500);
  await options.beforeSends?.();
  const pools = target.apis.map((url) => new HttpPool(url, 32));
  const body = (seq: number, t: number) => JSON.stringify({ msg: 'latency', uid: 'lat0', opts: { data: { t, seq } } });
  const headers = { authorization: `Bearer ${sender}`, 'content-type': 'application/json' };
  try {
    const warm = await openLoop(pools, options.rate, options.warmupSeconds, true, 0, body, headers, frameTimes);
    const w = summarize(warm.frames);
    options.log(`    warm-up: ${warm.sent} sends, frame p50 ${w.p50.toFixed(2)} ms, p99 ${w.p99.toFixed(2)} ms, missing ${warm.missing}`);
    await allIdle(target.pids);
    const result = await openLoop(pools, options.rate, options.durationSeconds, false, warm.sent, body, headers, frameTimes);
    const late = new Array<number>(result.missing).fill(Number.POSITIVE_INFINITY);
    return { frames: summarize([...result.frames, ...late]), http: summarize(result.http), result, warmupSent: warm.sent };
  } finally {
    for (const pool of pools) pool.close();
    ws.close();
  }
}
