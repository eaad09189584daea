/**
 * Runs the Bus contract against the NATS JetStream bus and the Presence contract against the
 * Redis presence, on the real servers (HERALD_NATS_URL / HERALD_REDIS_URL, defaults
 * nats://127.0.0.1:4222 and redis://127.0.0.1:6379). An unreachable server fails every test with
 * a message naming it; nothing is skipped. Each test gets its own stream prefix (its streams are
 * deleted afterwards) or key prefix (its keys are deleted afterwards).
 *
 * Then what only the distributed adapters promise: a clear BusUnavailableError when NATS is not
 * there, transparent reconnection, redelivery to another process when a consumer's process dies
 * mid-handler, exactly-once sharing of work between two processes' buses when nothing fails,
 * queue depths from JetStream, and long handlers keeping their message with in-progress acks.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { createNatsBus, type NatsBus, type NatsBusOptions } from '../../src/bus/nats/bus.js';
import { durableName, streamNameOf } from '../../src/bus/nats/naming.js';
import { BusUnavailableError, subjects } from '../../src/bus/port.js';
import { createRedisPresence } from '../../src/presence/redis/presence.js';
import { busContract } from '../contract/bus.contract.js';
import { presenceContract } from '../contract/presence.contract.js';
import { servicesEnv, waitForPort } from '../helpers/services.js';

const env = servicesEnv();
const SAFETY_MS = 10_000;
const QUIET_MS = 300;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails the calling test with a message naming the server, once per file, if it is not there. */
const reachable = new Map<string, Promise<void>>();
function requireServer(name: 'nats' | 'redis'): Promise<void> {
  let p = reachable.get(name);
  if (!p) {
    const { host, port } = env.endpoints[name];
    const variable = name === 'nats' ? 'HERALD_NATS_URL' : 'HERALD_REDIS_URL';
    p = waitForPort(host, port, 3_000).catch((err: unknown) => {
      throw new Error(`${name} is required by this test and is not reachable at ${host}:${port} (${variable}): ${(err as Error).message}`);
    });
    reachable.set(name, p);
  }
  return p;
}

let adminConnection: Promise<NatsConnection> | undefined;
const admin = (): Promise<NatsConnection> => {
  adminConnection ??= connect({ servers: env.natsUrl, name: 'herald-test-admin' });
  return adminConnection;
};

async function deleteStreams(prefix: string): Promise<void> {
  const jsm = await (await admin()).jetstreamManager();
  for (const family of ['ACCEPTED', 'DELIVER', 'DEAD', 'WORK']) {
    await jsm.streams.delete(`${prefix}_${family}`).catch(() => false);
  }
}

const newPrefix = (): string => `T${randomUUID().replaceAll('-', '').slice(0, 10)}`;

/** Buses opened by a test and their streams, closed and deleted after it. */
const opened: Array<{ bus: NatsBus; prefix: string }> = [];
async function openBus(extra: Partial<NatsBusOptions> = {}, prefix = newPrefix()): Promise<NatsBus> {
  await requireServer('nats');
  // A second of clock allowance (the default is 5): work published a second after its consumer is fresh.
  const bus = await createNatsBus({ servers: env.natsUrl, streamPrefix: prefix, name: 'herald-test', clockSkewMs: 1_000, ...extra });
  opened.push({ bus, prefix });
  return bus;
}
async function closeOpened(): Promise<void> {
  const prefixes = new Set<string>();
  for (const { bus, prefix } of opened.splice(0)) {
    await bus.close();
    prefixes.add(prefix);
  }
  for (const prefix of prefixes) await deleteStreams(prefix);
}

after(async () => {
  if (adminConnection) await (await adminConnection).close();
});

busContract('nats', async () => {
  const bus = await openBus();
  return { bus, cleanup: closeOpened };
});

presenceContract('redis', async () => {
  await requireServer('redis');
  const prefix = `test:presence:${randomUUID()}`;
  const presence = createRedisPresence({ url: env.redisUrl, prefix });
  return {
    presence,
    async cleanup() {
      await presence.close();
      const redis = new Redis(env.redisUrl);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
  };
});

/** Resolves when `test()` holds, checking on every `poke()` and on a short tick; fails after the safety timeout. */
async function until(test: () => boolean | Promise<boolean>, label: string, ms = SAFETY_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new assert.AssertionError({ message: `timed out waiting for ${label}` });
    await sleep(20);
  }
}

/** A TCP relay to NATS that the test can cut (as if the server went away) and restore. */
async function natsRelay(): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const upstream = env.endpoints.nats;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const remote = net.connect(upstream.port, upstream.host);
    for (const s of [client, remote]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        remote.destroy();
      });
    }
    client.pipe(remote);
    remote.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    cut: stop,
    restore: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}

describe('NATS bus specifics', { timeout: 60_000 }, () => {
  afterEach(closeOpened);

  it('rejects with BusUnavailableError, cause attached, naming the server without its credentials, when NATS is not reachable', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    await assert.rejects(createNatsBus({ servers: `nats://herald:hunter2@127.0.0.1:${closedPort}`, connectTimeoutMs: 1_000 }), (err: unknown) => {
      assert.ok(err instanceof BusUnavailableError, `got ${String(err)}`);
      assert.ok(err.cause !== undefined, 'the NATS error is kept as cause');
      assert.match(err.message, new RegExp(`at 127\\.0\\.0\\.1:${closedPort}`), 'names the server');
      assert.doesNotMatch(err.message, /hunter2|herald:/, 'never its credentials');
      return true;
    });
  });

  it('rejects publish with BusUnavailableError while NATS is away, and reconnects by itself', async () => {
    await requireServer('nats');
    const relay = await natsRelay();
    try {
      const bus = await openBus({ servers: relay.url, publishTimeoutMs: 500 });
      const s = `test.${randomUUID()}`;
      const got: string[] = [];
      bus.consume<string>(s, 'g', async (m) => {
        got.push(m.data);
      });
      await bus.publish(s, 'before');
      await until(() => got.includes('before'), 'work before the cut');

      await relay.cut();
      await until(async () => !(await bus.healthy()), 'healthy() to turn false');
      await assert.rejects(bus.publish(s, 'during'), (err: unknown) => {
        assert.ok(err instanceof BusUnavailableError, `got ${String(err)}`);
        assert.ok(err.cause !== undefined);
        return true;
      });

      await relay.restore();
      await until(() => bus.healthy(), 'healthy() after reconnecting');
      await bus.publish(s, 'after');
      await until(() => got.includes('after'), 'work after reconnecting');
    } finally {
      await closeOpened();
      await relay.close();
    }
  });

  it('redelivers to another process the message whose process died mid-handler', async () => {
    const prefix = newPrefix();
    const options = { ackWaitMs: 1_000 };
    const bus = await openBus(options, prefix);
    const s = `test.${randomUUID()}`;
    const id = randomUUID();
    await bus.publish(s, { id });

    const child = spawnMember(prefix, s, 'workers', options.ackWaitMs);
    try {
      const first = await child.nextLine();
      assert.deepEqual(JSON.parse(first), { data: { id }, attempt: 1 });

      const here: Array<{ data: unknown; attempt: number }> = [];
      bus.consume(s, 'workers', async (m) => {
        here.push({ data: m.data, attempt: m.attempt });
      });
      await sleep(QUIET_MS);
      assert.deepEqual(here, [], 'the message moved while its first process was still alive');

      child.process.kill('SIGKILL');
      await until(() => here.length >= 1, 'redelivery to the surviving process');
      assert.deepEqual(here, [{ data: { id }, attempt: 2 }]);
      await sleep(options.ackWaitMs + QUIET_MS);
      assert.equal(here.length, 1, 'acknowledged after the redelivery, not delivered again');
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('dead-letters, without running the handler again, a message whose process died on its last attempt', async () => {
    const prefix = newPrefix();
    const options = { ackWaitMs: 1_000 };
    const bus = await openBus(options, prefix);
    const s = `test.${randomUUID()}`;
    const id = randomUUID();
    await bus.publish(s, { id });
    const child = spawnMember(prefix, s, 'workers', options.ackWaitMs, 1);
    try {
      assert.deepEqual(JSON.parse(await child.nextLine()), { data: { id }, attempt: 1 });
      const handled: number[] = [];
      bus.consume(s, 'workers', async (m) => void handled.push(m.attempt), { maxDeliver: 1 });
      const dead: unknown[] = [];
      bus.consume(subjects.dead(s), 'ops', async (m) => void dead.push(m.data));
      child.process.kill('SIGKILL');
      await until(() => dead.length === 1, 'the dead letter');
      assert.deepEqual(dead, [{ id }]);
      assert.deepEqual(handled, [], 'the handler ran beyond maxDeliver');
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('shares 500 messages between two processes in one group, each handled exactly once', async () => {
    const prefix = newPrefix();
    const a = await openBus({}, prefix);
    const b = await openBus({}, prefix);
    const s = `herald.deliver.t${randomUUID().slice(0, 8)}`;
    const seen = new Map<number, number>();
    const byBus = { a: 0, b: 0 };
    const handler = (which: 'a' | 'b') => async (m: { data: { n: number } }) => {
      seen.set(m.data.n, (seen.get(m.data.n) ?? 0) + 1);
      byBus[which]++;
      await new Promise((resolve) => setImmediate(resolve));
    };
    a.consume(s, 'deliver', handler('a'), { concurrency: 8 });
    b.consume(s, 'deliver', handler('b'), { concurrency: 8 });
    const N = 500;
    for (let start = 0; start < N; start += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).publish(s, { n: start + i })));
    }
    await until(() => seen.size === N, `all ${N} handled (have ${seen.size})`);
    await sleep(QUIET_MS);
    const duplicates = [...seen].filter(([, count]) => count > 1);
    assert.deepEqual(duplicates, [], 'messages handled more than once');
    assert.equal(byBus.a + byBus.b, N);
    assert.ok(byBus.a > 0 && byBus.b > 0, `both processes took work (a ${byBus.a}, b ${byBus.b})`);
  });

  it('hands the work a re-created consumer replays as not fresh: it may have been handled already', async () => {
    const prefix = newPrefix();
    const bus = await openBus({}, prefix);
    const s = `test.${randomUUID()}`;
    const got: Array<{ n: number; attempt: number; fresh: boolean }> = [];
    bus.consume<{ n: number }>(s, 'replayed', async (m) => {
      got.push({ n: m.data.n, attempt: m.attempt, fresh: m.fresh });
    });
    // Published as the consumer is created: inside the clock allowance, so not fresh either.
    await bus.publish(s, { n: 1 });
    await until(() => got.length === 1, 'the first message');
    // Past the allowance for server clocks (src/bus/nats/member.ts), work published now is fresh.
    await sleep(1_200);
    await bus.publish(s, { n: 2 });
    await until(() => got.length === 2, 'the second message');

    // Deleted (an operator, a lost consumer): the member makes it again, from the stream's start.
    const jsm = await (await admin()).jetstreamManager();
    await jsm.consumers.delete(streamNameOf(prefix, s), durableName('replayed', s));
    await until(() => got.length === 4, 'the retained work, replayed');
    assert.deepEqual(got, [
      { n: 1, attempt: 1, fresh: false },
      { n: 2, attempt: 1, fresh: true },
      { n: 1, attempt: 1, fresh: false },
      { n: 2, attempt: 1, fresh: false },
    ]);
  });

  it('reports depths from JetStream: retained, pending and in-flight work, across processes', async () => {
    const prefix = newPrefix();
    const bus = await openBus({}, prefix);
    const observer = await openBus({}, prefix);
    const s = `herald.accepted.t${randomUUID().slice(0, 8)}`;
    for (let n = 0; n < 3; n++) await bus.publish(s, n);
    assert.equal((await observer.refreshDepths())[s], 3, 'retained before any consumer');
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    let done = 0;
    bus.consume(s, 'triage', async () => {
      started++;
      await held;
      done++;
    });
    try {
      await until(() => started === 1, 'one handler running');
      assert.equal((await observer.refreshDepths())[s], 3, 'one in flight + two pending');
    } finally {
      release();
    }
    await until(() => done === 3, 'all handled');
    await until(async () => (await observer.refreshDepths())[s] === 0, 'depth back to 0');
    assert.equal(observer.depths()[s], 0, 'depths() returns the last reading');
  });

  it('counts the open pull toward concurrency when a handler finishes before the pull is filled', async () => {
    const bus = await openBus();
    const s = `test.${randomUUID()}`;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let quickDone = 0;
    let active = 0;
    let maxActive = 0;
    let started = 0;
    bus.consume<string>(
      s,
      'g',
      async (m) => {
        if (m.data === 'quick') {
          quickDone++;
          return;
        }
        started++;
        active++;
        maxActive = Math.max(maxActive, active);
        await held;
        active--;
      },
      { concurrency: 4 },
    );
    try {
      // The first pull asks for 4; one quick message leaves it open with room for 3 while 4 slots are free.
      await bus.publish(s, 'quick');
      await until(() => quickDone === 1, 'the quick message');
      await sleep(QUIET_MS);
      for (let n = 0; n < 8; n++) await bus.publish(s, 'hold');
      await until(() => started >= 4, 'four handlers running');
      await sleep(QUIET_MS);
      assert.equal(maxActive, 4, 'more handlers ran at once than the concurrency');
    } finally {
      release(); // close() waits for handlers: never leave them held
    }
    await until(() => started === 8 && active === 0, 'the rest handled');
  });

  it('keeps a message with its handler past ackWait while the handler is still working', async () => {
    const bus = await openBus({ ackWaitMs: 1_000 });
    const s = `test.${randomUUID()}`;
    const attempts: number[] = [];
    let done = 0;
    // Concurrency 2 leaves a free slot, so a redelivery after ackWait would show up here.
    bus.consume(
      s,
      'g',
      async (m) => {
        attempts.push(m.attempt);
        await sleep(2_500);
        done++;
      },
      { concurrency: 2 },
    );
    await bus.publish(s, {});
    await until(() => done === 1, 'the long handler to finish');
    await sleep(QUIET_MS);
    assert.deepEqual(attempts, [1]);
  });
});

/** A consumer in another process: prints each message it gets, then hangs in its handler. */
function spawnMember(
  prefix: string,
  subject: string,
  group: string,
  ackWaitMs: number,
  maxDeliver = 5,
): { process: ChildProcess; nextLine(): Promise<string> } {
  const busModule = fileURLToPath(new URL('../../src/bus/nats/bus.ts', import.meta.url));
  const code = `
    const { createNatsBus } = await import(${JSON.stringify(busModule)});
    const bus = await createNatsBus({ servers: ${JSON.stringify(env.natsUrl)}, streamPrefix: ${JSON.stringify(prefix)}, ackWaitMs: ${ackWaitMs} });
    bus.consume(${JSON.stringify(subject)}, ${JSON.stringify(group)}, async (m) => {
      process.stdout.write(JSON.stringify({ data: m.data, attempt: m.attempt }) + '\\n');
      await new Promise(() => {});
    }, { maxDeliver: ${maxDeliver} });
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`member process exited (${code ?? signal}) before printing`)));
  });
  exited.catch(() => {});
  return {
    process: child,
    nextLine() {
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      const line = new Promise<string>((resolve) => waiters.push(resolve));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new assert.AssertionError({ message: 'timed out waiting for the member process' })), SAFETY_MS);
      });
      return Promise.race([line, exited, timeout]).finally(() => clearTimeout(timer));
    },
  };
}
