/**
 * webpush: notifications/s that Herald's web push channel sends to a loopback push service —
 * `createWebPushChannel(...).deliver()` over batches of 100 (the pipeline's batch size), four
 * batches at a time (the delivery worker's concurrency), at HERALD_WEBPUSH_CONCURRENCY's default
 * of 50 requests in flight — against the encryption-bound reference: a bare
 * `webpush.sendNotification` loop with 50 workers, same N, same payload size, same VAPID keys,
 * a keep-alive https.Agent of its own, measured in the same run.
 *
 * Herald signs its VAPID header once per push service origin (channels/webpush/vapid.ts); the
 * bare loop lets web-push sign one per notification, as web-push does by default. A second
 * reference, the same loop given one pre-signed header, isolates the channel's own overhead
 * (informational, no target).
 *
 * Fairness: the push service (test/fakes/push-service.ts with verification off: it reads the
 * body and answers 201, so the client's encryption and signing are what is measured) runs in a
 * child process, the same one for every side; the clients run in this process one after the
 * other; the order of the sides rotates each round after a warm-up of each, and the median
 * round counts. Every notification must be answered 201, or the run fails.
 *
 * Standalone: `node --import tsx bench/webpush.ts [--quick] [--n 2000] [--concurrency 50] [--rounds 5]`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import webpush from 'web-push';
import type { Delivery } from '../channels/port.js';
import { createWebPushChannel } from '../channels/webpush/webpush-channel.js';
import type { Device, Message } from '../src/exchange/types.js';
import { type FakeSubscription, startPushService } from '../test/fakes/push-service.js';
import { testCertificate } from '../test/fakes/tls.js';
import { median, type ResultRow, renderTable } from './lib/stats.js';

export const WEBPUSH_TARGET_RATIO = 0.8;
/** The pipeline's values: DELIVERY_BATCH_SIZE and the deliver consumer's concurrency. */
const BATCH_SIZE = 100;
const BATCHES_AT_ONCE = 4;
/** Distinct subscriptions the notifications cycle over (each one's keys are used N ÷ this times). */
const SUBSCRIPTIONS = 200;

export interface WebPushBenchOptions {
  notifications: number;
  concurrency: number;
  /** Measured rounds of each side (after one warm-up round each). */
  rounds: number;
  log(line: string): void;
}

type FromParent = { type: 'start'; key: string; cert: string; subscriptions: number };
type FromChild = { type: 'ready'; origin: string; subscriptions: FakeSubscription[] } | { type: 'count'; requests: number; non201: number };

/** Child-process mode: the push service, answering 201 to everything it can route. */
async function servePushService(): Promise<void> {
  const send = (message: FromChild) => process.send?.(message);
  process.on('message', async (raw: FromParent | { type: 'count' }) => {
    if (raw.type === 'start') {
      const fake = await startPushService({ verify: false, record: true, certificate: { key: raw.key, cert: raw.cert } });
      const subscriptions = Array.from({ length: raw.subscriptions }, () => fake.subscription());
      process.on('message', (m: { type: string }) => {
        if (m.type === 'count') {
          const non201 = fake.records.filter((r) => r.status !== 201).length;
          send({ type: 'count', requests: fake.records.length, non201 });
          fake.records.length = 0;
        }
      });
      send({ type: 'ready', origin: fake.origin, subscriptions });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

function request<T extends FromChild['type']>(child: ChildProcess, message: FromParent | { type: 'count' }, type: T): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromChild) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<FromChild, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`push service exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
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

const device = (sub: FakeSubscription, i: number): Device => ({
  id: `d${i}`,
  uid: `u${i}`,
  kind: 'web',
  token: sub.endpoint,
  keys: sub.keys,
  expirationTime: null,
  createdAt: 0,
});

/** Herald: the channel's deliver() over batches of 100, four batches at a time. */
async function heraldRound(channel: ReturnType<typeof createWebPushChannel>, subs: FakeSubscription[], n: number): Promise<{ seconds: number; sent: number }> {
  const batches: Delivery[][] = [];
  for (let start = 0; start < n; start += BATCH_SIZE) {
    const msg = message(start);
    const batch: Delivery[] = [];
    for (let i = start; i < Math.min(n, start + BATCH_SIZE); i++) {
      const d = device(subs[i % subs.length] as FakeSubscription, i);
      batch.push({ message: msg, recipient: { uid: d.uid }, device: d, channel: 'webpush', attempt: 1 });
    }
    batches.push(batch);
  }
  let sent = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: BATCHES_AT_ONCE }, async () => {
      while (next < batches.length) {
        const results = await channel.deliver(batches[next++] as Delivery[]);
        for (const r of results) if (r.type === 'sent') sent++;
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, sent };
}

/**
 * Reference: `concurrency` workers, each awaiting webpush.sendNotification in a loop; web-push
 * signs VAPID per notification, or `authorization` (pre-signed) is sent as is.
 */
async function referenceRound(
  agent: https.Agent,
  vapidDetails: { subject: string; publicKey: string; privateKey: string },
  authorization: string | undefined,
  subs: FakeSubscription[],
  n: number,
  concurrency: number,
): Promise<{ seconds: number; sent: number }> {
  const payloads: string[] = [];
  for (let start = 0; start < n; start += BATCH_SIZE) {
    const m = message(start);
    payloads.push(
      JSON.stringify({ id: m.id, title: m.title, body: m.msg, data: m.data, link: m.link, urgency: m.urgency, createdAt: new Date(m.createdAt).toISOString() }),
    );
  }
  const signing: webpush.RequestOptions =
    authorization === undefined ? { vapidDetails } : { vapidDetails: null as unknown as undefined, headers: { Authorization: authorization } };
  let sent = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const sub = subs[i % subs.length] as FakeSubscription;
        try {
          await webpush.sendNotification(sub, payloads[Math.floor(i / BATCH_SIZE)] as string, { ...signing, TTL: 2_419_200, urgency: 'normal', agent });
          sent++;
        } catch {
          // counted as not sent
        }
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, sent };
}

const SIDES = ['herald', 'reference', 'presigned'] as const;
type Side = (typeof SIDES)[number];
const LABEL: Record<Side, string> = { herald: 'Herald           ', reference: 'web-push         ', presigned: 'web-push presigned' };

export async function runWebPush(options: WebPushBenchOptions): Promise<ResultRow[]> {
  const { notifications: n, concurrency, rounds, log } = options;
  log(`webpush: ${n} notifications per round, ${concurrency} in flight, ${rounds} rounds each, push service in a child process`);
  const { key, cert } = testCertificate();
  const child = fork(fileURLToPath(import.meta.url), ['--push-service'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killChild);

  const vapidDetails = { subject: 'mailto:bench@herald.test', ...webpush.generateVAPIDKeys() };
  // The push service runs on loopback: allowed as HERALD_WEBPUSH_ALLOW_PRIVATE=true would.
  const channel = createWebPushChannel({ vapid: vapidDetails, concurrency, ca: cert, egress: { allowPrivate: true, allowedHosts: [] } });
  const agent = new https.Agent({ keepAlive: true, ca: cert });
  try {
    const ready = await request(child, { type: 'start', key, cert, subscriptions: SUBSCRIPTIONS }, 'ready');
    const subs = ready.subscriptions;
    const check = async (name: string, result: { sent: number }, expected: number) => {
      const count = await request(child, { type: 'count' }, 'count');
      if (result.sent !== expected || count.requests !== expected || count.non201 !== 0) {
        throw new Error(`webpush ${name}: ${result.sent}/${expected} sent, push service saw ${count.requests} (${count.non201} not 201)`);
      }
    };

    const authorization = webpush.getVapidHeaders(
      ready.origin,
      vapidDetails.subject,
      vapidDetails.publicKey,
      vapidDetails.privateKey,
      'aes128gcm',
    ).Authorization;
    const run = (side: Side, count: number) =>
      side === 'herald'
        ? heraldRound(channel, subs, count)
        : referenceRound(agent, vapidDetails, side === 'presigned' ? authorization : undefined, subs, count, concurrency);

    const warm = Math.min(n, 500);
    for (const side of SIDES) await check(`${side} warm-up`, await run(side, warm), warm);

    const rates: Record<Side, number[]> = { herald: [], reference: [], presigned: [] };
    for (let round = 1; round <= rounds; round++) {
      // Rotate which side goes first, and reverse every other round.
      const rotated = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length] as Side);
      const order = round % 2 === 0 ? rotated.reverse() : rotated;
      for (const side of order) {
        const result = await run(side, n);
        await check(side, result, n);
        const rate = n / result.seconds;
        rates[side].push(rate);
        log(`  ${LABEL[side]} round ${round}: ${n} in ${(result.seconds * 1000).toFixed(0)} ms → ${Math.round(rate).toLocaleString('en-US')}/s`);
      }
    }
    const h = median(rates.herald);
    const r = median(rates.reference);
    const p = median(rates.presigned);
    const metric = `notifications/s @${n}, ${concurrency} in flight (median of ${rounds})`;
    return [
      {
        bench: 'webpush',
        metric,
        herald: h,
        reference: r,
        referenceName: 'web-push loop',
        unit: 'notif/s',
        ratio: h / r,
        target: `≥ ${WEBPUSH_TARGET_RATIO}× web-push loop`,
        pass: h / r >= WEBPUSH_TARGET_RATIO,
        note: 'aes128gcm per notification; web-push signs VAPID per notification, Herald once per origin; push service in a child process answers 201',
      },
      {
        bench: 'webpush',
        metric: `${metric}, reference given a pre-signed VAPID header`,
        herald: h,
        reference: p,
        referenceName: 'web-push presigned',
        unit: 'notif/s',
        ratio: h / p,
        note: "the channel's own overhead: both sign VAPID once",
      },
    ];
  } finally {
    await channel.close();
    agent.destroy();
    child.disconnect();
    killChild();
    process.off('exit', killChild);
  }
}

const argValue = (args: string[], name: string): number | undefined => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : undefined;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--push-service') {
    void servePushService();
  } else {
    const quick = args.includes('--quick');
    const started = Date.now();
    const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
    runWebPush({
      notifications: argValue(args, '--n') ?? (quick ? 500 : 2_000),
      concurrency: argValue(args, '--concurrency') ?? 50,
      rounds: argValue(args, '--rounds') ?? (quick ? 3 : 5),
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
