/**
 * fan-out (and the memory figures, from the same session): N connected WebSockets — one user
 * per socket, so N sockets = N users — and one admin broadcast; time from the POST until the
 * last socket got the frame, and deliveries/s = N ÷ that time. Median of a few rounds, after a
 * warm-up. Reference: a Socket.IO server (`io.emit`) with the same N sockets, measured the same
 * way. The sockets live in separate worker processes (bench/clients/swarm.ts) that use one
 * minimal raw WebSocket client for both servers, so the client-side cost is identical.
 *
 * The POST is sent by a worker and frames are timestamped in the workers; worker clocks are
 * aligned with the parent's from the fastest IPC round trip (error ≤ half of it, ~0.05 ms).
 * Between rounds the server is left to go idle (Herald posts the broadcast to the
 * everyone-timeline before its frames go out, then triages the users it reaches outside the app:
 * none here).
 */
import { mintToken } from '../src/auth/tokens.js';
import { BENCH_SECRET, cpuSeconds, type ServerProcess, startHerald, startReference, waitIdle } from './lib/proc.js';
import { median, type ResultRow } from './lib/stats.js';
import { type BroadcastTiming, Swarm } from './lib/swarm.js';
import { type MemoryFigures, memoryRows, settledRssKiB } from './memory.js';

export const FANOUT_TARGET_RATIO = 10;
/** Herald's server CPU per broadcast, at most this many times bare uWS's one publish. */
export const FANOUT_CPU_TARGET_RATIO = 1.3;

export interface SocketSessionOptions {
  sockets: number;
  /** Worker processes holding the sockets. */
  processes: number;
  rounds: number;
  fanout: boolean;
  memory: boolean;
  log(line: string): void;
}

type Kind = 'herald' | 'socketio' | 'uws';
const NAMES: Record<Kind, string> = { herald: 'Herald', socketio: 'Socket.IO', uws: 'bare uWS' };

interface Round extends BroadcastTiming {
  /** Server CPU (user + system) from just before the POST until it was idle again, ms. */
  serverCpuMs: number;
}

interface SessionResult {
  memory?: MemoryFigures;
  rounds: Round[];
  connectMs: number;
}

async function session(kind: Kind, options: SocketSessionOptions): Promise<SessionResult> {
  const server: ServerProcess = kind === 'herald' ? await startHerald() : await startReference(kind === 'socketio' ? 'socketio-server' : 'bare-uws');
  const adminToken = kind === 'herald' ? await mintToken(BENCH_SECRET, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 }) : undefined;
  const name = NAMES[kind];
  const body = (marker: string) => JSON.stringify({ msg: marker, opts: { data: { bench: 'fanout' } } });
  try {
    // Warm-up: open a few sockets, broadcast to them twice, close them.
    const warm = await Swarm.open(kind, server.url, Math.min(200, options.sockets), 1);
    for (let i = 0; i < 2; i++) {
      const marker = `warm-${i}-${Date.now()}`;
      const t = await warm.broadcast('/api/v1/broadcast', body(marker), marker, adminToken, 5_000);
      if (t.received < t.expected) options.log(`  ${name}: warm-up broadcast reached ${t.received}/${t.expected} sockets`);
      await waitIdle(server.pid, { maxMs: 10_000 });
    }
    await warm.close();

    const result: SessionResult = { rounds: [], connectMs: 0 };
    const rss0 = options.memory ? await settledRssKiB(server.pid) : 0;
    options.log(`  ${name}: opening ${options.sockets} sockets from ${options.processes} worker process(es)…`);
    const swarm = await Swarm.open(kind, server.url, options.sockets, options.processes);
    result.connectMs = swarm.connectMs;
    options.log(`  ${name}: ${swarm.size} sockets open in ${(swarm.connectMs / 1000).toFixed(1)} s`);
    if (swarm.size < options.sockets) throw new Error(`${name}: only ${swarm.size} of ${options.sockets} sockets opened`);
    try {
      if (options.memory) {
        result.memory = { sockets: swarm.size, rss0KiB: rss0, rssNKiB: await settledRssKiB(server.pid) };
        options.log(`  ${name}: RSS ${(rss0 / 1024).toFixed(1)} MiB → ${(result.memory.rssNKiB / 1024).toFixed(1)} MiB`);
      }
      if (options.fanout) {
        for (let round = 1; round <= options.rounds; round++) {
          await waitIdle(server.pid, { windowMs: 300 });
          const marker = `fanout-${round}-${Date.now()}`;
          const cpu0 = cpuSeconds(server.pid);
          const timing = await swarm.broadcast('/api/v1/broadcast', body(marker), marker, adminToken);
          if (timing.status !== 202) throw new Error(`${name}: broadcast answered ${timing.status}`);
          // Herald triages the broadcast for every user after the live sockets got it: wait for it.
          await waitIdle(server.pid, { windowMs: 300, maxMs: 30_000 });
          const serverCpuMs = (cpuSeconds(server.pid) - cpu0) * 1000;
          options.log(
            `  ${name}: round ${round}: ${timing.received}/${timing.expected} in ${timing.lastMs.toFixed(1)} ms ` +
              `(202 after ${timing.answeredMs.toFixed(1)} ms, first ${timing.firstMs.toFixed(1)}, p50 ${timing.p50Ms.toFixed(1)} ms) ` +
              `→ ${Math.round(timing.deliveriesPerSecond).toLocaleString('en-US')}/s; server CPU ${serverCpuMs.toFixed(0)} ms`,
          );
          result.rounds.push({ ...timing, serverCpuMs });
        }
      }
    } finally {
      await swarm.close();
    }
    return result;
  } finally {
    await server.stop();
  }
}

const medianOf = (rounds: Round[], pick: (t: Round) => number) => median(rounds.map(pick));
const cpuOver = (rounds: Round[]) => rounds.reduce((sum, t) => sum + t.serverCpuMs, 0);

/**
 * Runs the Herald, Socket.IO and bare-uWS sessions (same N, same workers) and builds the rows.
 * Bare uWS (one `app.publish` to N subscribed sockets, nothing else) is the ceiling of what
 * this machine's loopback TCP and the load generator allow, shown for context.
 */
export async function runSocketSessions(options: SocketSessionOptions): Promise<ResultRow[]> {
  options.log(`fan-out/memory: ${options.sockets} sockets (1 user each), ${options.fanout ? `${options.rounds} broadcast rounds` : 'no broadcast'}`);
  const herald = await session('herald', options);
  const reference = await session('socketio', options);
  const ceiling = await session('uws', options);
  const rows: ResultRow[] = [];
  if (options.fanout) {
    const h = medianOf(herald.rounds, (t) => t.deliveriesPerSecond);
    const r = medianOf(reference.rounds, (t) => t.deliveriesPerSecond);
    const lost = herald.rounds.reduce((sum, t) => sum + t.expected - t.received, 0);
    const lostRef = reference.rounds.reduce((sum, t) => sum + t.expected - t.received, 0);
    rows.push(
      {
        bench: 'fanout',
        metric: `deliveries/s @${options.sockets} sockets (median of ${options.rounds})`,
        herald: h,
        reference: r,
        referenceName: 'Socket.IO',
        unit: 'frames/s',
        ratio: h / r,
        target: `≥ ${FANOUT_TARGET_RATIO}× Socket.IO`,
        pass: h / r >= FANOUT_TARGET_RATIO,
        ...(lost + lostRef > 0 ? { note: `frames not received: Herald ${lost}, Socket.IO ${lostRef}` } : {}),
      },
      {
        bench: 'fanout',
        metric: 'deliveries/s vs bare uWS publish (ceiling)',
        herald: h,
        reference: medianOf(ceiling.rounds, (t) => t.deliveriesPerSecond),
        referenceName: 'bare uWS',
        unit: 'frames/s',
        ratio: h / medianOf(ceiling.rounds, (t) => t.deliveriesPerSecond),
        note: 'share of what loopback TCP + the load generator allow on this machine',
      },
      {
        bench: 'fanout',
        metric: 'POST → last socket got the frame',
        herald: medianOf(herald.rounds, (t) => t.lastMs),
        reference: medianOf(reference.rounds, (t) => t.lastMs),
        referenceName: 'Socket.IO',
        unit: 'ms',
        ratio: medianOf(reference.rounds, (t) => t.lastMs) / medianOf(herald.rounds, (t) => t.lastMs),
        target: '≤ Socket.IO',
        pass: medianOf(herald.rounds, (t) => t.lastMs) <= medianOf(reference.rounds, (t) => t.lastMs),
      },
      {
        bench: 'fanout',
        metric: 'POST → first socket got the frame',
        herald: medianOf(herald.rounds, (t) => t.firstMs),
        reference: medianOf(reference.rounds, (t) => t.firstMs),
        referenceName: 'Socket.IO',
        unit: 'ms',
      },
      {
        bench: 'fanout',
        metric: 'POST → 202',
        herald: medianOf(herald.rounds, (t) => t.answeredMs),
        reference: medianOf(reference.rounds, (t) => t.answeredMs),
        referenceName: 'Socket.IO',
        unit: 'ms',
      },
      {
        bench: 'fanout',
        metric: 'server CPU per broadcast (until idle)',
        herald: medianOf(herald.rounds, (t) => t.serverCpuMs),
        reference: medianOf(reference.rounds, (t) => t.serverCpuMs),
        referenceName: 'Socket.IO',
        unit: 'ms',
        note: `Herald: the timeline post, the frames, triage of the users reachable outside the app (none here); bare uWS: ${medianOf(ceiling.rounds, (t) => t.serverCpuMs).toFixed(0)} ms`,
      },
      {
        bench: 'fanout',
        metric: `server CPU per broadcast vs bare uWS publish (sum of ${options.rounds} rounds)`,
        herald: cpuOver(herald.rounds),
        reference: cpuOver(ceiling.rounds),
        referenceName: 'bare uWS',
        unit: 'ms',
        ratio: cpuOver(herald.rounds) / cpuOver(ceiling.rounds),
        target: `≤ ${FANOUT_CPU_TARGET_RATIO}× bare uWS`,
        pass: cpuOver(herald.rounds) <= FANOUT_CPU_TARGET_RATIO * cpuOver(ceiling.rounds),
        note: 'summed over the rounds: CPU time is read in 10 ms ticks',
      },
      {
        bench: 'fanout',
        metric: `time to open ${options.sockets} sockets`,
        herald: herald.connectMs / 1000,
        reference: reference.connectMs / 1000,
        referenceName: 'Socket.IO',
        unit: 's',
        note: 'Herald: API token → POST /api/v1/ws/token → upgrade; Socket.IO: upgrade + namespace connect',
      },
    );
  }
  if (options.memory && herald.memory) rows.push(...memoryRows(herald.memory, reference.memory, ceiling.memory));
  return rows;
}
