/**
 * http2: push send latency when some HTTP/2 sessions stall — Herald's FCM and APNs channels (one
 * persistent, multiplexed session each, replaced on GOAWAY or when a PING goes unanswered:
 * channels/http2-session.ts) against a fresh session per batch: what firebase-admin's `sendEach`
 * does by default for FCM, and the simplest APNs client.
 *
 * Load: N notifications to distinct device tokens in batches of 100 (the pipeline's batch size),
 * four batches at a time (the delivery worker's concurrency), one message per batch. A
 * notification's latency is from its batch being handed over to its result (sent, or failed for
 * good or retry): what a send's caller waits. A Herald delivery answered `deferred` (its
 * provider's gate paused or its circuit open) is delivered again when the gate expects to
 * reopen, as the delivery worker has the scheduler do, and its latency runs to its final result.
 * Each side starts cold (no session, no token) and its notifications cycle through the same
 * scenario:
 *  - `spread`: 1 % of HTTP/2 sessions stall — every 100th session a side opens (the 100th, the
 *    200th…) completes TLS and then never answers anything, not even SETTINGS or PING
 *    (test/fakes/h2-stall.ts);
 *  - `first`: the same, counting from the first session (the 1st, the 101st…): Herald's one
 *    session stalls at once, the worst case for a persistent session.
 *
 * Sides, FCM:
 *  - herald: `createFcmChannel(...).deliver(batch, onResult)`, `concurrency` 100, the run's
 *    request timeout, its PING bound;
 *  - reference "session per batch": per batch, `http2.connect` (peerMaxConcurrentStreams 100,
 *    as firebase-admin 13 sets), every request of the batch at once, each with the request
 *    timeout as a stream inactivity timeout, retried on ETIMEDOUT/ECONNRESET/503 up to 4 times
 *    after 0, 1, 2, 4 s on the same session (firebase-admin's default retry configuration), the
 *    session closed once all settled. The access token comes from the same token code
 *    (channels/fcm/access-token.ts), fetched once per run; the bodies are Herald's. This is a
 *    re-implementation of firebase-admin's HTTP/2 path, so it runs without the library and
 *    against the fake, whose host it does not let one configure.
 * Sides, APNs:
 *  - herald: `createApnsChannel(...).deliver(batch, onResult)`, the same settings;
 *  - reference "session per batch": per batch, `http2.connect` (peerMaxConcurrentStreams 100),
 *    every request of the batch at once (Herald's headers and payload, channels/apns/
 *    notification.ts, and one provider token from channels/apns/provider-token.ts for the run),
 *    each with the request timeout as a stream inactivity timeout and sent once: a failure is
 *    reported as Herald's channel reports it, for a later retry, so neither side re-sends within
 *    the run. The session is closed once all settled.
 * The fakes (test/fakes/fcm.ts, test/fakes/apns.ts) run in a child process; the sides run in
 * this process one after the other. `--quick` shortens the request timeout (3 s instead of
 * firebase-admin's 15 s, for every side) and Herald's PING bound (1 s instead of 2 s), so the
 * figures scale with those settings; a stalled FCM reference batch costs 5 timeouts and 7 s of
 * back-off, which is what the run's length is made of. Not in the default set of bench/run.ts
 * for that reason (`npm run bench -- http2`).
 *
 * Standalone: `node --import tsx bench/http2.ts [--quick] [--n 20000] [--timeout-ms 15000] [--ping-ms 2000] [--apns-n 20000]`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { APNS_SANDBOX_ORIGIN, createApnsChannel } from '../channels/apns/apns-channel.js';
import { apnsRequest } from '../channels/apns/notification.js';
import { loadSigningKey, providerTokens } from '../channels/apns/provider-token.js';
import { cachedAccessToken, serviceAccountCredential } from '../channels/fcm/access-token.js';
import { composeFcmMessage } from '../channels/fcm/compose.js';
import { createFcmChannel, FCM_ORIGIN } from '../channels/fcm/fcm-channel.js';
import { HostOverrideAgent } from '../channels/fcm/host-agent.js';
import { readServiceAccount } from '../channels/fcm/service-account.js';
import { parseHostPort } from '../channels/http2-session.js';
import type { Channel, Delivery } from '../channels/port.js';
import type { Device, Message } from '../src/exchange/types.js';
import { makeApnsKey, startApnsFake } from '../test/fakes/apns.js';
import { startFcmFake, writeServiceAccount } from '../test/fakes/fcm.js';
import { testCertificate } from '../test/fakes/tls.js';
import { percentile, type ResultRow, renderTable } from './lib/stats.js';

/** The pipeline's values: DELIVERY_BATCH_SIZE and the deliver consumer's concurrency. */
const BATCH_SIZE = 100;
const BATCHES_AT_ONCE = 4;
const APNS_TOPIC = 'com.herald.bench';
const STALL_EVERY = 100;
/** firebase-admin 13's default retry configuration of its HTTP/2 client: 4 retries, the first at once, then 0.5 s × 2^n. */
const REFERENCE_RETRIES = 4;
const referenceBackoffMs = (retriesDone: number) => (retriesDone === 0 ? 0 : 2 ** retriesDone * 500);

export interface Http2BenchOptions {
  notifications: number;
  /** Request timeout of every side (firebase-admin's is 15 s). */
  timeoutMs: number;
  /** Herald's PING bound. */
  pingTimeoutMs: number;
  /** Notifications of each APNs side. */
  apnsNotifications: number;
  log(line: string): void;
}

const SCENARIOS = {
  spread: { label: '1 % of sessions stall (the 100th, 200th…)', stall: (n: number) => n % STALL_EVERY === 0 },
  first: { label: 'the first session stalls, then every 100th', stall: (n: number) => (n - 1) % STALL_EVERY === 0 },
} as const;
type Scenario = keyof typeof SCENARIOS;

type FromParent = { type: 'start' } | { type: 'stall'; scenario: Scenario } | { type: 'count' };
interface Ready {
  type: 'ready';
  fcmHost: string;
  accountPath: string;
  apnsHost: string;
  apnsKey: { key: string; keyId: string; teamId: string };
  ca: string;
}
interface Counts {
  type: 'count';
  fcm: { sessions: number; stalled: number; requests: number };
  apns: { sessions: number; stalled: number; requests: number };
}
type FromChild = Ready | { type: 'stalling' } | Counts;

/** Child-process mode: the FCM and APNs fakes. Session numbers restart from 1 at each `stall`. */
async function serveFakes(): Promise<void> {
  const send = (message: FromChild) => process.send?.(message);
  const account = writeServiceAccount();
  const fcm = await startFcmFake({ accounts: [account] });
  const key = makeApnsKey();
  const apns = await startApnsFake(key);
  let last = { fcm: { sessions: 0, requests: 0, stalled: 0 }, apns: { sessions: 0, requests: 0, stalled: 0 } };
  const snapshot = () => ({
    fcm: { sessions: fcm.sessions, stalled: fcm.stalled, requests: fcm.requests.length },
    apns: { sessions: apns.sessions, stalled: apns.stalled, requests: apns.received.length },
  });
  process.on('message', (m: FromParent) => {
    if (m.type === 'stall') {
      const rule = SCENARIOS[m.scenario].stall;
      const fcmBase = fcm.sessions;
      const apnsBase = apns.sessions;
      fcm.stallSessions((n) => rule(n - fcmBase));
      apns.stallSessions((n) => rule(n - apnsBase));
      last = snapshot();
      send({ type: 'stalling' });
    } else if (m.type === 'count') {
      const now = snapshot();
      const delta = (a: typeof now.fcm, b: typeof now.fcm) => ({
        sessions: a.sessions - b.sessions,
        stalled: a.stalled - b.stalled,
        requests: a.requests - b.requests,
      });
      send({ type: 'count', fcm: delta(now.fcm, last.fcm), apns: delta(now.apns, last.apns) });
      last = now;
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({
    type: 'ready',
    fcmHost: fcm.host,
    accountPath: account.path,
    apnsHost: apns.host,
    apnsKey: { key: key.key, keyId: key.keyId, teamId: key.teamId },
    ca: testCertificate().cert,
  });
}

function request<T extends FromChild['type']>(child: ChildProcess, message: FromParent | undefined, type: T): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromChild) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<FromChild, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`fakes exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (message) child.send(message);
  });
}

const message = (i: number): Message => ({
  id: randomUUID(),
  sender: 'bench',
  target: { kind: 'users', uids: [] },
  msg: `Benchmark notification ${i}: your order has shipped and will arrive tomorrow.`,
  title: 'Order update',
  data: { order: i, kind: 'shipping' },
  link: 'https://shop.example/orders/42',
  urgency: 'normal',
  createdAt: Date.now(),
});

const batchesOf = (n: number, kind: 'android' | 'ios'): Delivery[][] => {
  const batches: Delivery[][] = [];
  for (let start = 0; start < n; start += BATCH_SIZE) {
    const msg = message(start);
    const batch: Delivery[] = [];
    for (let i = start; i < Math.min(n, start + BATCH_SIZE); i++) {
      const token = kind === 'ios' ? randomUUID().replaceAll('-', '').repeat(2) : `bench-${randomUUID()}:APA91b${i}`;
      const device: Device = { id: `d${i}`, uid: `u${i}`, kind, token, createdAt: 0 };
      batch.push({ message: msg, recipient: { uid: device.uid }, device, channel: kind === 'ios' ? 'apns' : 'fcm', attempt: 1 });
    }
    batches.push(batch);
  }
  return batches;
};

interface RunResult {
  latencies: number[];
  sent: number;
  notSent: number;
  /** Deliveries answered `deferred` and delivered again (counted once per deferral). */
  deferred: number;
  seconds: number;
}

/** What `send` reports to its run for one batch. */
interface Lane {
  /** A notification's final result: its latency runs from its batch's start to now. */
  done(ok: boolean): void;
  /** Work that finishes the batch later without holding its lane (awaited before the run ends). */
  later(work: Promise<void>): void;
  deferred(count: number): void;
}

/** Runs `send` over the batches, BATCHES_AT_ONCE at a time; `send` reports each result's latency. */
async function runBatches(batches: Delivery[][], send: (batch: Delivery[], lane: Lane) => Promise<void>): Promise<RunResult> {
  const result: RunResult = { latencies: [], sent: 0, notSent: 0, deferred: 0, seconds: 0 };
  const pending: Array<Promise<void>> = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: BATCHES_AT_ONCE }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] as Delivery[];
        const started = performance.now();
        await send(batch, {
          done: (ok) => {
            result.latencies.push(performance.now() - started);
            if (ok) result.sent++;
            else result.notSent++;
          },
          later: (work) => pending.push(work),
          deferred: (count) => {
            result.deferred += count;
          },
        });
      }
    }),
  );
  while (pending.length > 0) await Promise.all(pending.splice(0));
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/**
 * Delivers `batch` through a Herald channel as the delivery worker does. A `deferred` result (the
 * provider's gate paused, or its circuit open, beyond its hold) is not an outcome: the worker
 * hands the delivery to the scheduler, which delivers it again, at the same attempt, when the
 * gate expects to reopen. So it is delivered again at its `untilMs` here, without holding the
 * batch's lane, and its latency runs to its final result.
 */
async function deliverLikeTheWorker(channel: Channel, batch: Delivery[], lane: Lane): Promise<void> {
  const deferred: Delivery[] = [];
  let until = 0;
  await channel.deliver(batch, (i, r) => {
    if (r.type !== 'deferred') return lane.done(r.type === 'sent');
    deferred.push(batch[i] as Delivery);
    until = Math.max(until, r.untilMs);
  });
  if (deferred.length === 0) return;
  lane.deferred(deferred.length);
  lane.later(new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now()))).then(() => deliverLikeTheWorker(channel, deferred, lane)));
}

/** Herald's FCM channel: one persistent session. */
async function heraldRun(ready: Ready, n: number, options: Http2BenchOptions): Promise<RunResult & { sessions: number }> {
  const channel = createFcmChannel({
    serviceAccountPath: ready.accountPath,
    host: ready.fcmHost,
    ca: ready.ca,
    concurrency: 100,
    requestTimeoutMs: options.timeoutMs,
    pingTimeoutMs: options.pingTimeoutMs,
  });
  try {
    const result = await runBatches(batchesOf(n, 'android'), (batch, lane) => deliverLikeTheWorker(channel, batch, lane));
    return { ...result, sessions: channel.sessionsOpened };
  } finally {
    await channel.close();
  }
}

type CallOutcome = number | string;

/** firebase-admin's headers of one `messages:send` (its AsyncHttp2Call). */
const fcmHeaders = (path: string, token: string): http2.OutgoingHttpHeaders => ({
  ':method': 'POST',
  ':scheme': 'https',
  ':path': path,
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  'x-firebase-client': 'fire-admin-node/13.10.0',
  access_token_auth: 'true',
  'x-goog-api-client': `gl-node/${process.versions.node} fire-admin/13.10.0`,
});

/** One POST on `session` with the request timeout as its inactivity timeout: the HTTP status, or the error code. */
function h2Call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: string, timeoutMs: number): Promise<CallOutcome> {
  return new Promise((resolve) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (err) {
      resolve((err as NodeJS.ErrnoException).code ?? 'ERR');
      return;
    }
    let status: number | undefined;
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', () => {});
    stream.on('end', () => resolve(status ?? 'ERR'));
    stream.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERR'));
    stream.setTimeout(timeoutMs, () => {
      stream.destroy();
      resolve('ETIMEDOUT');
    });
    stream.end(body);
  });
}

/** The reference: a fresh session per batch, closed after it (firebase-admin's sendEach over HTTP/2). */
async function referenceRun(ready: Ready, n: number, options: Http2BenchOptions): Promise<RunResult & { sessions: number }> {
  const target = parseHostPort(ready.fcmHost);
  const account = readServiceAccount(ready.accountPath);
  const path = `/v1/projects/${account.projectId}/messages:send`;
  const agent = new HostOverrideAgent(target, { keepAlive: true, ca: ready.ca });
  const credential = serviceAccountCredential(account, agent);
  const tokens = cachedAccessToken(() => credential.getAccessToken());
  let sessions = 0;
  try {
    const result = await runBatches(batchesOf(n, 'android'), async (batch, { done }) => {
      const now = Date.now();
      const bodies = batch.map((d) => {
        const composed = composeFcmMessage(d, now);
        if (!composed.ok) throw new Error('bench: delivery not composable');
        return JSON.stringify({ message: composed.message });
      });
      const session = http2.connect(FCM_ORIGIN, {
        peerMaxConcurrentStreams: 100,
        createConnection: () => tls.connect({ host: target.host, port: target.port, servername: 'fcm.googleapis.com', ALPNProtocols: ['h2'], ca: ready.ca }),
      });
      sessions++;
      session.on('error', () => {});
      try {
        await Promise.all(
          bodies.map(async (body) => {
            for (let retries = 0; ; retries++) {
              let outcome: CallOutcome;
              try {
                outcome = await h2Call(session, fcmHeaders(path, await tokens.get()), body, options.timeoutMs);
              } catch {
                outcome = 'token';
              }
              if (outcome === 200) return done(true);
              const retryable = outcome === 'ETIMEDOUT' || outcome === 'ECONNRESET' || outcome === 503;
              if (!retryable || retries >= REFERENCE_RETRIES) return done(false);
              await new Promise((resolve) => setTimeout(resolve, referenceBackoffMs(retries)));
            }
          }),
        );
      } finally {
        session.close();
      }
    });
    return { ...result, sessions };
  } finally {
    agent.destroy();
  }
}

/** Herald's APNs channel: one persistent session. */
async function apnsRun(ready: Ready, n: number, options: Http2BenchOptions): Promise<RunResult & { sessions: number }> {
  const channel = createApnsChannel({
    ...ready.apnsKey,
    topic: APNS_TOPIC,
    production: false,
    host: ready.apnsHost,
    ca: ready.ca,
    concurrency: 100,
    requestTimeoutMs: options.timeoutMs,
    pingTimeoutMs: options.pingTimeoutMs,
  });
  try {
    const result = await runBatches(batchesOf(n, 'ios'), (batch, lane) => deliverLikeTheWorker(channel, batch, lane));
    return { ...result, sessions: channel.sessionsOpened };
  } finally {
    await channel.close();
  }
}

/** The APNs reference: a fresh session per batch, each request sent once, the session closed after. */
async function apnsReferenceRun(ready: Ready, n: number, options: Http2BenchOptions): Promise<RunResult & { sessions: number }> {
  const target = parseHostPort(ready.apnsHost);
  const servername = new URL(APNS_SANDBOX_ORIGIN).hostname;
  const tokens = providerTokens({ key: loadSigningKey(ready.apnsKey.key), keyId: ready.apnsKey.keyId, teamId: ready.apnsKey.teamId });
  let sessions = 0;
  const result = await runBatches(batchesOf(n, 'ios'), async (batch, { done }) => {
    const request = apnsRequest((batch[0] as Delivery).message, APNS_TOPIC);
    const bearer = await tokens.get();
    const session = http2.connect(APNS_SANDBOX_ORIGIN, {
      peerMaxConcurrentStreams: 100,
      createConnection: () => tls.connect({ host: target.host, port: target.port, servername, ALPNProtocols: ['h2'], ca: ready.ca }),
    });
    sessions++;
    session.on('error', () => {});
    try {
      await Promise.all(
        batch.map(async (d) => {
          const headers = { ':method': 'POST', ':path': `/3/device/${d.device?.token}`, ...request.headers, authorization: `bearer ${bearer}` };
          done((await h2Call(session, headers, request.body, options.timeoutMs)) === 200);
        }),
      );
    } finally {
      session.close();
    }
  });
  return { ...result, sessions };
}

const ms = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')} ms`;
const describe = (r: RunResult) => {
  const p = (q: number) => percentile(r.latencies, q);
  return `p50 ${ms(p(50))}, p99 ${ms(p(99))}, p99.9 ${ms(p(99.9))}, max ${ms(r.latencies.reduce((a, b) => Math.max(a, b), 0))}; ${r.sent} sent, ${r.notSent} not (retry/failed)${r.deferred > 0 ? `, ${r.deferred} deferred and delivered again` : ''}, ${r.seconds.toFixed(1)} s`;
};

export async function runHttp2(options: Http2BenchOptions): Promise<ResultRow[]> {
  const { notifications: n, log } = options;
  const apnsN = Math.min(n, options.apnsNotifications);
  log(
    `http2: ${n} FCM and ${apnsN} APNs notifications per side and scenario, batches of ${BATCH_SIZE}, ${BATCHES_AT_ONCE} at a time; ` +
      `request timeout ${options.timeoutMs} ms, Herald PING bound ${options.pingTimeoutMs} ms; fakes in a child process`,
  );
  const child = fork(fileURLToPath(import.meta.url), ['--fakes'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killChild);
  const rows: ResultRow[] = [];
  try {
    const ready = await request(child, undefined, 'ready');
    const measure = async <R extends RunResult>(scenario: Scenario, name: string, run: () => Promise<R>) => {
      await request(child, { type: 'stall', scenario }, 'stalling');
      const result = await run();
      const counts = await request(child, { type: 'count' }, 'count');
      const side = name.startsWith('apns') ? counts.apns : counts.fcm;
      log(
        `  ${scenario.padEnd(6)} ${name.padEnd(14)}: ${describe(result)}; fake saw ${side.sessions} sessions (${side.stalled} stalled), ${side.requests} requests`,
      );
      return { result, counts: side };
    };
    for (const scenario of Object.keys(SCENARIOS) as Scenario[]) {
      const label = SCENARIOS[scenario].label;
      const fcm = {
        herald: await measure(scenario, 'fcm herald', () => heraldRun(ready, n, options)),
        reference: await measure(scenario, 'fcm reference', () => referenceRun(ready, n, options)),
      };
      const apns = {
        herald: await measure(scenario, 'apns herald', () => apnsRun(ready, apnsN, options)),
        reference: await measure(scenario, 'apns reference', () => apnsReferenceRun(ready, apnsN, options)),
      };
      const note = (r: { result: RunResult; counts: { sessions: number; stalled: number } }) =>
        `${r.counts.sessions} sessions (${r.counts.stalled} stalled), ${r.result.notSent} of ${r.result.latencies.length} not sent` +
        (r.result.deferred > 0 ? `, ${r.result.deferred} deferred (gate) and delivered again` : '');
      for (const [provider, count, sides] of [
        ['FCM', n, fcm],
        ['APNs', apnsN, apns],
      ] as const) {
        for (const q of [50, 99, 99.9]) {
          const h = percentile(sides.herald.result.latencies, q);
          const r = percentile(sides.reference.result.latencies, q);
          rows.push({
            bench: 'http2',
            metric: `${provider} send p${q} @${count}, ${label}`,
            herald: h,
            reference: r,
            referenceName: 'session per batch',
            unit: 'ms',
            ratio: r / h,
            note: `herald: ${note(sides.herald)}; reference: ${note(sides.reference)}`,
          });
        }
      }
    }
    return rows;
  } finally {
    child.disconnect();
    killChild();
    process.off('exit', killChild);
  }
}

const argValue = (args: string[], name: string): number | undefined => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : undefined;
};

/** The settings of `--quick` and of a full run (bench/run.ts uses them too). */
export const http2Settings = (quick: boolean) =>
  quick
    ? { notifications: 10_000, timeoutMs: 3_000, pingTimeoutMs: 1_000, apnsNotifications: 10_000 }
    : { notifications: 20_000, timeoutMs: 15_000, pingTimeoutMs: 2_000, apnsNotifications: 20_000 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--fakes') {
    void serveFakes();
  } else {
    const defaults = http2Settings(args.includes('--quick'));
    const started = Date.now();
    const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
    runHttp2({
      notifications: argValue(args, '--n') ?? defaults.notifications,
      timeoutMs: argValue(args, '--timeout-ms') ?? defaults.timeoutMs,
      pingTimeoutMs: argValue(args, '--ping-ms') ?? defaults.pingTimeoutMs,
      apnsNotifications: argValue(args, '--apns-n') ?? defaults.apnsNotifications,
      log,
    }).then(
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
