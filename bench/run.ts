/**
 * `npm run bench [-- [--quick] [ingest] [fanout] [latency] [memory] [webpush] [urgency] [broadcast] [unread] [http2]]`
 * `npm run bench -- --cluster [--quick]`: the cluster benchmarks instead (bench/cluster/index.ts;
 * needs the servers of `bash scripts/services/up.sh`).
 *
 * Runs the benchmarks (all by default) one after the other, each server in its own child
 * process on 127.0.0.1 and each reference under the same conditions in the same run, then
 * prints one table and one JSON line per result. Not part of `npm test`. `http2` (push send
 * latency with stalling HTTP/2 sessions, bench/http2.ts) runs only when named: its length is
 * made of deliberate request timeouts (about 5 min with --quick, longer without).
 * `--quick` is a smoke run with smaller N and shorter durations (figures are indicative only).
 */
import os from 'node:os';
import { runBroadcastCost } from './broadcast.js';
import { runCluster } from './cluster/index.js';
import { runSocketSessions } from './fanout.js';
import { http2Settings, runHttp2 } from './http2.js';
import { runIngest } from './ingest.js';
import { runLatency } from './latency.js';
import { killAllChildren } from './lib/proc.js';
import { type ResultRow, renderTable, round } from './lib/stats.js';
import { runUnreadCost } from './unread.js';
import { runUrgency, urgencySettings } from './urgency.js';
import { runWebPush } from './webpush.js';

const BENCHES = ['ingest', 'fanout', 'latency', 'memory', 'webpush', 'urgency', 'broadcast', 'unread', 'http2'] as const;
type Bench = (typeof BENCHES)[number];
/** Run only when named. */
const OPT_IN: readonly Bench[] = ['http2'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const cluster = args.includes('--cluster');
const unknown = args.filter((a) => a !== '--quick' && a !== '--cluster' && !(BENCHES as readonly string[]).includes(a));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown argument(s) ${unknown.join(', ')}; expected --quick and any of ${BENCHES.join(', ')}\n`);
  process.exit(2);
}
const selected = new Set<Bench>(args.filter((a): a is Bench => (BENCHES as readonly string[]).includes(a)));
if (selected.size === 0 && !cluster) for (const b of BENCHES) if (!OPT_IN.includes(b)) selected.add(b);

const settings = quick
  ? {
      ingest: { connections: 64, warmupSeconds: 1, durationSeconds: 3 },
      sockets: 2_000,
      processes: 2,
      rounds: 3,
      latency: { rate: 1000, warmupSeconds: 2, durationSeconds: 2 },
      webpush: { notifications: 500, concurrency: 50, rounds: 3 },
      urgency: urgencySettings(true),
      broadcastSizes: [1_000, 10_000],
      unreadSizes: [1_000, 10_000],
    }
  : {
      ingest: { connections: 64, warmupSeconds: 2, durationSeconds: 10 },
      sockets: 10_000,
      processes: 2,
      rounds: 3,
      latency: { rate: 1000, warmupSeconds: 4, durationSeconds: 10 },
      webpush: { notifications: 2000, concurrency: 50, rounds: 5 },
      urgency: urgencySettings(false),
      broadcastSizes: [1_000, 10_000, 100_000],
      unreadSizes: [1_000, 10_000, 100_000],
    };

const started = Date.now();
const loadAtStart = os.loadavg().map((l) => Number(l.toFixed(2)));
const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

async function main() {
  log(
    `Herald benchmarks${quick ? ' (--quick)' : ''}: ${[...selected, ...(cluster ? ['cluster'] : [])].join(', ')} — Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ` +
      'servers and load generators in separate processes on 127.0.0.1',
  );
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  log(
    `load average at start: ${load()}${(os.loadavg()[0] as number) > 0.5 ? ' — other work is running on this machine: figures will be lower and noisier' : ''}`,
  );
  const rows: ResultRow[] = [];
  if (selected.has('ingest')) rows.push(...(await runIngest({ ...settings.ingest, log })));
  if (selected.has('fanout') || selected.has('memory')) {
    rows.push(
      ...(await runSocketSessions({
        sockets: settings.sockets,
        processes: settings.processes,
        rounds: settings.rounds,
        fanout: selected.has('fanout'),
        memory: selected.has('memory'),
        log,
      })),
    );
  }
  if (selected.has('latency')) rows.push(...(await runLatency({ ...settings.latency, log })));
  if (selected.has('webpush')) rows.push(...(await runWebPush({ ...settings.webpush, log })));
  if (selected.has('urgency')) rows.push(...(await runUrgency({ ...settings.urgency, log })));
  if (selected.has('broadcast')) rows.push(...(await runBroadcastCost({ sizes: settings.broadcastSizes, log })));
  if (selected.has('unread')) rows.push(...(await runUnreadCost({ sizes: settings.unreadSizes, log })));
  if (selected.has('http2')) rows.push(...(await runHttp2({ ...http2Settings(quick), log })));
  if (cluster) rows.push(...(await runCluster({ quick, log })));

  process.stdout.write(`\n${renderTable(rows)}\n\n`);
  for (const row of rows) {
    process.stdout.write(
      `${JSON.stringify({
        ...row,
        herald: round(row.herald, 3),
        ...(row.reference !== undefined ? { reference: round(row.reference, 3) } : {}),
        ...(row.ratio !== undefined ? { ratio: round(row.ratio, 3) } : {}),
        quick,
        loadAtStart: loadAtStart[0],
      })}\n`,
    );
  }
  log(`load average at end: ${load()} (includes the benchmark's own processes)`);
  const missed = rows.filter((r) => r.pass === false).map((r) => `${r.bench}: ${r.metric}`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s${missed.length ? `; targets missed: ${missed.join('; ')}` : '; all targets met'}`);
}

main().then(
  () => {
    killAllChildren();
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
