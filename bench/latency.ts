/**
 * latency: send → frame. One socket (uid `lat0`) is connected; this process sends
 * POST /api/v1/send to that uid at a fixed rate, open loop (each send is scheduled by the clock,
 * never by the previous answer), with the send time in `opts.data.t`
 * (performance.timeOrigin + performance.now()). The same process receives the frames, so send
 * and receipt share one clock: latency = frame arrival − send start. Warm-up (discarded): the
 * rate ramps from 10 % to 100 % over the warm-up time, then the server is left to drain and go
 * idle, then the measured run starts at the full rate. (A cold Herald started straight at
 * 1,000/s builds a backlog in its first seconds — JIT, first statements — that would otherwise
 * dominate the figures.) Context: the bare uWS HTTP round trip (POST → 202) at the same rate.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.js';
import { HttpPool } from './lib/http.js';
import { BENCH_SECRET, NO_SEND_LIMITS, type ServerProcess, sleep, startHerald, startReference, waitIdle } from './lib/proc.js';
import { type ResultRow, summarize } from './lib/stats.js';

export const LATENCY_TARGET_P99_MS = 5;

export interface LatencyOptions {
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  log(line: string): void;
}

const now = () => performance.timeOrigin + performance.now();

export interface OpenLoopResult {
  /** POST → answer, ms (measured sends only). */
  http: number[];
  /** POST → frame, ms (measured sends only). */
  frames: number[];
  sent: number;
  non2xx: number;
  missing: number;
  /** Largest delay between a send's scheduled time and its actual start, ms. */
  maxLagMs: number;
  /** Frames received per second, from the first send to the last frame. */
  deliveredPerSecond: number;
}

/**
 * Sends `rate`/s for `seconds` (open loop) and waits for the stragglers. With `ramp`, the rate
 * climbs linearly from 10 % to 100 % (warm-up: a cold process would otherwise start with a
 * backlog that the measured phase inherits). Sequence numbers start at `firstSeq`.
 */
export async function openLoop(
  /** Sends go to these pools in turn (one per API process). */
  pools: HttpPool[],
  rate: number,
  seconds: number,
  ramp: boolean,
  firstSeq: number,
  body: (seq: number, t: number) => string,
  headers: Record<string, string>,
  frameTimes: Map<number, number> | undefined,
): Promise<OpenLoopResult> {
  const total = Math.round(rate * seconds * (ramp ? 0.55 : 1));
  const starts = new Float64Array(total);
  const answered = new Float64Array(total);
  let non2xx = 0;
  let maxLagMs = 0;
  let next = 0;
  const begin = now();
  // Scheduled time of the i-th send: constant rate, or a linear ramp 10 % → 100 % of `rate`.
  const durationMs = seconds * 1000;
  const scheduled = (i: number) => {
    if (!ramp) return begin + (i * 1000) / rate;
    // n(t) = rate·(0.1·t + 0.45·t²/T) (t in s): solve for t.
    const a = (0.45 * rate) / (durationMs / 1000);
    const b = 0.1 * rate;
    return begin + ((-b + Math.sqrt(b * b + 4 * a * i)) / (2 * a)) * 1000;
  };
  const inflight: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (next < total && scheduled(next) <= t) {
        const i = next++;
        const start = now();
        maxLagMs = Math.max(maxLagMs, start - scheduled(i));
        starts[i] = start;
        const pool = pools[i % pools.length] as HttpPool;
        inflight.push(
          pool.request('POST', '/api/v1/send', headers, body(firstSeq + i, start)).then(
            (answer) => {
              answered[i] = now();
              if (answer.status < 200 || answer.status > 299) non2xx += 1;
            },
            () => {
              non2xx += 1;
            },
          ),
        );
      }
      if (next < total) setTimeout(tick, 0);
      else resolve();
    };
    tick();
  });
  await Promise.all(inflight);
  const http: number[] = [];
  const frames: number[] = [];
  let missing = 0;
  if (frameTimes) {
    const deadline = now() + 10_000;
    const all = () => {
      for (let i = 0; i < total; i++) if (!frameTimes.has(firstSeq + i)) return false;
      return true;
    };
    while (!all() && now() < deadline) await sleep(20);
  }
  let lastFrame = begin;
  for (let i = 0; i < total; i++) {
    if (answered[i]) http.push((answered[i] as number) - (starts[i] as number));
    if (frameTimes) {
      const at = frameTimes.get(firstSeq + i);
      if (at === undefined) missing += 1;
      else {
        frames.push(at - (starts[i] as number));
        lastFrame = Math.max(lastFrame, at);
      }
    }
  }
  const deliveredPerSecond = frames.length / ((lastFrame - (starts[0] ?? begin)) / 1000);
  return { http, frames, sent: total, non2xx, missing, maxLagMs, deliveredPerSecond };
}

/** Warm-up (ramp, then the server drains and goes idle), then the measured run. */
async function warmThenMeasure(
  server: ServerProcess,
  options: LatencyOptions,
  body: (seq: number, t: number) => string,
  headers: Record<string, string>,
  frameTimes: Map<number, number> | undefined,
): Promise<OpenLoopResult> {
  const pool = new HttpPool(server.url, 32);
  try {
    const warm = await openLoop([pool], options.rate, options.warmupSeconds, true, 0, body, headers, frameTimes);
    await waitIdle(server.pid, { windowMs: 300, maxMs: 20_000 });
    return await openLoop([pool], options.rate, options.durationSeconds, false, warm.sent, body, headers, frameTimes);
  } finally {
    pool.close();
  }
}

async function measureHerald(options: LatencyOptions): Promise<OpenLoopResult> {
  const server = await startHerald(NO_SEND_LIMITS);
  try {
    const sender = await mintToken(BENCH_SECRET, { sub: 'bench-sender', ttlSeconds: 3600 });
    const user = await mintToken(BENCH_SECRET, { sub: 'lat0', ttlSeconds: 3600 });
    const pool = new HttpPool(server.url, 1);
    const ticket = await pool.request('POST', '/api/v1/ws/token', { authorization: `Bearer ${user}` });
    pool.close();
    if (ticket.status !== 200) throw new Error(`ticket: ${ticket.status} ${ticket.body}`);
    const frameTimes = new Map<number, number>();
    const ws = new WebSocket(`${server.url.replace('http:', 'ws:')}/ws?token=${(JSON.parse(ticket.body) as { token: string }).token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer) => {
      const at = now();
      const frame = JSON.parse(data.toString()) as { type: string; data?: { seq?: number; t?: number } };
      if (frame.type === 'message' && typeof frame.data?.seq === 'number') frameTimes.set(frame.data.seq, at);
    });
    const result = await warmThenMeasure(
      server,
      options,
      (seq, t) => JSON.stringify({ msg: 'latency', uid: 'lat0', opts: { data: { t, seq } } }),
      { authorization: `Bearer ${sender}`, 'content-type': 'application/json' },
      frameTimes,
    );
    ws.close();
    return result;
  } finally {
    await server.stop();
  }
}

async function measureBare(options: LatencyOptions): Promise<OpenLoopResult> {
  const server = await startReference('bare-uws');
  try {
    return await warmThenMeasure(
      server,
      options,
      (seq, t) => JSON.stringify({ msg: 'latency', uid: 'lat0', opts: { data: { t, seq } } }),
      { authorization: 'Bearer x', 'content-type': 'application/json' },
      undefined,
    );
  } finally {
    await server.stop();
  }
}

export async function runLatency(options: LatencyOptions): Promise<ResultRow[]> {
  options.log(`latency: ${options.rate} msg/s open loop to one socket, ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s`);
  const h = await measureHerald(options);
  const frames = summarize(h.frames);
  const http = summarize(h.http);
  options.log(
    `  Herald: send→frame p50 ${frames.p50.toFixed(2)} ms, p99 ${frames.p99.toFixed(2)} ms, max ${frames.max.toFixed(2)} ms; ` +
      `send→202 p50 ${http.p50.toFixed(2)} / p99 ${http.p99.toFixed(2)} ms; missing ${h.missing}/${h.sent}, non-2xx ${h.non2xx}, max schedule lag ${h.maxLagMs.toFixed(1)} ms`,
  );
  const b = await measureBare(options);
  const bare = summarize(b.http);
  options.log(`  bare uWS: POST→202 p50 ${bare.p50.toFixed(2)} ms, p99 ${bare.p99.toFixed(2)} ms, max ${bare.max.toFixed(2)} ms`);
  const note = `${options.rate} msg/s, ${h.sent} measured sends; frames missing ${h.missing}, non-2xx ${h.non2xx}`;
  return [
    {
      bench: 'latency',
      metric: 'send → frame p50',
      herald: frames.p50,
      reference: bare.p50,
      referenceName: 'bare uWS RTT',
      unit: 'ms',
      note,
    },
    {
      bench: 'latency',
      metric: 'send → frame p99',
      herald: frames.p99,
      reference: bare.p99,
      referenceName: 'bare uWS RTT',
      unit: 'ms',
      target: `≤ ${LATENCY_TARGET_P99_MS} ms`,
      pass: frames.p99 <= LATENCY_TARGET_P99_MS && h.missing === 0,
    },
    { bench: 'latency', metric: 'send → frame max', herald: frames.max, reference: bare.max, referenceName: 'bare uWS RTT', unit: 'ms' },
    { bench: 'latency', metric: 'send → 202 p50', herald: http.p50, reference: bare.p50, referenceName: 'bare uWS RTT', unit: 'ms' },
    { bench: 'latency', metric: 'send → 202 p99', herald: http.p99, reference: bare.p99, referenceName: 'bare uWS RTT', unit: 'ms' },
  ];
}
