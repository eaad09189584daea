/**
 * Parent side of the socket swarm (bench/clients/swarm.ts): spreads N sockets over a few worker
 * processes, aligns their clocks with this one, and times one broadcast from the POST until
 * the last socket got the frame.
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { forkWorker } from './proc.js';
import { summarize } from './stats.js';

interface Worker {
  child: ChildProcess;
  count: number;
  /** worker clock − parent clock, ms. */
  offset: number;
}

export interface BroadcastTiming {
  status: number;
  received: number;
  expected: number;
  closed: number;
  /** POST sent → 202 answered, ms. */
  answeredMs: number;
  /** POST sent → first / median / p99 / last socket got the frame, ms. */
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  lastMs: number;
  /** received ÷ (last − POST), per second. */
  deliveriesPerSecond: number;
}

const now = () => performance.timeOrigin + performance.now();

function next<T>(child: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', listener);
      reject(new Error(`swarm worker: no "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (message: { type: string }) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', listener);
      resolve(message as T);
    };
    child.on('message', listener);
  });
}

export class Swarm {
  private constructor(
    private readonly workers: Worker[],
    readonly kind: 'herald' | 'socketio' | 'uws',
    readonly connectMs: number,
    readonly failed: number,
  ) {}

  get size() {
    return this.workers.reduce((sum, w) => sum + w.count, 0);
  }

  /** Opens `n` sockets from `processes` workers (`concurrency` handshakes in flight per worker). */
  static async open(kind: 'herald' | 'socketio' | 'uws', url: string, n: number, processes: number, concurrency = 64): Promise<Swarm> {
    const workers: Worker[] = [];
    for (let p = 0; p < processes; p++) {
      const child = forkWorker('swarm.ts');
      await next(child, 'ready', 30_000);
      workers.push({ child, count: 0, offset: 0 });
    }
    const started = now();
    const share = Math.ceil(n / processes);
    const answers = await Promise.all(
      workers.map((w, p) => {
        const count = Math.max(0, Math.min(share, n - p * share));
        const done = next<{ count: number; failed: number; lastError: string }>(w.child, 'connected', 180_000);
        w.child.send({ type: 'connect', kind, url, count, firstIndex: p * share, concurrency });
        return done;
      }),
    );
    answers.forEach((a, p) => {
      (workers[p] as Worker).count = a.count;
    });
    const failed = answers.reduce((sum, a) => sum + a.failed, 0);
    if (failed > 0) process.stderr.write(`  ${kind}: ${failed} sockets failed to open (last: ${answers.find((a) => a.lastError)?.lastError})\n`);
    const swarm = new Swarm(workers, kind, now() - started, failed);
    await swarm.alignClocks();
    return swarm;
  }

  /** Estimates each worker's clock offset from the IPC round trip with the smallest delay. */
  private async alignClocks() {
    for (const w of this.workers) {
      let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
      for (let id = 0; id < 30; id++) {
        const sent = now();
        const reply = next<{ t: number }>(w.child, 'clock', 5_000);
        w.child.send({ type: 'clock', id });
        const { t } = await reply;
        const back = now();
        if (back - sent < best.rtt) best = { rtt: back - sent, offset: t - (sent + back) / 2 };
      }
      w.offset = best.offset;
    }
  }

  /**
   * One broadcast: arm every worker for `marker`, then worker 0 sends the POST (body must make
   * the frame contain `marker`). Resolves when every socket got it, or after `timeoutMs`.
   */
  async broadcast(path: string, body: string, marker: string, token?: string, timeoutMs = 30_000): Promise<BroadcastTiming> {
    await Promise.all(
      this.workers.map((w) => {
        const armed = next(w.child, 'armed', 10_000);
        w.child.send({ type: 'arm', marker });
        return armed;
      }),
    );
    const received = this.workers.map((w) => next<{ arrivals: number[]; closed: number; expected: number }>(w.child, 'received', timeoutMs + 5_000));
    const firer = this.workers[0] as Worker;
    const fired = next<{ t0: number; tAnswered: number; status: number; body: string }>(firer.child, 'fired', timeoutMs);
    firer.child.send({ type: 'fire', path, body, ...(token ? { token } : {}) });
    const timer = setTimeout(() => {
      for (const w of this.workers) w.child.send({ type: 'collect' });
    }, timeoutMs);
    const [shot, reports] = await Promise.all([fired, Promise.all(received)]);
    clearTimeout(timer);
    const t0 = shot.t0 - firer.offset;
    const delays: number[] = [];
    let closed = 0;
    let expected = 0;
    reports.forEach((r, p) => {
      const offset = (this.workers[p] as Worker).offset;
      for (const t of r.arrivals) delays.push(t - offset - t0);
      closed += r.closed;
      expected += r.expected;
    });
    const s = summarize(delays);
    const first = delays.length ? Math.min(...delays) : Number.NaN;
    return {
      status: shot.status,
      received: delays.length,
      expected,
      closed,
      answeredMs: shot.tAnswered - shot.t0,
      firstMs: first,
      p50Ms: s.p50,
      p99Ms: s.p99,
      lastMs: s.max,
      deliveriesPerSecond: delays.length / (s.max / 1000),
    };
  }

  async close() {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null) return resolve();
            w.child.once('exit', () => resolve());
            w.child.send({ type: 'close' });
            setTimeout(() => {
              w.child.kill('SIGKILL');
              resolve();
            }, 5_000).unref();
          }),
      ),
    );
  }
}
