/**
 * urgency: urgency all the way to the provider (issue 10), measured end to end: Herald as an
 * operator runs it (`herald serve`, embedded, a child process, rate limits off) and loopback push
 * services (test/fakes/push-service.ts, verification off, in another child process) that answer
 * each request after a fixed latency L. Herald sends at most C requests at once to one push
 * service origin (HERALD_WEBPUSH_CONCURRENCY), so the provider's capacity is C / L: with C = 10
 * and L = 20 ms, 500 pushes/s. Every user has one subscription of their own and every push is
 * matched to its send by subscription id (the fake records each request's arrival time); latencies
 * run from the 202 of `POST /api/v1/send` to the request's arrival at the push service, on the one
 * clock of this machine.
 *
 * 1. Priority under a backlog. A very-low multicast (opts.channels webpush) to `backlog` users —
 *    10 s of the provider's capacity in the full run — is flowing; meanwhile high sends
 *    (`POST /api/v1/send`, one user each) go out at 10/s, open loop, from the backlog's first
 *    arrival until it has (nearly) all arrived. Figures: the high sends' 202 → push service
 *    p50/p99/max, the backlog's throughput (pushes/s between its first and last arrival) and that
 *    every very-low push arrived exactly once. References, same run, same Herald and push service:
 *    the same high sends on an idle provider (no backlog), and the backlog alone (no high sends):
 *    the FIFO's throughput at this capacity, since without high sends the order does not matter.
 *    Rounds alternate backlog-alone and mixed (ABBA); throughputs are the median of the rounds,
 *    the high latencies are pooled. Targets (issue 10): p99 ≤ 250 ms; backlog throughput ≥ 0.9×
 *    the backlog alone; every very-low push arrives.
 *    Before this change (one FIFO per channel, at 66ce70b) the issue measured 4,485 ms from the
 *    202 to the push service for one high push behind 2,648 queued low pushes; that cannot be
 *    re-measured in the same run, as FIFO delivery no longer exists.
 *
 * 2. A 429 + Retry-After. Two push services A and B. A answers every request 429 with
 *    Retry-After: W for a window of W seconds (30 s; --quick 5 s), then 201; normal-urgency sends
 *    go at `rate`/s to users on A and `rate`/s to users on B during the window. Figures: the
 *    requests A received during the window — allowed: the first one, whose 429 pauses A's gate,
 *    and those already in flight when its answer came back (at most C; the gate sends nothing
 *    more until Retry-After has passed); when A's first request after the pause came relative to
 *    the pause's end (pausedUntil as /healthz showed it during the window: the latest 429's
 *    arrival at Herald + Retry-After) — target ≥ 0; B's 202 → push service p99 during the window
 *    against B alone (reference: the same rate to B, nothing to A, before the window); and that
 *    every send to A arrived (201) exactly once after the recovery. A throttled delivery itself is
 *    not kept at the gate: its `retry` result goes to the scheduler, which redelivers it after
 *    the Retry-After. Deliveries that reach the paused gate are answered `deferred` and scheduled
 *    for the pause's end at the same attempt, except in its last `holdMs` (1 s,
 *    channels/provider-gate.ts), when the gate holds them in urgency order — and each held one
 *    keeps its delivery batch, one of the few a (channel, urgency) worker runs at once
 *    (src/pipeline/delivery.ts DELIVERY_CONCURRENCY), so B's deliveries of that urgency can wait
 *    behind them: the log line "B during the window" says how many did.
 *
 * Standalone: `node --import tsx bench/urgency.ts [--quick]`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../src/auth/tokens.js';
import { type FakeSubscription, type PushServiceFake, startPushService } from '../test/fakes/push-service.js';
import { testCertificate } from '../test/fakes/tls.js';
import { BENCH_SECRET, cpuSeconds, NO_SEND_LIMITS, type ServerProcess, sleep, startHerald, waitIdle } from './lib/proc.js';
import { median, type ResultRow, renderTable, summarize } from './lib/stats.js';

export const URGENCY_TARGET_P99_MS = 250;
export const URGENCY_TARGET_THROUGHPUT_RATIO = 0.9;

export interface UrgencyBenchOptions {
  /** HERALD_WEBPUSH_CONCURRENCY: requests in flight per push service origin. */
  concurrency: number;
  /** The push services' answer latency, ms. */
  latencyMs: number;
  /** Very-low pushes in the backlog (one multicast). */
  backlog: number;
  /** High sends per second. */
  highRate: number;
  /** Length of the idle-provider reference, s. */
  idleSeconds: number;
  /** Rounds of (backlog alone, mixed), alternating their order. */
  rounds: number;
  /** The 429 window (and its Retry-After), s. */
  throttleSeconds: number;
  /** Sends per second to each of A and B in scenario 2. */
  throttleRate: number;
  /** Length of the B-alone reference, s. */
  referenceSeconds: number;
  log(line: string): void;
}

// ---------------------------------------------------------------------------------------------
// The push services' child process: loopback fakes, driven over IPC.

type Op =
  | { op: 'start'; name: string; latencyMs: number; key: string; cert: string }
  | { op: 'subscribe'; name: string; count: number }
  | { op: 'throttle'; name: string; ms: number; retryAfter: number }
  | { op: 'count'; name: string }
  | { op: 'take'; name: string };

/** [subscription id, arrival (epoch ms), status] */
type Arrival = [string, number, number];

async function servePushServices(): Promise<void> {
  const fakes = new Map<string, PushServiceFake>();
  const fakeOf = (name: string): PushServiceFake => {
    const fake = fakes.get(name);
    if (!fake) throw new Error(`no push service ${name}`);
    return fake;
  };
  const run = async (req: Op): Promise<unknown> => {
    switch (req.op) {
      case 'start': {
        const fake = await startPushService({ verify: false, record: true, certificate: { key: req.key, cert: req.cert } });
        fake.latencyMs = req.latencyMs;
        fakes.set(req.name, fake);
        return fake.origin;
      }
      case 'subscribe':
        return Array.from({ length: req.count }, () => fakeOf(req.name).subscription());
      case 'throttle': {
        const fake = fakeOf(req.name);
        fake.defaultAnswer = { status: 429, retryAfter: req.retryAfter };
        const from = Date.now();
        setTimeout(() => {
          fake.defaultAnswer = undefined;
        }, req.ms);
        return { from, until: from + req.ms };
      }
      case 'count': {
        const records = fakeOf(req.name).records;
        let ok = 0;
        for (const r of records) if (r.status === 201) ok++;
        return { total: records.length, ok };
      }
      case 'take': {
        const records = fakeOf(req.name).records;
        const taken: Arrival[] = records.map((r) => [r.id, r.at, r.status]);
        records.length = 0;
        return taken;
      }
    }
  };
  process.on('message', (message: { seq: number; req: Op }) => {
    run(message.req).then(
      (value) => process.send?.({ seq: message.seq, value }),
      (error: unknown) => process.send?.({ seq: message.seq, error: String((error as Error).stack ?? error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

class PushServices {
  private seq = 0;
  private pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly child: ChildProcess;
  private readonly kill = () => {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  };

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), ['--push-services'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { seq: number; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.value);
    });
    this.child.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`push services exited (${code})`));
      this.pending.clear();
    });
    process.once('exit', this.kill);
  }

  private call<T>(req: Op): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const seq = ++this.seq;
      this.pending.set(seq, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ seq, req });
    });
  }

  start = (name: string, latencyMs: number) => {
    const { key, cert } = testCertificate();
    return this.call<string>({ op: 'start', name, latencyMs, key, cert });
  };
  subscribe = (name: string, count: number) => this.call<FakeSubscription[]>({ op: 'subscribe', name, count });
  throttle = (name: string, ms: number, retryAfter: number) => this.call<{ from: number; until: number }>({ op: 'throttle', name, ms, retryAfter });
  count = (name: string) => this.call<{ total: number; ok: number }>({ op: 'count', name });
  take = (name: string) => this.call<Arrival[]>({ op: 'take', name });

  /** Waits until `name` answered `ok` 201s since the last take. */
  async waitFor(name: string, ok: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const count = await this.count(name);
      if (count.ok >= ok) return;
      if (Date.now() > deadline) throw new Error(`push service ${name}: ${count.ok} of ${ok} pushes arrived after ${timeoutMs} ms (${count.total} requests)`);
      await sleep(100);
    }
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
    this.kill();
    process.off('exit', this.kill);
  }
}

// ---------------------------------------------------------------------------------------------
// Herald's API, as a client.

interface User {
  uid: string;
  subId: string;
}

class Api {
  constructor(
    readonly herald: ServerProcess,
    private readonly admin: string,
  ) {}

  static async of(herald: ServerProcess): Promise<Api> {
    return new Api(herald, await mintToken(BENCH_SECRET, { sub: 'bench-ops', admin: true, ttlSeconds: 3600 }));
  }

  async call(method: string, route: string, token: string | undefined, body?: unknown): Promise<{ status: number; answeredAt: number; body: any }> {
    const response = await fetch(this.herald.url + route, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const answeredAt = Date.now();
    const text = await response.text();
    return { status: response.status, answeredAt, body: text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
  }

  /** `count` users named `<prefix>-<i>`, each with one new subscription on push service `name`. */
  async subscribers(push: PushServices, name: string, prefix: string, count: number): Promise<User[]> {
    const subs = await push.subscribe(name, count);
    const users: User[] = new Array(count);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          const sub = subs[i] as FakeSubscription;
          const uid = `${prefix}-${i}`;
          const res = await this.call('POST', '/api/v1/native/subscribe', await mintToken(BENCH_SECRET, { sub: uid }), sub);
          if (res.status !== 201) throw new Error(`subscribe ${uid}: ${res.status} ${JSON.stringify(res.body)}`);
          users[i] = { uid, subId: sub.endpoint.slice(sub.endpoint.lastIndexOf('/') + 1) };
        }
      }),
    );
    return users;
  }

  /** POST /api/v1/send to one user; resolves with the 202's time. */
  async send(uid: string, msg: string, urgency: string): Promise<number> {
    const res = await this.call('POST', '/api/v1/send', this.admin, { msg, uid, opts: { urgency, channels: ['webpush'] } });
    if (res.status !== 202) throw new Error(`send to ${uid}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.answeredAt;
  }

  async multicast(uids: string[], msg: string, urgency: string): Promise<number> {
    const res = await this.call('POST', '/api/v1/multicast', this.admin, { msg, uids, opts: { urgency, channels: ['webpush'] } });
    if (res.status !== 202) throw new Error(`multicast: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return res.answeredAt;
  }

  /** The provider's entry in /healthz, if Herald lists it. */
  async provider(origin: string): Promise<{ pausedUntil?: string; circuit: string; concurrency: number; queued: Record<string, number> } | undefined> {
    const res = await this.call('GET', '/healthz', undefined);
    return (res.body.providers ?? []).find((p: { provider: string }) => p.provider === origin);
  }
}

/**
 * Sends one `urgency` push to each of `users` in turn at `rate`/s (open loop: each on the clock,
 * never waiting for the previous answer) while `more()` holds; resolves with uid → 202 time of
 * the sends made, once all were answered.
 */
async function paced(api: Api, users: User[], rate: number, urgency: string, msg: string, more: () => boolean = () => true): Promise<Map<string, number>> {
  const accepted = new Map<string, number>();
  const answers: Array<Promise<void>> = [];
  const begin = Date.now();
  for (let i = 0; i < users.length && more(); i++) {
    const wait = begin + (i * 1000) / rate - Date.now();
    if (wait > 0) await sleep(wait);
    const user = users[i] as User;
    answers.push(api.send(user.uid, `${msg} ${i}`, urgency).then((at) => void accepted.set(user.subId, at)));
  }
  await Promise.all(answers);
  return accepted;
}

/** 202 → arrival of each accepted send (first 201 of its subscription), and how many never arrived. */
function latencies(accepted: Map<string, number>, arrivals: Arrival[]): { samples: number[]; missing: number; duplicates: number } {
  const first = new Map<string, number>();
  let duplicates = 0;
  for (const [id, at, status] of arrivals) {
    if (status !== 201 || !accepted.has(id)) continue;
    if (first.has(id)) duplicates++;
    else first.set(id, at);
  }
  const samples: number[] = [];
  let missing = 0;
  for (const [id, at202] of accepted) {
    const at = first.get(id);
    if (at === undefined) missing++;
    else samples.push(at - at202);
  }
  return { samples, missing, duplicates };
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

// ---------------------------------------------------------------------------------------------
// 1. Priority under a backlog.

interface BacklogRun {
  throughput: number;
  delivered: number;
  duplicates: number;
  seconds: number;
  high?: { samples: number[]; missing: number; duplicates: number; excluded: number };
}

async function runBacklog(
  api: Api,
  push: PushServices,
  crowd: User[],
  highs: User[] | undefined,
  options: UrgencyBenchOptions,
  label: string,
): Promise<BacklogRun> {
  const { backlog, highRate } = options;
  const lowIds = new Set(crowd.map((u) => u.subId));
  const cpuBefore = cpuSeconds(api.herald.pid);
  const t0 = Date.now();
  await api.multicast(
    crowd.map((u) => u.uid),
    `${label}: newsletter`,
    'very-low',
  );
  let accepted = new Map<string, number>();
  if (highs) {
    await push.waitFor('P', 1, 60_000);
    let flowing = true;
    const watch = (async () => {
      while (flowing) {
        if ((await push.count('P')).ok >= backlog) flowing = false;
        else await sleep(100);
      }
    })();
    accepted = await paced(api, highs, highRate, 'high', `${label}: incoming call`, () => flowing);
    flowing = false;
    await watch;
    if (accepted.size === highs.length)
      options.log(`  ${label}: all ${highs.length} high users used before the backlog finished (the backlog is slower than expected)`);
  }
  await push.waitFor('P', backlog + accepted.size, 120_000 + (backlog / (options.concurrency / options.latencyMs)) * 3);
  const cpuShare = (cpuSeconds(api.herald.pid) - cpuBefore) / ((Date.now() - t0) / 1000);
  await sleep(200);
  const arrivals = await push.take('P');
  const low = arrivals.filter(([id, , status]) => status === 201 && lowIds.has(id));
  const distinct = new Set(low.map(([id]) => id));
  const times = low.map(([, at]) => at).sort((a, b) => a - b);
  const firstAt = times[0] as number;
  const lastAt = times[times.length - 1] as number;
  const seconds = (lastAt - firstAt) / 1000;
  const result: BacklogRun = { throughput: (times.length - 1) / seconds, delivered: distinct.size, duplicates: low.length - distinct.size, seconds };
  if (highs) {
    // Only the high sends accepted while the backlog was still flowing count.
    const during = new Map([...accepted].filter(([, at]) => at < lastAt));
    result.high = { ...latencies(during, arrivals), excluded: accepted.size - during.size };
    const s = summarize(result.high.samples);
    options.log(
      `  ${label}: ${result.delivered}/${backlog} very-low in ${seconds.toFixed(2)} s → ${result.throughput.toFixed(0)}/s; ` +
        `${s.n} high sends meanwhile: 202 → push service p50 ${fmt(s.p50)}, p99 ${fmt(s.p99)}, max ${fmt(s.max)}` +
        (result.high.excluded ? ` (${result.high.excluded} sent after the backlog's last arrival not counted)` : '') +
        `; Herald used ${(cpuShare * 100).toFixed(0)} % of a core`,
    );
  } else {
    options.log(
      `  ${label}: ${result.delivered}/${backlog} very-low in ${seconds.toFixed(2)} s → ${result.throughput.toFixed(0)}/s; Herald used ${(cpuShare * 100).toFixed(0)} % of a core`,
    );
  }
  return result;
}

async function runPriority(options: UrgencyBenchOptions): Promise<ResultRow[]> {
  const { concurrency, latencyMs, backlog, highRate, rounds, log } = options;
  const capacity = (concurrency * 1000) / latencyMs;
  const backlogSeconds = backlog / capacity;
  log(
    `urgency 1: push service capacity ${concurrency} in flight / ${latencyMs} ms = ${capacity}/s; very-low backlog of ${backlog} (${backlogSeconds.toFixed(1)} s of capacity), ` +
      `high sends at ${highRate}/s; idle reference ${options.idleSeconds} s; ${rounds} round(s) of backlog alone + mixed`,
  );
  const push = new PushServices();
  let herald: ServerProcess | undefined;
  try {
    await push.start('P', latencyMs);
    herald = await startHerald(heraldEnv(concurrency));
    const api = await Api.of(herald);
    const crowd = await api.subscribers(push, 'P', 'crowd', backlog);
    const perRound = Math.ceil(highRate * backlogSeconds * 1.5) + 20;
    const idleHighs = await api.subscribers(push, 'P', 'idle', Math.round(highRate * options.idleSeconds));
    const warmHighs = await api.subscribers(push, 'P', 'warm', 20);
    const mixedHighs: User[][] = [];
    for (let r = 0; r < rounds; r++) mixedHighs.push(await api.subscribers(push, 'P', `vip${r}`, perRound));
    log(`  ${backlog + idleHighs.length + warmHighs.length + perRound * rounds} users subscribed`);

    // Warm-up: a part of the backlog and a few high sends, then let Herald go idle.
    const warmCrowd = crowd.slice(0, Math.min(crowd.length, 1_000));
    await api.multicast(
      warmCrowd.map((u) => u.uid),
      'warm-up',
      'very-low',
    );
    const warm = await paced(api, warmHighs, highRate * 2, 'high', 'warm-up');
    await push.waitFor('P', warmCrowd.length + warm.size, 60_000);
    await push.take('P');
    await waitIdle(herald.pid, { windowMs: 300, maxMs: 20_000 });

    // Reference (a): high sends on an idle provider.
    const idleAccepted = await paced(api, idleHighs, highRate, 'high', 'idle: incoming call');
    await push.waitFor('P', idleAccepted.size, 30_000);
    await sleep(200);
    const idle = latencies(idleAccepted, await push.take('P'));
    const idleStats = summarize(idle.samples);
    log(`  idle provider: ${idleStats.n} high sends: 202 → push service p50 ${fmt(idleStats.p50)}, p99 ${fmt(idleStats.p99)}, max ${fmt(idleStats.max)}`);
    await waitIdle(herald.pid, { windowMs: 300, maxMs: 20_000 });

    const alone: BacklogRun[] = [];
    const mixed: BacklogRun[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['alone', 'mixed'] as const) : (['mixed', 'alone'] as const);
      for (const side of order) {
        if (side === 'alone') alone.push(await runBacklog(api, push, crowd, undefined, options, `round ${r + 1} backlog alone`));
        else mixed.push(await runBacklog(api, push, crowd, mixedHighs[r], options, `round ${r + 1} backlog + high`));
        await waitIdle(herald.pid, { windowMs: 300, maxMs: 20_000 });
      }
    }

    const highSamples = mixed.flatMap((m) => m.high?.samples ?? []);
    const highMissing = mixed.reduce((n, m) => n + (m.high?.missing ?? 0) + (m.high?.duplicates ?? 0), 0) + idle.missing + idle.duplicates;
    const high = summarize(highSamples);
    const aloneRate = median(alone.map((a) => a.throughput));
    const mixedRate = median(mixed.map((m) => m.throughput));
    const runs = [...alone, ...mixed];
    const lowExpected = backlog * runs.length;
    const lowDelivered = runs.reduce((n, b) => n + b.delivered, 0);
    const lowDuplicates = runs.reduce((n, b) => n + b.duplicates, 0);
    const metric = `high 202 → push service under a very-low backlog of ${backlog.toLocaleString('en-US')} (${(backlog / capacity).toFixed(0)} s at ${capacity}/s), high at ${highRate}/s`;
    const note = `${high.n} high sends under the backlog (${rounds} round(s)), ${idleStats.n} on the idle provider; C=${concurrency}, L=${latencyMs} ms`;
    return [
      {
        bench: 'urgency',
        metric: `${metric}: p50`,
        herald: high.p50,
        reference: idleStats.p50,
        referenceName: 'idle provider',
        unit: 'ms',
        ratio: high.p50 / idleStats.p50,
        note,
      },
      {
        bench: 'urgency',
        metric: `${metric}: p99`,
        herald: high.p99,
        reference: idleStats.p99,
        referenceName: 'idle provider',
        unit: 'ms',
        ratio: high.p99 / idleStats.p99,
        target: `≤ ${URGENCY_TARGET_P99_MS} ms`,
        pass: high.p99 <= URGENCY_TARGET_P99_MS && highMissing === 0,
        note: highMissing ? `${highMissing} high pushes missing or duplicated` : 'every high push arrived once',
      },
      {
        bench: 'urgency',
        metric: `${metric}: max`,
        herald: high.max,
        reference: idleStats.max,
        referenceName: 'idle provider',
        unit: 'ms',
        ratio: high.max / idleStats.max,
      },
      {
        bench: 'urgency',
        metric: `very-low backlog throughput while high sends flow (median of ${rounds})`,
        herald: mixedRate,
        reference: aloneRate,
        referenceName: 'backlog alone (FIFO)',
        unit: 'push/s',
        ratio: mixedRate / aloneRate,
        target: `≥ ${URGENCY_TARGET_THROUGHPUT_RATIO}× backlog alone`,
        pass: mixedRate / aloneRate >= URGENCY_TARGET_THROUGHPUT_RATIO,
        note: `pushes/s between the backlog's first and last arrival; rounds alone ${alone.map((a) => a.throughput.toFixed(0)).join(', ')}, mixed ${mixed.map((m) => m.throughput.toFixed(0)).join(', ')}`,
      },
      {
        bench: 'urgency',
        metric: 'very-low backlog alone vs the provider capacity C/L',
        herald: aloneRate,
        reference: capacity,
        referenceName: 'capacity C/L',
        unit: 'push/s',
        ratio: aloneRate / capacity,
        note: 'below 1: Herald (encryption, pipeline) rather than the provider bounds the backlog',
      },
      {
        bench: 'urgency',
        metric: `very-low pushes arrived, of ${runs.length} backlogs`,
        herald: lowDelivered,
        reference: lowExpected,
        referenceName: 'sent',
        unit: 'pushes',
        target: 'all, once each',
        pass: lowDelivered === lowExpected && lowDuplicates === 0,
        note: `${lowDuplicates} duplicates`,
      },
    ];
  } finally {
    await herald?.stop();
    push.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. A 429 + Retry-After on one push service.

async function runThrottle(options: UrgencyBenchOptions): Promise<ResultRow[]> {
  const { concurrency, latencyMs, throttleSeconds: window, throttleRate: rate, referenceSeconds, log } = options;
  log(
    `urgency 2: push services A and B (${latencyMs} ms, ${concurrency} in flight each); A answers 429 + Retry-After: ${window} for ${window} s; ` +
      `normal sends at ${rate}/s to A and ${rate}/s to B meanwhile; B-alone reference ${referenceSeconds} s`,
  );
  const push = new PushServices();
  let herald: ServerProcess | undefined;
  try {
    const originA = await push.start('A', latencyMs);
    await push.start('B', latencyMs);
    herald = await startHerald(heraldEnv(concurrency));
    const api = await Api.of(herald);
    const count = rate * window;
    const onA = await api.subscribers(push, 'A', 'a', count);
    const onB = await api.subscribers(push, 'B', 'b', count);
    const refB = await api.subscribers(push, 'B', 'ref', rate * referenceSeconds);
    const warmA = await api.subscribers(push, 'A', 'warm-a', 20);
    const warmB = await api.subscribers(push, 'B', 'warm-b', 20);

    // Warm-up: both push services, both connections.
    const [wa, wb] = await Promise.all([paced(api, warmA, rate * 2, 'normal', 'warm-up'), paced(api, warmB, rate * 2, 'normal', 'warm-up')]);
    await Promise.all([push.waitFor('A', wa.size, 30_000), push.waitFor('B', wb.size, 30_000)]);
    await Promise.all([push.take('A'), push.take('B')]);
    await waitIdle(herald.pid, { windowMs: 300, maxMs: 20_000 });

    // Reference: B alone.
    const refAccepted = await paced(api, refB, rate, 'normal', 'B alone');
    await push.waitFor('B', refAccepted.size, 30_000);
    await sleep(200);
    const ref = latencies(refAccepted, await push.take('B'));
    const refStats = summarize(ref.samples);
    log(`  B alone: ${refStats.n} sends: 202 → push service p50 ${fmt(refStats.p50)}, p99 ${fmt(refStats.p99)}, max ${fmt(refStats.max)}`);
    await waitIdle(herald.pid, { windowMs: 300, maxMs: 20_000 });

    // The window: A throttles; sends to A and B at `rate`/s each while it lasts.
    const throttle = await push.throttle('A', window * 1000, window);
    let pausedUntil = 0;
    /** The most deliveries seen waiting at A's gate (/healthz queued). */
    let queuedAtA = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const p = await api.provider(originA);
        if (p?.pausedUntil) pausedUntil = Math.max(pausedUntil, Date.parse(p.pausedUntil));
        if (p)
          queuedAtA = Math.max(
            queuedAtA,
            Object.values(p.queued).reduce((n, q) => n + q, 0),
          );
        await sleep(250);
      }
    })();
    const [acceptedA, acceptedB] = await Promise.all([
      paced(api, onA, rate, 'normal', 'to A', () => Date.now() < throttle.until - 1000 / rate),
      paced(api, onB, rate, 'normal', 'to B', () => Date.now() < throttle.until - 1000 / rate),
    ]);
    log(`  window: ${acceptedA.size} sends to A and ${acceptedB.size} to B accepted`);
    await push.waitFor('B', acceptedB.size, 120_000);
    // Every send to A arrives once A takes requests again (the throttled ones via the scheduler).
    await push.waitFor('A', acceptedA.size, (window + 90) * 1000);
    watching = false;
    await watch;
    await sleep(500);
    const arrivalsA = (await push.take('A')).sort((x, y) => x[1] - y[1]);
    const arrivalsB = await push.take('B');

    const inWindow = arrivalsA.filter(([, at]) => at < throttle.until);
    const non429InWindow = inWindow.filter(([, , status]) => status !== 429).length;
    const first429 = arrivalsA.find(([, , status]) => status === 429);
    // In flight when the first 429's answer came back: arrived before it was answered.
    const afterFirstAnswer = first429 ? inWindow.filter(([, at]) => at >= first429[1] + latencyMs).length : 0;
    const firstAfter = arrivalsA.find(([, at]) => at >= throttle.until);
    const afterPauseMs = firstAfter && pausedUntil ? firstAfter[1] - pausedUntil : Number.NaN;
    const beforePause = pausedUntil ? arrivalsA.filter(([, at]) => at >= throttle.until && at < pausedUntil).length : Number.NaN;
    const a = latencies(acceptedA, arrivalsA);
    const aAfterRecovery = a.samples.length;
    const aEarly = arrivalsA.filter(([id, at, status]) => status === 201 && acceptedA.has(id) && at < throttle.until).length;
    const during = latencies(acceptedB, arrivalsB);
    const duringStats = summarize(during.samples);
    log(
      `  A: ${inWindow.length} request(s) during the ${window} s window (${non429InWindow} not answered 429; ${afterFirstAnswer} arrived after the first 429 was answered); ` +
        `first 429 at +${first429 ? first429[1] - throttle.from : Number.NaN} ms; /healthz pausedUntil = window start +${pausedUntil - throttle.from} ms; ` +
        `first request after the window at +${firstAfter ? firstAfter[1] - throttle.from : Number.NaN} ms (${afterPauseMs} ms after pausedUntil); ` +
        `${aAfterRecovery}/${acceptedA.size} sends to A arrived, ${a.duplicates} twice, ${aEarly} before the window ended`,
    );
    const firstB = new Map<string, number>();
    for (const [id, at, status] of arrivalsB) if (status === 201 && !firstB.has(id)) firstB.set(id, at);
    const held = pausedUntil ? [...acceptedB].filter(([id]) => (firstB.get(id) ?? Number.POSITIVE_INFINITY) >= pausedUntil) : [];
    const bHeld = pausedUntil ? held.length : Number.NaN;
    const heldFrom = held.length ? Math.max(...held.map(([, at]) => pausedUntil - at)) : 0;
    log(
      `  B during the window: ${duringStats.n} sends: 202 → push service p50 ${fmt(duringStats.p50)}, p99 ${fmt(duringStats.p99)}, max ${fmt(duringStats.max)}; ` +
        `${bHeld} of them arrived only after A's pause ended${held.length ? ` (accepted in its last ${heldFrom} ms)` : ''}; at most ${queuedAtA} deliveries seen waiting at A's gate (/healthz)`,
    );
    const aLatency = summarize(a.samples);
    log(`  A: 202 → push service (after the recovery) p50 ${fmt(aLatency.p50)}, max ${fmt(aLatency.max)}`);
    return [
      {
        bench: 'urgency',
        metric: `429 window of ${window} s: requests A received during it`,
        herald: inWindow.length,
        unit: 'requests',
        target: `≤ ${concurrency} (the first + those in flight)`,
        pass: inWindow.length >= 1 && inWindow.length <= concurrency && afterFirstAnswer <= concurrency - 1,
        note: `${afterFirstAnswer} arrived after the first 429 had been answered`,
      },
      {
        bench: 'urgency',
        metric: "A's first request after the pause − Retry-After end (/healthz pausedUntil)",
        herald: afterPauseMs,
        unit: 'ms',
        target: '≥ 0 (none before Retry-After)',
        pass: afterPauseMs >= 0 && beforePause === 0,
        note: `first 429 arrived ${first429 ? first429[1] - throttle.from : Number.NaN} ms into the window; pause ended ${pausedUntil - throttle.until} ms after the window`,
      },
      {
        bench: 'urgency',
        metric: "B's 202 → push service p99 during A's 429 window",
        herald: duringStats.p99,
        reference: refStats.p99,
        referenceName: 'B alone',
        unit: 'ms',
        ratio: duringStats.p99 / refStats.p99,
        target: `≤ ${URGENCY_TARGET_P99_MS} ms`,
        pass: duringStats.p99 <= URGENCY_TARGET_P99_MS && during.missing === 0,
        note: `p50 ${duringStats.p50.toFixed(0)} ms vs ${refStats.p50.toFixed(0)} ms alone, max ${duringStats.max.toFixed(0)} ms; ${during.missing} missing`,
      },
      {
        bench: 'urgency',
        metric: 'sends to A that arrived after the recovery',
        herald: aAfterRecovery,
        reference: acceptedA.size,
        referenceName: 'sent',
        unit: 'pushes',
        target: 'all, once each',
        pass: aAfterRecovery === acceptedA.size && a.duplicates === 0 && aEarly === 0,
        note: `${a.duplicates} duplicates; throttled ones retried by the scheduler after Retry-After`,
      },
    ];
  } finally {
    await herald?.stop();
    push.close();
  }
}

function heraldEnv(concurrency: number): Record<string, string> {
  return {
    ...NO_SEND_LIMITS,
    HERALD_RATE_WS_TICKET: '0',
    HERALD_RATE_UNAUTHENTICATED: '0',
    NODE_EXTRA_CA_CERTS: testCertificate().certFile,
    HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
    HERALD_WEBPUSH_CONCURRENCY: String(concurrency),
  };
}

export async function runUrgency(options: UrgencyBenchOptions): Promise<ResultRow[]> {
  return [...(await runPriority(options)), ...(await runThrottle(options))];
}

export const urgencySettings = (quick: boolean): Omit<UrgencyBenchOptions, 'log'> =>
  quick
    ? { concurrency: 10, latencyMs: 20, backlog: 1_500, highRate: 10, idleSeconds: 4, rounds: 1, throttleSeconds: 5, throttleRate: 10, referenceSeconds: 5 }
    : { concurrency: 10, latencyMs: 20, backlog: 5_000, highRate: 10, idleSeconds: 15, rounds: 2, throttleSeconds: 30, throttleRate: 10, referenceSeconds: 10 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--push-services') {
    void servePushServices();
  } else {
    const started = Date.now();
    const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
    runUrgency({ ...urgencySettings(args.includes('--quick')), log }).then(
      (rows) => {
        process.stdout.write(`\n${renderTable(rows)}\n`);
        for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  }
}
