/**
 * ingest: authenticated POST /api/v1/send ({"msg":"hello","uid":"u<k>"}, k cycling over 1,000
 * uids, admin JWT) at a fixed concurrency (64 connections, no pipelining) with autocannon in
 * this process, against the server in its own child process: 2 s warm-up (discarded), then the
 * measured run. Only 202s count as accepted. Reference: bare uWebSockets.js answering the same
 * request with 202 after reading the body (bench/reference/bare-uws.ts), measured the same way.
 * `BENCH_INGEST_SENDER=user` sends with a non-admin token instead (the sender subject to the send
 * rate limits; raise them through the HERALD_RATE_* variables, which reach the server's env, so
 * the limiter's cost is measured without refusals).
 */
import autocannon from 'autocannon';
import { mintToken } from '../src/auth/tokens.js';
import { BENCH_SECRET, cpuSeconds, type ServerProcess, startHerald, startReference, waitIdle } from './lib/proc.js';
import type { ResultRow } from './lib/stats.js';

export const INGEST_TARGET_SHARE = 0.3;
const UIDS = 1000;

export interface IngestOptions {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  log(line: string): void;
}

export interface IngestFigures {
  accepted: number;
  acceptedPerSecond: number;
  non202: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU use during the measured run, in cores (1 = one core busy). */
  serverCores: number;
}

async function load(url: string, token: string, connections: number, seconds: number) {
  // 1,000 pre-built requests (one per uid); every connection cycles through them.
  const requests = Array.from({ length: UIDS }, (_, k) => ({
    method: 'POST' as const,
    path: '/api/v1/send',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ msg: 'hello', uid: `u${k}` }),
  }));
  return autocannon({ url, connections, pipelining: 1, duration: seconds, requests, timeout: 10 });
}

export async function measureIngest(server: ServerProcess, options: IngestOptions): Promise<IngestFigures> {
  const token =
    process.env.BENCH_INGEST_SENDER === 'user'
      ? await mintToken(BENCH_SECRET, { sub: 'bench-user', ttlSeconds: 3600 })
      : await mintToken(BENCH_SECRET, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 });
  await load(server.url, token, options.connections, options.warmupSeconds);
  await waitIdle(server.pid, { windowMs: 300, maxMs: 15_000 });
  const cpu0 = cpuSeconds(server.pid);
  const result = await load(server.url, token, options.connections, options.durationSeconds);
  const serverCores = (cpuSeconds(server.pid) - cpu0) / result.duration;
  const stats = result.statusCodeStats as unknown as Record<string, { count: number }>;
  const accepted = Number(stats['202']?.count ?? 0);
  const total = Object.values(stats).reduce((sum, s) => sum + Number(s.count), 0);
  return {
    accepted,
    acceptedPerSecond: accepted / result.duration,
    non202: total - accepted,
    errors: result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    serverCores,
  };
}

function describe(name: string, f: IngestFigures) {
  return (
    `  ${name}: ${Math.round(f.acceptedPerSecond).toLocaleString('en-US')} accepted/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ` +
    `non-202 ${f.non202}, errors ${f.errors}, server CPU ${f.serverCores.toFixed(2)} cores`
  );
}

export async function runIngest(options: IngestOptions): Promise<ResultRow[]> {
  options.log(`ingest: POST /api/v1/send, ${options.connections} connections, ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s`);
  const herald = await startHerald();
  let h: IngestFigures;
  try {
    h = await measureIngest(herald, options);
  } finally {
    await herald.stop();
  }
  options.log(describe('Herald', h));
  const bare = await startReference('bare-uws');
  let r: IngestFigures;
  try {
    r = await measureIngest(bare, options);
  } finally {
    await bare.stop();
  }
  options.log(describe('bare uWS', r));
  const share = h.acceptedPerSecond / r.acceptedPerSecond;
  return [
    {
      bench: 'ingest',
      metric: `accepted/s (202), ${options.connections} conns`,
      herald: h.acceptedPerSecond,
      reference: r.acceptedPerSecond,
      referenceName: 'bare uWS',
      unit: 'req/s',
      ratio: share,
      target: `≥ ${INGEST_TARGET_SHARE * 100}% of bare uWS`,
      pass: share >= INGEST_TARGET_SHARE,
      note: `non-202: Herald ${h.non202}, bare uWS ${r.non202}; errors: ${h.errors} / ${r.errors}`,
    },
    { bench: 'ingest', metric: 'latency p50', herald: h.p50Ms, reference: r.p50Ms, referenceName: 'bare uWS', unit: 'ms' },
    { bench: 'ingest', metric: 'latency p99', herald: h.p99Ms, reference: r.p99Ms, referenceName: 'bare uWS', unit: 'ms' },
    {
      bench: 'ingest',
      metric: 'server CPU during run',
      herald: h.serverCores,
      reference: r.serverCores,
      referenceName: 'bare uWS',
      unit: 'cores',
      note: 'the load generator uses the rest of the 2 cores',
    },
  ];
}
