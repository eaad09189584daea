/**
 * Herald as a cluster of OS processes over the real servers: 2 API, 2 gateway and 2 worker
 * processes on NATS JetStream, Cassandra, Elasticsearch and Redis (npm run test:integration).
 * NATS is a server of this test's own, so it can be restarted mid-run. Web push goes to a
 * loopback push service (test/fakes/push-service.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { connect } from 'nats';
import webpush from 'web-push';
import { durableName, streamNameOf } from '../../src/bus/nats/naming.js';
import { subjects } from '../../src/bus/port.js';
import { CLUSTER_CLOCK_SKEW_MS } from '../../src/pipeline/recent-recalls.js';
import { inboxBucket } from '../../src/store/cassandra/schema.js';
import { type PushServiceFake, pushServiceClientEnv, startPushService } from '../fakes/push-service.js';
import { eventually, startChild, TEST_SECRET, TestSocket } from '../helpers/herald.js';
import { type OwnNatsServer, startOwnNats } from '../helpers/nats-server.js';
import { servicesEnv } from '../helpers/services.js';

type Process = Awaited<ReturnType<typeof startChild>>;

const run = randomUUID().slice(0, 8);
const services = servicesEnv();
const vapid = webpush.generateVAPIDKeys();

describe('cluster', () => {
  let nats: OwnNatsServer;
  let push: PushServiceFake;
  let env: Record<string, string>;
  const processes: Process[] = [];
  let apiA: Process;
  let apiB: Process;
  let gatewayA: Process;
  let gatewayB: Process;
  let workers: Process[];
  /** By when every worker listened for recalls. */
  let workersListening: number;

  const start = async (roles: string) => {
    const p = await startChild({ ...env, HERALD_ROLES: roles });
    processes.push(p);
    return p;
  };

  before(async () => {
    [nats, push] = await Promise.all([startOwnNats(), startPushService()]);
    env = {
      ...pushServiceClientEnv(),
      HERALD_NATS_URL: nats.url,
      HERALD_REDIS_URL: services.redisUrl,
      HERALD_CASSANDRA_CONTACT_POINTS: services.cassandraContactPoints,
      HERALD_CASSANDRA_KEYSPACE: `herald_cluster_${run}`,
      HERALD_ELASTICSEARCH_URL: services.elasticsearchUrl,
      HERALD_ELASTICSEARCH_INDEX_PREFIX: `herald-cluster-${run}`,
      HERALD_ELASTICSEARCH_REPLICAS: '0',
      HERALD_CLUSTER_NAME: `c${run}`,
      HERALD_JWT_SECRET: TEST_SECRET,
      HERALD_TICKET_SECRET: `ticket-secret-of-the-cluster-test-${run}`,
      HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
      HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
    };
    execFileSync(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts'), 'migrate'], { env: { ...process.env, ...env }, stdio: 'pipe' });
    [apiA, apiB, gatewayA, gatewayB, ...workers] = await Promise.all([
      start('api'),
      start('api'),
      start('gateway'),
      start('gateway'),
      start('triage,deliver'),
      start('triage,deliver'),
    ]);
    workersListening = Date.now();
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await Promise.all([nats.stop(), push.close()]);
  });

  const admin = () => (apiA as Process).token('ops', { admin: true });

  /** A socket on `gateway` with a ticket from `api`: tickets are valid on every gateway. */
  const socketOn = async (gateway: Process, api: Process, uid: string) => {
    const ticket = await api.api('POST', '/api/v1/ws/token', { token: await api.token(uid) });
    assert.equal(ticket.status, 200);
    return TestSocket.open(`${gateway.url.replace('http', 'ws')}/ws?token=${ticket.body.token}`);
  };

  it('delivers a message sent through API A to a socket on gateway B', async () => {
    const socket = await socketOn(gatewayB, apiB, `cross-${run}`);
    const sent = await apiA.api('POST', '/api/v1/send', { token: await admin(), body: { msg: 'across processes', uid: `cross-${run}` } });
    assert.equal(sent.status, 202);
    const frame = await socket.next((f) => f.id === sent.body.id, 20_000);
    assert.equal(frame.msg, 'across processes');
    socket.close();
  });

  it('accepts a ticket once across the cluster: reused on the other gateway it is 401', async () => {
    const ticket = await apiA.api('POST', '/api/v1/ws/token', { token: await apiA.token(`once-${run}`) });
    const url = (gateway: Process) => `${gateway.url.replace('http', 'ws')}/ws?token=${ticket.body.token}`;
    const first = await TestSocket.open(url(gatewayA));
    await assert.rejects(TestSocket.open(url(gatewayB)), (error: { status?: number }) => error.status === 401);
    await assert.rejects(TestSocket.open(url(gatewayA)), (error: { status?: number }) => error.status === 401);
    first.close();
  });

  it('broadcasts to 1,000 sockets over both gateways, exactly once each', async () => {
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 1000; i += 50) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, j) => socketOn(i + j < 500 ? gatewayA : gatewayB, (i + j) % 2 ? apiA : apiB, `bc-${run}-${i + j}`)),
        )),
      );
    }
    const sent = await apiB.api('POST', '/api/v1/broadcast', { token: await admin(), body: { msg: 'to every socket' } });
    assert.equal(sent.status, 202);
    const got = (socket: TestSocket) => socket.messages().some((f) => f.id === sent.body.id);
    await Promise.all(sockets.map((socket) => socket.until(() => got(socket) || socket.closed !== undefined, 60_000, 'the broadcast frame')));
    // No socket may drop: a burst of async upgrades once closed about 1 in 1,000 right after open
    // (uWS's cork() after an in-place upgrade; see src/gateway/gateway.ts).
    assert.deepEqual(
      sockets.flatMap((socket, i) => (socket.closed ? [`#${i} closed ${JSON.stringify(socket.closed)}`] : [])),
      [],
    );
    await eventually(
      async () => (await apiA.api('GET', `/api/v1/messages/${sent.body.id}`, { token: await admin() })).body.status === 'triaged',
      60_000,
      'broadcast triaged',
    );
    // A late duplicate would arrive through the same gateway before a frame sent after it.
    const marker = await apiA.api('POST', '/api/v1/send', { token: await admin(), body: { msg: 'marker', uid: `bc-${run}-999` } });
    await sockets[999]?.next((f) => f.id === marker.body.id, 20_000);
    const counts = sockets.map((s) => s.messages().filter((f) => f.id === sent.body.id).length);
    assert.deepEqual(
      counts.filter((c) => c !== 1),
      [],
    );
    for (const socket of sockets) socket.close();
  });

  it('sends a thread message to its members across both gateways, once each, and to their inboxes; not to others', async () => {
    const thread = `club-${run}`;
    const members = [`th-${run}-a`, `th-${run}-b`];
    for (const uid of members) assert.equal((await apiA.api('PUT', `/api/v1/threads/${thread}/members/${uid}`, { token: await admin() })).status, 201);
    const [onA, onB, outsider] = await Promise.all([
      socketOn(gatewayA, apiA, members[0] as string),
      socketOn(gatewayB, apiB, members[1] as string),
      socketOn(gatewayB, apiA, `th-${run}-outsider`),
    ]);
    const sent = await apiB.api('POST', '/api/v1/multicast', { token: await admin(), body: { msg: 'members only', thread } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    for (const socket of [onA, onB]) await socket?.next((f) => f.id === sent.body.id, 20_000);
    // A frame sent after it through the same gateway: a late copy would have come before it.
    const marker = await apiA.api('POST', '/api/v1/broadcast', { token: await admin(), body: { msg: 'marker' } });
    for (const socket of [onA, onB, outsider]) await socket?.next((f) => f.id === marker.body.id, 20_000);
    assert.deepEqual(
      [onA, onB, outsider].map((s) => s?.messages().filter((f) => f.id === sent.body.id).length),
      [1, 1, 0],
    );
    for (const uid of members) {
      const inbox = await apiA.api('GET', '/api/v1/messages?limit=5', { token: await apiA.token(uid) });
      assert.ok(
        inbox.body.messages.some((m: { id: string }) => m.id === sent.body.id),
        uid,
      );
    }
    for (const socket of [onA, onB, outsider]) socket?.close();
  });

  it('never frames a message recalled while its triage event waited, though the event carries the message', async () => {
    // The workers trust the copy their event carries only for messages created once they have
    // listened for recalls longer than the clock allowance (src/pipeline/recent-recalls.ts).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, workersListening + CLUSTER_CLOCK_SKEW_MS + 100 - Date.now())));
    const uid = `recalled-${run}`;
    const socket = await socketOn(gatewayA, apiA, uid);
    const token = await admin();
    // Stopped workers cannot take the event before the recall: it waits on the bus, or in a stopped worker's socket.
    for (const worker of workers) worker.child.kill('SIGSTOP');
    let sent: { body: { id: string } };
    try {
      sent = await apiA.api('POST', '/api/v1/send', { token, body: { msg: 'taken back', uid } });
      assert.equal((await apiB.api('DELETE', `/api/v1/messages/${sent.body.id}`, { token })).status, 204);
    } finally {
      for (const worker of workers) worker.child.kill('SIGCONT');
    }
    // A later message reaches the socket: the recalled one had its chance by then.
    const later = await apiA.api('POST', '/api/v1/send', { token, body: { msg: 'after the recall', uid } });
    await socket.next((f) => f.id === later.body.id, 20_000);
    // Its recall frame (the sweep's) may come; the message frame may not.
    assert.ok(!socket.frames.some((f) => f.type === 'message' && f.id === sent.body.id), 'the recalled message never reached the socket');
    socket.close();
  });

  it('frames a message once when a re-created triage consumer replays its event from the stream', async () => {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, workersListening + CLUSTER_CLOCK_SKEW_MS + 100 - Date.now())));
    const uid = `replayed-${run}`;
    const socket = await socketOn(gatewayB, apiA, uid);
    const token = await admin();
    const sent = await apiA.api('POST', '/api/v1/send', { token, body: { msg: 'framed once', uid } });
    await socket.next((f) => f.type === 'message' && f.id === sent.body.id, 20_000);

    // Deleted (an operator, a lost consumer): a worker makes it again from the start of the
    // stream, which still holds the event — with the message it carries, at attempt 1.
    const connection = await connect({ servers: nats.url });
    try {
      const jsm = await connection.jetstreamManager();
      const subject = subjects.accepted('normal');
      const [stream, durable] = [streamNameOf(`c${run}`.toUpperCase(), subject), durableName('triage', subject)];
      const before = await jsm.consumers.info(stream, durable);
      await jsm.consumers.delete(stream, durable);
      await eventually(
        async () => {
          const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
          return (
            info !== undefined &&
            info.created !== before.created &&
            info.delivered.stream_seq >= before.delivered.stream_seq &&
            info.num_pending === 0 &&
            info.num_ack_pending === 0
          );
        },
        30_000,
        'the re-created consumer has handed out and settled every retained event',
      );
    } finally {
      await connection.close();
    }
    const later = await apiA.api('POST', '/api/v1/send', { token, body: { msg: 'after the replay', uid } });
    await socket.next((f) => f.id === later.body.id, 20_000);
    assert.equal(socket.frames.filter((f) => f.type === 'message' && f.id === sent.body.id).length, 1, 'the replayed event was not triaged again');
    socket.close();
  });

  it('loses and duplicates nothing when a worker is killed mid-burst of 10,000 messages', async () => {
    const token = await admin();
    const uids = Array.from({ length: 100 }, (_, i) => `burst-${run}-${i}`);
    const accepted = new Map<string, string>();
    let next = 0;
    let killed = false;
    const sender = async (api: Process) => {
      while (next < 10_000) {
        const n = next++;
        const uid = uids[n % uids.length] as string;
        const res = await api.api('POST', '/api/v1/send', { token, body: { msg: `burst ${n}`, uid } });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        accepted.set(res.body.id, uid);
        if (!killed && accepted.size >= 3_000) {
          killed = true;
          await workers[0]?.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 24 }, (_, i) => sender(i % 2 ? apiA : apiB)));
    assert.ok(killed);
    assert.equal(accepted.size, 10_000);

    for (const uid of uids) {
      const expected = [...accepted].filter(([, u]) => u === uid).map(([id]) => id);
      const userToken = await apiA.token(uid);
      await eventually(
        async () => {
          const ids: string[] = [];
          let cursor: string | null = null;
          do {
            const res: any = await apiA.api('GET', `/api/v1/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token: userToken });
            ids.push(...res.body.messages.map((m: { id: string }) => m.id));
            cursor = res.body.next;
          } while (cursor);
          assert.equal(new Set(ids).size, ids.length, `no duplicate in ${uid}'s inbox`);
          return ids.length === expected.length && expected.every((id) => ids.includes(id));
        },
        120_000,
        `every accepted message in ${uid}'s inbox, once`,
      );
    }
  });

  it('broadcasts to 1,000,000 users with one write: a sample of inboxes lists it, every device holder is pushed once', async () => {
    const USERS = 1_000_000;
    const client = new cassandra.Client({
      contactPoints: services.cassandraContactPoints.split(','),
      localDataCenter: 'datacenter1',
      protocolOptions: { maxVersion: 4 },
      keyspace: env.HERALD_CASSANDRA_KEYSPACE as string,
      socketOptions: { readTimeout: 60_000 },
    });
    await client.connect();
    try {
      // Users with nothing but their inbox, written straight into the users table.
      const at = Date.now() - 1_000;
      for (let first = 0; first < USERS; first += 50_000) {
        const rows = Array.from({ length: Math.min(50_000, USERS - first) }, (_, i) => [`many-${run}-${first + i}`, '{}', at, at]);
        await cassandra.concurrent.executeConcurrent(client, 'INSERT INTO users (uid, attributes, created_at, updated_at) VALUES (?, ?, ?, ?)', rows, {
          concurrencyLevel: 256,
          raiseOnFirstError: true,
        });
      }
      // And a few with a browser, spread among them by their tokens (far past the first page of the walk).
      const holders = Array.from({ length: 10 }, (_, i) => `holder-${run}-${i}`);
      const endpoints = new Map<string, string>();
      for (const uid of holders) {
        const subscription = push.subscription();
        const res = await apiB.api('POST', '/api/v1/native/subscribe', { token: await apiB.token(uid), body: subscription });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        endpoints.set(uid, push.idOf(subscription.endpoint));
      }

      const sent = await apiA.api('POST', '/api/v1/broadcast', { token: await admin(), body: { msg: 'to a million' } });
      assert.equal(sent.status, 202);
      const id = sent.body.id as string;
      const sample = Array.from({ length: 20 }, (_, i) => `many-${run}-${Math.floor((i * USERS) / 20) + 7}`);
      await Promise.all(
        sample.map(async (uid) => {
          const token = await apiB.token(uid);
          await eventually(
            async () => (await apiB.api('GET', '/api/v1/messages?limit=1', { token })).body.messages?.[0]?.id === id,
            10_000,
            `the broadcast in ${uid}'s inbox`,
          );
        }),
      );
      // Listed from the everyone-timeline: no inbox row of it was written for them.
      for (const uid of sample) {
        const rows = await client.execute('SELECT message_id FROM inbox WHERE uid = ? AND bucket = ?', [uid, inboxBucket(id)], { prepare: true });
        assert.deepEqual(
          rows.rows.map((row) => row.get('message_id')),
          [],
          uid,
        );
      }
      // The expansion visits the users who hold a device, however far down the walk they are.
      for (const uid of holders) {
        const record = await eventually(
          async () => push.recordsFor(endpoints.get(uid) as string).find((r) => r.payload?.id === id),
          180_000,
          `the broadcast's push to ${uid}`,
        );
        assert.equal(record.status, 201);
      }
      await eventually(async () => (await apiA.api('GET', `/api/v1/messages/${id}`, { token: await admin() })).body.status === 'triaged', 180_000, 'triaged');
      for (const uid of holders) {
        assert.equal(push.recordsFor(endpoints.get(uid) as string).filter((r) => r.payload?.id === id).length, 1, `${uid} pushed once`);
      }
    } finally {
      await client.shutdown();
    }
  });

  it('recovers from a NATS restart without losing accepted messages', async () => {
    const token = await admin();
    const uid = `nats-restart-${run}`;
    const socket = await socketOn(gatewayA, apiA, uid);
    const accepted: string[] = [];
    let refused = 0;
    /** One attempt: true when accepted; a refusal must be a 503 with Retry-After, never a 5xx that hides a loss. */
    const send = async (n: number) => {
      const res = await apiA.api('POST', '/api/v1/send', { token, body: { msg: `around the restart ${n}`, uid } });
      if (res.status === 202) {
        accepted.push(res.body.id);
        return true;
      }
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.ok(res.headers.get('retry-after'));
      refused++;
      return false;
    };
    for (let n = 0; n < 50; n++) assert.ok(await send(n));
    await nats.kill('SIGKILL');
    for (let n = 50; n < 53; n++) assert.equal(await send(n), false, 'nothing is accepted while the bus is down');
    await nats.start();
    // Like a client honouring Retry-After: each message is retried until accepted.
    const acceptedBefore = accepted.length;
    for (let n = 60; n < 110; n++) await eventually(() => send(n), 60_000, `send ${n} after the restart`);
    assert.equal(accepted.length, 100, `accepted ${accepted.length}, refused ${refused}`);
    // Realtime works again: what was accepted after the restart reaches the socket that stayed open.
    const acceptedAfter = accepted.slice(acceptedBefore);
    await socket.until(
      () => acceptedAfter.every((id) => socket.frames.some((f) => f.id === id)),
      60_000,
      `frames of the ${acceptedAfter.length} messages accepted after the restart (missing ${acceptedAfter.filter((id) => !socket.frames.some((f) => f.id === id)).length} when this began)`,
    );
    const userToken = await apiA.token(uid);
    await eventually(
      async () => {
        const res = await apiA.api('GET', '/api/v1/messages?limit=200', { token: userToken });
        const ids = new Set(res.body.messages.map((m: { id: string }) => m.id));
        return accepted.every((id) => ids.has(id));
      },
      90_000,
      'every accepted message in the inbox after the restart',
    );
    // The gateway resubscribed: a message sent now still reaches the live socket.
    const after = await apiB.api('POST', '/api/v1/send', { token, body: { msg: 'after the restart', uid } });
    await socket.next((f) => f.id === after.body.id, 30_000);
    socket.close();
  });
});
