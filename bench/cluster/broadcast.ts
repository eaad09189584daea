/**
 * broadcast expansion from Cassandra: how fast triage turns "everyone" into per-recipient work
 * (only the users with a device or an address need any: UserStore.pageReachable).
 *  1. Seed: N users written straight into the run's migrated keyspace with the Cassandra driver
 *     (one prepared single-row INSERT per user — every row is its own partition, so batches
 *     would not help — many in flight), timed → seeding rows/s.
 *  2. Reference: a raw token-range scan of the same table with the page size of triage
 *     (`SELECT uid FROM users WHERE token(uid) > ? LIMIT 500`, paging on the last token),
 *     timed → users/s: how fast Cassandra hands out the recipients alone. The scan also counts
 *     the users (the table also holds the few users of the other cluster benchmarks).
 *  3. Expansion: POST /api/v1/broadcast (admin) to an API process, then the message's row in
 *     `messages` is polled (status, cursor) until its status is `triaged`, with the worker
 *     processes running triage → recipients/s = users ÷ (triaged − POST). Progress while it
 *     runs comes from the cursor (the last uid of the last page): token(cursor) over the token
 *     ring is the share done (Murmur3 tokens are uniform). A run that exceeds the time limit is
 *     reported from that share. CPU per process (workers, Cassandra, …) is sampled meanwhile.
 *  4. Visibility: from the 202 on, the inboxes of a sample of the seeded users (spread over the
 *     uids) are read through the API, each until it lists the broadcast → the slowest of them:
 *     how long after the 202 a broadcast is in every inbox (it is one timeline row, written
 *     before its frames go out; the expansion above is only the users' devices and addresses).
 */
import { performance } from 'node:perf_hooks';
import cassandra from 'cassandra-driver';
import { mintToken } from '../../src/auth/tokens.js';
import { TRIAGE_PAGE_SIZE } from '../../src/pipeline/triage.js';
import { HttpPool } from '../lib/http.js';
import { BENCH_SECRET, sleep } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';
import type { Cluster } from './cluster.js';
import { clusterPids, coresBetween, cpuSnapshot, describeCores } from './servers.js';

const now = () => performance.timeOrigin + performance.now();
const { Long } = cassandra.types;
const RING = 2 ** 64;

export interface SeedResult {
  users: number;
  seconds: number;
  rowsPerSecond: number;
}

/** Writes users `bc<first>`… `bc<first+count−1>` (attributes {}, created/updated now). */
export async function seedUsers(cluster: Cluster, count: number, log: (line: string) => void, concurrency = 512): Promise<SeedResult> {
  const client = cluster.cassandraClient({ socketOptions: { readTimeout: 60_000 } });
  await client.connect();
  const insert = 'INSERT INTO users (uid, attributes, created_at, updated_at) VALUES (?, ?, ?, ?)';
  const started = now();
  const chunk = 50_000;
  try {
    let lastLog = started;
    for (let first = 0; first < count; first += chunk) {
      const at = Date.now();
      const params = Array.from({ length: Math.min(chunk, count - first) }, (_, i) => [`bc${first + i}`, '{}', at, at]);
      await cassandra.concurrent.executeConcurrent(client, insert, params, {
        concurrencyLevel: concurrency,
        executionProfile: undefined,
        raiseOnFirstError: true,
      });
      if (now() - lastLog > 15_000) {
        lastLog = now();
        const done = first + params.length;
        log(`  seeding: ${done.toLocaleString('en-US')} users, ${Math.round(done / ((now() - started) / 1000)).toLocaleString('en-US')} rows/s`);
      }
    }
  } finally {
    await client.shutdown();
  }
  const seconds = (now() - started) / 1000;
  return { users: count, seconds, rowsPerSecond: count / seconds };
}

export interface ScanResult {
  users: number;
  seconds: number;
  usersPerSecond: number;
}

/** Token-range scan in pages of `pageSize`: `columns` of users WHERE token(uid) > ? LIMIT ?. */
export async function scanUsers(cluster: Cluster, columns = 'uid', pageSize = TRIAGE_PAGE_SIZE): Promise<ScanResult> {
  const client = cluster.cassandraClient({
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
  });
  await client.connect();
  const query = `SELECT ${columns}, token(uid) AS t FROM users WHERE token(uid) > ? LIMIT ?`;
  let after = Long.MIN_VALUE;
  let users = 0;
  const started = now();
  try {
    for (;;) {
      const result = await client.execute(query, [after, pageSize], { prepare: true, fetchSize: pageSize });
      users += result.rowLength;
      if (result.rowLength < pageSize) break;
      after = result.rows[result.rowLength - 1]?.get('t') as cassandra.types.Long;
    }
  } finally {
    await client.shutdown();
  }
  const seconds = (now() - started) / 1000;
  return { users, seconds, usersPerSecond: users / seconds };
}

export interface ExpansionResult {
  users: number;
  /** POST → status `triaged`, s (or the time limit when it was not reached). */
  seconds: number;
  recipientsPerSecond: number;
  finished: boolean;
  /** Share of the token ring done when last seen (1 when finished). */
  share: number;
  /** Cores used during the expansion, per process kind. */
  cores: Record<string, number>;
  /** Recipients/s over successive windows (from the cursor), for the log. */
  windows: number[];
  /** 202 → the broadcast listed in each sampled inbox, ms (slowest last); empty without a sample. */
  visibleAfterMs: number[];
}

/** Users of the seeded range whose inboxes are read until they list the broadcast. */
export const VISIBILITY_SAMPLE = 20;

/** Reads each sampled user's newest inbox entry through the API until it is `id`; the times after `t0`, slowest last. */
async function visibleInSample(pool: HttpPool, uids: string[], id: string, t0: number, limitMs: number): Promise<number[]> {
  const times = await Promise.all(
    uids.map(async (uid) => {
      const token = await mintToken(BENCH_SECRET, { sub: uid, ttlSeconds: 3600 });
      while (now() - t0 < limitMs) {
        const res = await pool.request('GET', '/api/v1/messages?limit=1', { authorization: `Bearer ${token}` });
        if (res.status === 200 && (JSON.parse(res.body) as { messages: Array<{ id: string }> }).messages[0]?.id === id) return now() - t0;
        await sleep(10);
      }
      return Number.POSITIVE_INFINITY;
    }),
  );
  return times.sort((a, b) => a - b);
}

export async function expandBroadcast(
  cluster: Cluster,
  users: number,
  options: { maxSeconds: number; log(line: string): void; sample?: string[] },
): Promise<ExpansionResult> {
  const api = cluster.of('api')[0];
  if (!api) throw new Error('broadcast needs an API process');
  const admin = await mintToken(BENCH_SECRET, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 });
  const client = cluster.cassandraClient({ queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true } });
  await client.connect();
  const pids = clusterPids(cluster);
  const pool = new HttpPool(api.url, 1);
  const readers = new HttpPool(api.url, 4);
  try {
    const cpu0 = cpuSnapshot(pids);
    const t0 = now();
    const answer = await pool.request(
      'POST',
      '/api/v1/broadcast',
      { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      JSON.stringify({ msg: 'broadcast expansion benchmark' }),
    );
    if (answer.status !== 202) throw new Error(`broadcast: ${answer.status} ${answer.body}`);
    const id = (JSON.parse(answer.body) as { id: string }).id;
    const visibility = visibleInSample(readers, options.sample ?? [], id, t0, options.maxSeconds * 1000);
    let share = 0;
    let finished = false;
    let tEnd = t0;
    const windows: number[] = [];
    let lastShare = 0;
    let lastAt = t0;
    let lastLog = t0;
    while (now() - t0 < options.maxSeconds * 1000) {
      await sleep(100);
      const row = (await client.execute('SELECT status, cursor FROM messages WHERE id = ?', [id])).first();
      if (row?.get('status') === 'triaged') {
        finished = true;
        share = 1;
        tEnd = now();
        break;
      }
      const cursor = row?.get('cursor') as string | null | undefined;
      if (cursor) {
        const token = (await client.execute('SELECT token(uid) AS t FROM users WHERE uid = ?', [cursor])).first()?.get('t') as cassandra.types.Long | undefined;
        if (token) share = (Number(token.toString()) + 2 ** 63) / RING;
      }
      tEnd = now();
      if (tEnd - lastAt >= 5_000) {
        windows.push(((share - lastShare) * users) / ((tEnd - lastAt) / 1000));
        lastShare = share;
        lastAt = tEnd;
      }
      if (tEnd - lastLog >= 15_000) {
        lastLog = tEnd;
        options.log(
          `  expanding: ${(share * 100).toFixed(1)} % after ${((tEnd - t0) / 1000).toFixed(0)} s (~${Math.round((share * users) / ((tEnd - t0) / 1000)).toLocaleString('en-US')} recipients/s)`,
        );
      }
    }
    const seconds = (tEnd - t0) / 1000;
    const cores = coresBetween(cpu0, cpuSnapshot(pids), seconds);
    options.log(`  CPU during the expansion (cores): ${describeCores(cores)}`);
    const visibleAfterMs = await visibility;
    return { users, seconds, recipientsPerSecond: (share * users) / seconds, finished, share, cores, windows, visibleAfterMs };
  } finally {
    pool.close();
    readers.close();
    await client.shutdown();
  }
}

/** Latency of single-partition reads of the users table, one in flight (context for the round trips triage makes). */
export async function pointReads(cluster: Cluster, count = 1000): Promise<{ p50: number; p99: number }> {
  const client = cluster.cassandraClient({ queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true } });
  await client.connect();
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const started = now();
      await client.execute('SELECT uid, attributes FROM users WHERE uid = ?', [`bc${(i * 7919) % 1000}`], { prepare: true });
      samples.push(now() - started);
    }
  } finally {
    await client.shutdown();
  }
  const s = summarize(samples);
  return { p50: s.p50, p99: s.p99 };
}
