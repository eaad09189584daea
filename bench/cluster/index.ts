/**
 * `npm run bench -- --cluster [--quick]`: Herald as a cluster of OS processes over the
 * machine's real servers (NATS JetStream, Redis, Cassandra, Elasticsearch on 127.0.0.1;
 * `bash scripts/services/up.sh` starts them), each figure beside a reference measured in the
 * same run, once the servers are warm (their JIT compilers quiet: a warm-up cluster takes
 * WARMUP_RATE msg/s first, unmeasured, and the log says how long it took):
 *  - latency: send → frame across processes (API ≠ gateway ≠ worker) at 1,000 msg/s open loop;
 *    reference: the same measurement (same code) against embedded Herald (one process, SQLite).
 *  - broadcast: how long after the 202 a broadcast to N users is in a sample of their inboxes
 *    (one timeline row); and users/s of its expansion, in which triage visits only the users
 *    with a device or an address (UserStore.pageReachable); reference: a raw token-range scan
 *    of the users table, same page size.
 *  - ingest: accepted sends/s through 2 API processes (durable: Cassandra + JetStream);
 *    reference: the same load (same code) against embedded Herald.
 * Topology: 2 API, 1 gateway, 2 worker (triage, deliver) processes — a fresh cluster per phase
 * (own keyspace, streams, indices, Redis keys, all unique to the run and removed after the
 * phase), so no phase inherits another's backlog. Cassandra requests per send — as the drivers
 * sent them, by role (system_views.clients), and as Cassandra served them, by table — are rows
 * of the results; in the log also: CPU per process during the broadcast, a latency run at a
 * light rate, and a raw Cassandra point-read latency. Latency is also measured at
 * CLUSTER_MID_RATE msg/s, the rate of the cluster's own target (send → frame p99 ≤
 * CLUSTER_MID_TARGET_P99_MS): a rate the cluster must sustain with headroom, where the 1,000 msg/s run
 * measures how it copes with more than it can take on this machine.
 * HERALD_BENCH_CPU_PROF=<dir> starts the worker and API processes with `node --cpu-prof` (profiles are
 * written there when they stop). HERALD_BENCH_USERS overrides the broadcast's N.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CLUSTER_CLOCK_SKEW_MS } from '../../src/pipeline/recent-recalls.js';
import { NO_SEND_LIMITS, sleep, startHerald } from '../lib/proc.js';
import type { ResultRow } from '../lib/stats.js';
import { expandBroadcast, pointReads, scanUsers, seedUsers, VISIBILITY_SAMPLE } from './broadcast.js';
import { Cluster } from './cluster.js';
import { clusterIngestTarget, type IngestFigures, measureIngest } from './ingest.js';
import { allIdle, clusterIdle, clusterQuiet, clusterTarget, type LatencyFigures, measureLatency } from './latency.js';
import {
  type CqlOps,
  clientRequests,
  clusterPids,
  coresBetween,
  cpuSnapshot,
  cqlOps,
  describeCores,
  describeOps,
  jitSeconds,
  requestsPer,
  serverPids,
} from './servers.js';

export const CLUSTER_LATENCY_TARGET_P99_MS = 10;
export const CLUSTER_MID_RATE = 200;
export const CLUSTER_MID_TARGET_P99_MS = 50;
/** Accepted sends/s of the cluster (2 API processes), as a share of embedded Herald's in the same run. */
export const CLUSTER_INGEST_TARGET_SHARE = 0.25;
/** Cassandra requests (as a driver sends them) of one send to a live socket, accept to receipt. */
export const REQUESTS_PER_SEND_TARGET = 4;
export const BROADCAST_TARGET_PER_SECOND = 50_000;
export const BROADCAST_TARGET_USERS = 1_000_000;
/** A broadcast is in every (sampled) inbox this soon after its 202, whatever the number of users. */
export const BROADCAST_VISIBLE_TARGET_MS = 2_000;
/**
 * The servers' warm-up: sends at this rate, in rounds of WARMUP_ROUND_SECONDS, until the JIT
 * compilers of Cassandra and Elasticsearch use less than WARMUP_QUIET_JIT_CORES over a round
 * (or the time is up). A JVM compiles its hot code during its first minutes of work; measured
 * before that, the tail is the compilers' (2026-12-06, on servers started minutes before:
 * 200 msg/s p99 1,728 ms, then 296 and 130 ms in the next runs, then 30-35 ms).
 */
const WARMUP_RATE = 400;
const WARMUP_ROUND_SECONDS = 5;
const WARMUP_QUIET_JIT_CORES = 0.05;

export interface ClusterOptions {
  quick: boolean;
  log(line: string): void;
}

function settings(quick: boolean) {
  const users = Number(process.env.HERALD_BENCH_USERS ?? (quick ? 20_000 : 200_000));
  return quick
    ? {
        latency: { rate: 1000, warmupSeconds: 2, durationSeconds: 3 },
        ingest: { connections: 64, warmupSeconds: 1, durationSeconds: 3 },
        broadcast: { users, maxSeconds: 60 },
        lightRate: 50,
        warmupMaxSeconds: 30,
      }
    : {
        latency: { rate: 1000, warmupSeconds: 4, durationSeconds: 10 },
        ingest: { connections: 64, warmupSeconds: 2, durationSeconds: 10 },
        broadcast: { users, maxSeconds: 300 },
        lightRate: 50,
        warmupMaxSeconds: 120,
      };
}

/** Sends of a latency measurement, warm-up included. */
const sentIn = (f: LatencyFigures) => f.result.sent + f.warmupSent;
const ms = (v: number) => `${v.toFixed(2)} ms`;
const perS = (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`;

function describeLatency(name: string, f: LatencyFigures) {
  return (
    `  ${name}: send→frame p50 ${ms(f.frames.p50)}, p99 ${ms(f.frames.p99)}, max ${ms(f.frames.max)}; send→202 p50 ${ms(f.http.p50)}, p99 ${ms(f.http.p99)}; ` +
    `missing ${f.result.missing}/${f.result.sent}, non-2xx ${f.result.non2xx}, max schedule lag ${f.result.maxLagMs.toFixed(1)} ms`
  );
}

function describeIngest(name: string, f: IngestFigures) {
  const cores = Object.entries(f.cores)
    .map(([role, c]) => `${role} ${c.toFixed(2)}`)
    .join(', ');
  return `  ${name}: ${perS(f.acceptedPerSecond)} accepted, p50 ${ms(f.p50Ms)}, p99 ${ms(f.p99Ms)}, non-202 ${f.non202}, errors ${f.errors}; CPU (cores): ${cores}`;
}

export async function runCluster(options: ClusterOptions): Promise<ResultRow[]> {
  const { log } = options;
  const s = settings(options.quick);
  const pids = serverPids();
  for (const name of ['cassandra', 'elasticsearch', 'nats', 'redis']) {
    if (!pids[name]) throw new Error(`${name} is not running on 127.0.0.1: start the servers with \`bash scripts/services/up.sh\``);
  }
  const profDir = process.env.HERALD_BENCH_CPU_PROF ? path.resolve(process.env.HERALD_BENCH_CPU_PROF) : undefined;
  if (profDir) fs.mkdirSync(profDir, { recursive: true });

  // References first, on embedded Herald (one process, SQLite), while the servers are quiet.
  log(`cluster: embedded references — latency ${s.latency.rate} msg/s (${s.latency.warmupSeconds} s warm-up + ${s.latency.durationSeconds} s), ingest`);
  let embeddedLatency: LatencyFigures;
  let embeddedIngest: IngestFigures;
  {
    // Without the send limits, as the cluster runs (bench/cluster/cluster.ts): one sender at 1,000 msg/s.
    const herald = await startHerald(NO_SEND_LIMITS);
    try {
      embeddedLatency = await measureLatency({ apis: [herald.url], gateway: herald.url, pids: [herald.pid] }, { ...s.latency, log });
      log(describeLatency('embedded', embeddedLatency));
    } finally {
      await herald.stop();
    }
  }
  {
    const herald = await startHerald(NO_SEND_LIMITS);
    try {
      embeddedIngest = await measureIngest([{ url: herald.url, pid: herald.pid, role: 'embedded' }], { ...s.ingest, log });
      log(describeIngest('embedded', embeddedIngest));
    } finally {
      await herald.stop();
    }
  }

  /** A fresh cluster (own keyspace, streams, indices) per phase: no phase inherits another's backlog. */
  /** What Cassandra served for the cluster so far: per table, and per client process. */
  interface Served {
    ops: CqlOps;
    requests: Map<number, number>;
  }
  /** Per `units` (sends): the per-table text and the requests by role. */
  const servedPer = (cluster: Cluster, before: Served, after: Served, units: number) => ({
    tables: describeOps(before.ops, after.ops, units),
    requests: requestsPer(before.requests, after.requests, new Map(cluster.processes.map((p) => [p.pid, p.role])), units),
  });
  const withCluster = async <T>(phase: string, fn: (cluster: Cluster, served: () => Promise<Served>) => Promise<T>): Promise<T> => {
    const cluster = await Cluster.create();
    const cql = cluster.cassandraClient();
    try {
      const profArgs = (role: string) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, phase, role)}`] : []);
      await Promise.all([
        cluster.start('api', profArgs('api')),
        cluster.start('api', profArgs('api')),
        cluster.start('gateway'),
        cluster.start('worker', profArgs('worker')),
        cluster.start('worker', profArgs('worker')),
      ]);
      log(`  ${phase}: keyspace ${cluster.names.keyspace}; ${cluster.processes.map((p) => `${p.role} ${p.pid}`).join(', ')}`);
      const served = async (): Promise<Served> => {
        const [ops, requests] = await Promise.all([cqlOps(cql, cluster.names.keyspace), clientRequests(cql, cluster.names.keyspace)]);
        return { ops, requests };
      };
      return await fn(cluster, served);
    } finally {
      await cql.shutdown();
      const problems = await cluster.cleanup();
      log(
        problems.length === 0
          ? `  ${phase}: cleaned up (keyspace dropped; indices, streams, Redis keys of ${cluster.names.cluster} deleted)`
          : `  ${phase}: cleanup problems: ${problems.join('; ')}`,
      );
    }
  };

  log(`cluster: the servers' warm-up, ${WARMUP_RATE} msg/s until their JIT compilers are quiet (at most ${s.warmupMaxSeconds} s; not measured)`);
  await withCluster('warm-up', async (cluster) => {
    const jvms = serverPids();
    const jit = () => Object.fromEntries(['cassandra', 'elasticsearch'].map((name) => [name, jitSeconds(jvms[name] as number)]));
    const started = performance.now();
    for (let round = 1; ; round++) {
      const before = jit();
      const t0 = performance.now();
      const f = await measureLatency(clusterTarget(cluster), {
        rate: WARMUP_RATE,
        warmupSeconds: 0,
        durationSeconds: WARMUP_ROUND_SECONDS,
        log: () => undefined,
      });
      const after = jit();
      const cores = coresBetween(before, after, (performance.now() - t0) / 1000);
      const quiet = Object.values(cores).every((c) => c < WARMUP_QUIET_JIT_CORES);
      log(`    round ${round}: send→frame p99 ${ms(f.frames.p99)}; JIT compilers (cores): ${describeCores(cores)}`);
      if (quiet || (performance.now() - started) / 1000 >= s.warmupMaxSeconds) {
        log(quiet ? `    warm after ${round} rounds` : `    still compiling after ${s.warmupMaxSeconds} s: figures below include it`);
        break;
      }
    }
  });

  log(`cluster latency: socket on the gateway, sends through both API processes, ${s.latency.rate} msg/s (and ${s.lightRate}, ${CLUSTER_MID_RATE} msg/s)`);
  const { latency, light, mid, perSend } = await withCluster('latency', async (cluster, served) => {
    // A second of sends first, not counted: each process prepares the statements of the send
    // path on its first use of them — a cost per process, not per send.
    await measureLatency(clusterTarget(cluster), { rate: s.lightRate, warmupSeconds: 0, durationSeconds: 1, log: () => undefined });
    const quiet = async () => {
      const waited = await clusterQuiet(cluster);
      if (waited > 2_000) log(`    (waited ${(waited / 1000).toFixed(1)} s for the servers to be quiet)`);
    };
    await quiet();
    // A triage process trusts the message a work item carries, and the recalls it heard, only
    // for work published CLUSTER_CLOCK_SKEW_MS after it began to listen (the hosts' clocks may
    // differ): until then it reads each message back. That is a cost of a process's first
    // seconds, not of a send: the count starts once it is over.
    const trusted = cluster.lastStartedAt + CLUSTER_CLOCK_SKEW_MS + 1_000 - Date.now();
    if (trusted > 0) await sleep(trusted);
    // Counted from the first send on: the socket's connect (its catch-up reads) is not a send's.
    let before: Served | undefined;
    const light = await measureLatency(clusterTarget(cluster), {
      ...s.latency,
      rate: s.lightRate,
      log,
      beforeSends: async () => {
        before = await served();
      },
    });
    log(describeLatency(`cluster at ${s.lightRate} msg/s`, light));
    await clusterIdle(cluster);
    // Every send of the light run was delivered: this is the whole cost of one message, accept to frame.
    if (!before) throw new Error('the light latency run sent nothing');
    const perSend = servedPer(cluster, before, await served(), sentIn(light));
    log(`    Cassandra requests per send (accept, triage, deliver), as sent: ${perSend.requests.text}`);
    log(`    … as served, per table (a conditional write counts as its read): ${perSend.tables}`);
    await quiet();
    const pids = clusterPids(cluster);
    const cpu0 = cpuSnapshot(pids);
    const t0 = performance.now();
    const mid = await measureLatency(clusterTarget(cluster), { ...s.latency, rate: CLUSTER_MID_RATE, log });
    const cores = coresBetween(cpu0, cpuSnapshot(pids), (performance.now() - t0) / 1000);
    log(describeLatency(`cluster at ${CLUSTER_MID_RATE} msg/s`, mid));
    log(`    CPU during that run, warm-up included (cores): ${describeCores(cores)}`);
    await quiet();
    const latency = await measureLatency(clusterTarget(cluster), { ...s.latency, log });
    log(describeLatency(`cluster at ${s.latency.rate} msg/s`, latency));
    return { latency, light, mid, perSend };
  });

  log(`cluster ingest: POST /api/v1/send, ${s.ingest.connections} connections over 2 API processes`);
  const { ingest, perAccepted } = await withCluster('ingest', async (cluster, served) => {
    const before = await served();
    const ingest = await measureIngest(clusterIngestTarget(cluster), { ...s.ingest, log });
    log(describeIngest('cluster', ingest));
    const perAccepted = servedPer(cluster, before, await served(), Math.max(1, ingest.accepted));
    log(`    Cassandra requests per accepted send (accept, and the triage that kept up), as sent: ${perAccepted.requests.text}`);
    log(`    … as served, per table: ${perAccepted.tables}`);
    return { ingest, perAccepted };
  });

  log(`broadcast: ${s.broadcast.users.toLocaleString('en-US')} users, expansion by 2 worker processes`);
  const { seed, scan, expansion, pointRead } = await withCluster('broadcast', async (cluster, served) => {
    const seed = await seedUsers(cluster, s.broadcast.users, log);
    log(`  seeded ${seed.users.toLocaleString('en-US')} users in ${seed.seconds.toFixed(1)} s: ${perS(seed.rowsPerSecond)} rows`);
    // Let Cassandra flush and compact what the seeding wrote before timing reads.
    await allIdle([pids.cassandra as number], 60_000);
    const pointRead = await pointReads(cluster);
    log(`  Cassandra point read, one in flight: p50 ${ms(pointRead.p50)}, p99 ${ms(pointRead.p99)}`);
    const scan = await scanUsers(cluster);
    log(
      `  reference: token-range scan (uid, pages of 500): ${scan.users.toLocaleString('en-US')} users in ${scan.seconds.toFixed(2)} s, ${perS(scan.usersPerSecond)}`,
    );
    const scanRows = await scanUsers(cluster, 'uid, email, phone, locale, timezone, attributes, created_at, updated_at');
    log(`  (the same scan with every column, as users.page reads it: ${perS(scanRows.usersPerSecond)})`);
    const before = (await served()).ops;
    const sample = Array.from({ length: VISIBILITY_SAMPLE }, (_, i) => `bc${Math.floor((i * s.broadcast.users) / VISIBILITY_SAMPLE)}`);
    const expansion = await expandBroadcast(cluster, scan.users, { maxSeconds: s.broadcast.maxSeconds, log, sample });
    log(
      `  in every sampled inbox (${sample.length} users, read through the API) after the 202: ` +
        `slowest ${ms(expansion.visibleAfterMs.at(-1) ?? Number.NaN)}, fastest ${ms(expansion.visibleAfterMs[0] ?? Number.NaN)}`,
    );
    log(
      `  expansion: ${expansion.finished ? 'triaged' : `NOT finished within ${s.broadcast.maxSeconds} s (${(expansion.share * 100).toFixed(1)} % done)`} — ` +
        `${scan.users.toLocaleString('en-US')} recipients in ${expansion.seconds.toFixed(1)} s: ${perS(expansion.recipientsPerSecond)}` +
        (expansion.windows.length ? ` (5-s windows: ${expansion.windows.map((w) => Math.round(w)).join(', ')})` : ''),
    );
    log(`    Cassandra requests per recipient: ${describeOps(before, (await served()).ops, Math.max(1, Math.round(scan.users * expansion.share)))}`);
    return { seed, scan, expansion, pointRead };
  });

  const noteUsers =
    scan.users < BROADCAST_TARGET_USERS
      ? `N = ${scan.users.toLocaleString('en-US')} (target N is 1,000,000; seeding ran at ${perS(seed.rowsPerSecond)})`
      : `N = ${scan.users.toLocaleString('en-US')}`;
  const latencyNote = (f: LatencyFigures, rate: number) =>
    `${rate} msg/s offered, ${Math.round(f.result.deliveredPerSecond).toLocaleString('en-US')}/s delivered; frames missing ${f.result.missing}/${f.result.sent} (count as ∞)`;
  const rows: ResultRow[] = [
    {
      bench: 'cluster latency',
      metric: `send → frame p50, ${s.latency.rate}/s`,
      herald: latency.frames.p50,
      reference: embeddedLatency.frames.p50,
      referenceName: 'embedded Herald',
      unit: 'ms',
      note: latencyNote(latency, s.latency.rate),
    },
    {
      bench: 'cluster latency',
      metric: `send → frame p99, ${s.latency.rate}/s`,
      herald: latency.frames.p99,
      reference: embeddedLatency.frames.p99,
      referenceName: 'embedded Herald',
      unit: 'ms',
      target: `≤ ${CLUSTER_LATENCY_TARGET_P99_MS} ms`,
      pass: latency.frames.p99 <= CLUSTER_LATENCY_TARGET_P99_MS && latency.result.missing === 0,
    },
    {
      bench: 'cluster latency',
      metric: `send → 202 p99, ${s.latency.rate}/s`,
      herald: latency.http.p99,
      reference: embeddedLatency.http.p99,
      referenceName: 'embedded Herald',
      unit: 'ms',
    },
    {
      bench: 'cluster latency',
      metric: `send → frame p50, ${s.lightRate}/s`,
      herald: light.frames.p50,
      unit: 'ms',
      note: latencyNote(light, s.lightRate),
    },
    { bench: 'cluster latency', metric: `send → frame p99, ${s.lightRate}/s`, herald: light.frames.p99, unit: 'ms' },
    {
      bench: 'cluster latency',
      metric: `send → frame p99, ${CLUSTER_MID_RATE}/s`,
      herald: mid.frames.p99,
      unit: 'ms',
      target: `≤ ${CLUSTER_MID_TARGET_P99_MS} ms`,
      pass: mid.frames.p99 <= CLUSTER_MID_TARGET_P99_MS && mid.result.missing === 0,
      note: `${latencyNote(mid, CLUSTER_MID_RATE)}; p50 ${ms(mid.frames.p50)}, send → 202 p99 ${ms(mid.http.p99)}`,
    },
    {
      bench: 'cluster latency',
      metric: `Cassandra requests per send, ${s.lightRate}/s`,
      herald: perSend.requests.total,
      unit: 'requests',
      target: `≤ ${REQUESTS_PER_SEND_TARGET}`,
      pass: perSend.requests.total <= REQUESTS_PER_SEND_TARGET,
      note: `accept to receipt, as the drivers sent them: ${Object.entries(perSend.requests.byRole)
        .map(([role, n]) => `${role} ${n.toFixed(2)}`)
        .join(', ')}`,
    },
    {
      bench: 'broadcast',
      metric: `expansion, ${scan.users.toLocaleString('en-US')} users`,
      herald: expansion.recipientsPerSecond,
      reference: scan.usersPerSecond,
      referenceName: 'raw token scan',
      unit: 'recipients/s',
      ratio: expansion.recipientsPerSecond / scan.usersPerSecond,
      target: `≥ ${BROADCAST_TARGET_PER_SECOND.toLocaleString('en-US')}/s`,
      pass: expansion.finished && expansion.recipientsPerSecond >= BROADCAST_TARGET_PER_SECOND,
      note: `${noteUsers}; ${expansion.finished ? `triaged in ${expansion.seconds.toFixed(1)} s` : `unfinished after ${expansion.seconds.toFixed(0)} s, rate from the cursor`}`,
    },
    {
      bench: 'broadcast',
      metric: `in every sampled inbox after the 202, ${scan.users.toLocaleString('en-US')} users`,
      herald: expansion.visibleAfterMs.at(-1) ?? Number.NaN,
      unit: 'ms',
      target: `≤ ${BROADCAST_VISIBLE_TARGET_MS.toLocaleString('en-US')} ms`,
      pass: (expansion.visibleAfterMs.at(-1) ?? Number.POSITIVE_INFINITY) <= BROADCAST_VISIBLE_TARGET_MS,
      note: `${noteUsers}; the slowest of ${expansion.visibleAfterMs.length} inboxes read through the API, p50 ${ms(expansion.visibleAfterMs[Math.floor(expansion.visibleAfterMs.length / 2)] ?? Number.NaN)}`,
    },
    {
      bench: 'broadcast',
      metric: 'seeding users (driver INSERTs)',
      herald: seed.rowsPerSecond,
      unit: 'rows/s',
      note: `${seed.users.toLocaleString('en-US')} rows in ${seed.seconds.toFixed(1)} s, 512 in flight`,
    },
    { bench: 'broadcast', metric: 'Cassandra point read p99 (context)', herald: pointRead.p99, unit: 'ms', note: `p50 ${ms(pointRead.p50)}, one in flight` },
    {
      bench: 'cluster ingest',
      metric: `accepted/s (202), ${s.ingest.connections} conns, 2 API`,
      herald: ingest.acceptedPerSecond,
      reference: embeddedIngest.acceptedPerSecond,
      referenceName: 'embedded Herald',
      unit: 'req/s',
      ratio: ingest.acceptedPerSecond / embeddedIngest.acceptedPerSecond,
      target: `≥ ${CLUSTER_INGEST_TARGET_SHARE * 100} % of embedded`,
      pass: ingest.acceptedPerSecond >= CLUSTER_INGEST_TARGET_SHARE * embeddedIngest.acceptedPerSecond,
      note: `non-202: cluster ${ingest.non202}, embedded ${embeddedIngest.non202}; errors ${ingest.errors} / ${embeddedIngest.errors}`,
    },
    { bench: 'cluster ingest', metric: 'latency p50', herald: ingest.p50Ms, reference: embeddedIngest.p50Ms, referenceName: 'embedded Herald', unit: 'ms' },
    { bench: 'cluster ingest', metric: 'latency p99', herald: ingest.p99Ms, reference: embeddedIngest.p99Ms, referenceName: 'embedded Herald', unit: 'ms' },
    {
      bench: 'cluster ingest',
      metric: 'Cassandra requests per accepted send',
      herald: perAccepted.requests.total,
      unit: 'requests',
      note: `accept and the triage that kept up: ${Object.entries(perAccepted.requests.byRole)
        .map(([role, n]) => `${role} ${n.toFixed(2)}`)
        .join(', ')}`,
    },
  ];
  return rows;
}
