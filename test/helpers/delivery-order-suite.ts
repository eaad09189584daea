/**
 * Urgency all the way to the provider, asserted end to end on one bus: the real CLI (`herald
 * serve`) as a child process, loopback push services (one per test, so each test has an origin
 * and a gate of its own) answering each request after a fixed latency — a provider of known
 * capacity (HERALD_WEBPUSH_CONCURRENCY 2 in flight) — and two SMTP servers.
 *
 * test/e2e/delivery-order.test.ts runs it on the in-process bus (embedded),
 * test/integration/delivery-order.test.ts on NATS JetStream (with Cassandra, Elasticsearch, Redis).
 *
 * What it checks:
 *  - priority: a high push overtakes a very-low backlog of several delivery batches already
 *    flowing (with one FIFO per channel it would come after all of them), and the backlog still
 *    arrives whole;
 *  - no starvation: under a high backlog, queued very-low pushes still get their share;
 *  - a 429 + Retry-After pauses only that push service, nothing goes to it before the
 *    Retry-After, and nothing is lost;
 *  - failures in a row open the push service's circuit (/healthz, /metrics); the next request
 *    waits for the cool-down, goes out as the probe, and closes it;
 *  - failover: an email the first SMTP server refuses as unavailable (421) goes through the
 *    second, and its receipt names the server;
 *  - caps: past HERALD_CAP_PER_HOUR a normal message is not pushed (suppressed, cap) but listed
 *    in the user's next digest, and high still passes (on JetStream the count lives in Redis).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PushRecord, type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { type SmtpFake, startSmtpFake } from '../fakes/smtp.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild } from './herald.js';

type Child = Awaited<ReturnType<typeof startChild>>;

const CONCURRENCY = 2;
const LATENCY_MS = 15;

export function deliveryOrderSuite(bus: string, busEnv: () => Promise<Record<string, string>>, cleanUp: () => Promise<void> = async () => {}): void {
  describe(`urgency-ordered delivery (${bus})`, { timeout: 240_000 }, () => {
    let h: Child;
    let admin: string;
    let smtp: [SmtpFake, SmtpFake];
    const pushes: PushServiceFake[] = [];
    let run = 0;

    before(async () => {
      smtp = [await startSmtpFake(), await startSmtpFake()];
      h = await startChild({
        ...(await busEnv()),
        NODE_EXTRA_CA_CERTS: testCertificate().certFile,
        HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
        HERALD_WEBPUSH_CONCURRENCY: String(CONCURRENCY),
        HERALD_CIRCUIT_FAILURES: '3',
        HERALD_CIRCUIT_OPEN_MS: '1500',
        HERALD_SMTP_URL: `${smtp[0].url},${smtp[1].url}`,
        // Only the cap test's user gets more than two messages, and only it has low-urgency mail to digest.
        HERALD_CAP_PER_HOUR: '2',
        HERALD_DIGEST_INTERVAL: '2',
      });
      admin = await h.token('ops', { admin: true });
    });
    after(async () => {
      await h?.kill('SIGTERM');
      await Promise.all([...pushes.map((p) => p.close()), ...(smtp ?? []).map((s) => s.close())]);
      await cleanUp();
    });

    const pushService = async (): Promise<PushServiceFake> => {
      const push = await startPushService();
      push.latencyMs = LATENCY_MS;
      pushes.push(push);
      return push;
    };

    /** `count` users, each with one subscription on `push`; returns their uids and subscription ids. */
    const subscribers = async (push: PushServiceFake, name: string, count: number): Promise<Array<{ uid: string; subId: string }>> => {
      const prefix = `${name}-${++run}`;
      const users: Array<{ uid: string; subId: string }> = [];
      for (let start = 0; start < count; start += 50) {
        const part = await Promise.all(
          Array.from({ length: Math.min(50, count - start) }, async (_, i) => {
            const uid = `${prefix}-${start + i}`;
            const sub = push.subscription();
            const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: sub });
            assert.equal(res.status, 201, JSON.stringify(res.body));
            return { uid, subId: push.idOf(sub.endpoint) };
          }),
        );
        users.push(...part);
      }
      return users;
    };

    const multicast = async (uids: string[], msg: string, urgency: string): Promise<string> => {
      const res = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg, uids, opts: { urgency, channels: ['webpush'] } } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id;
    };

    const send = async (uid: string, msg: string, opts: Record<string, unknown>): Promise<string> => {
      const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid, opts } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id;
    };

    const ofMessage = (id: string) => (r: PushRecord) => r.payload?.id === id && r.status === 201;

    const receipts = async (id: string, channel: string): Promise<any[]> =>
      ((await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts ?? []).filter((r: any) => r.channel === channel);

    const providerOf = async (provider: string): Promise<any> => {
      const health = await h.api('GET', '/healthz');
      return (health.body.providers ?? []).find((p: any) => p.provider === provider);
    };

    it('starts a high push before the very-low backlog queued ahead of it, and still sends the whole backlog', async () => {
      const push = await pushService();
      // Five delivery batches of very-low work, about 3.5 s of this push service's capacity.
      const crowd = await subscribers(push, 'crowd', 500);
      const [vip] = await subscribers(push, 'vip', 1);
      const low = await multicast(
        crowd.map((u) => u.uid),
        'marketing blast',
        'very-low',
      );
      await push.waitFor(ofMessage(low), 30_000, 20);
      const high = await send(vip?.uid as string, 'incoming call', { urgency: 'high', channels: ['webpush'] });
      await push.waitFor(ofMessage(high), 30_000);
      await push.waitFor(ofMessage(low), 120_000, crowd.length);

      const order = push.records.filter((r) => ofMessage(low)(r) || ofMessage(high)(r)).map((r) => (r.payload.id === high ? 'H' : 'L'));
      const lowAfterHigh = order.length - 1 - order.indexOf('H');
      assert.ok(
        lowAfterHigh >= crowd.length / 2,
        `the high push went out after ${order.indexOf('H')} of ${crowd.length} very-low pushes accepted before it: it did not overtake the backlog`,
      );
      const lowIds = push.records.filter(ofMessage(low)).map((r) => r.id);
      assert.equal(new Set(lowIds).size, crowd.length, 'every very-low push arrived, once each');
    });

    it('keeps a share of the provider for very-low work while high work is queued', async () => {
      const push = await pushService();
      // Enough very-low work (four batches, about 3 s of capacity) to outlast the high backlog's triage.
      const quiet = await subscribers(push, 'quiet', 400);
      const loud = await subscribers(push, 'loud', 400);
      const low = await multicast(
        quiet.map((u) => u.uid),
        'newsletter',
        'very-low',
      );
      await push.waitFor(ofMessage(low), 30_000, 4);
      const high = await multicast(
        loud.map((u) => u.uid),
        'alert',
        'high',
      );
      await push.waitFor(ofMessage(high), 120_000, loud.length);
      await push.waitFor(ofMessage(low), 60_000, quiet.length);

      const highAt = push.records.filter(ofMessage(high)).map((r) => r.at);
      const tenthHigh = highAt[9] as number;
      const lastHigh = highAt[highAt.length - 1] as number;
      const lowAt = push.records.filter(ofMessage(low)).map((r) => r.at);
      assert.ok(
        lowAt.some((at) => at > lastHigh),
        'the very-low backlog must still be waiting when the high one has gone: the setup is too small to judge',
      );
      const lowWhileHighQueued = lowAt.filter((at) => at > tenthHigh && at < lastHigh).length;
      assert.ok(lowWhileHighQueued > 0, `very-low pushes were starved while ${highAt.length} high ones went out`);
    });

    it('pauses only the push service that answered 429 until its Retry-After, and loses nothing', async () => {
      const [busy, other] = [await pushService(), await pushService()];
      const [first, second] = await subscribers(busy, 'busy', 2);
      const [elsewhere] = await subscribers(other, 'elsewhere', 1);
      assert.ok(first && second && elsewhere);
      busy.answer(first.subId, [{ status: 429, retryAfter: 2 }]);

      const throttled = await send(first.uid, 'first', { urgency: 'high', channels: ['webpush'] });
      const [refused] = await busy.waitFor((r) => r.id === first.subId, 20_000);
      assert.equal(refused?.status, 429);
      const paused = await eventually(() => providerOf(busy.origin).then((p) => (p?.pausedUntil ? p : undefined)), 10_000, 'the pause in /healthz');
      assert.ok(Date.parse(paused.pausedUntil) >= (refused?.at ?? 0) + 2_000);

      const waiting = await send(second.uid, 'second', { urgency: 'high', channels: ['webpush'] });
      const unaffected = await send(elsewhere.uid, 'elsewhere', { urgency: 'normal', channels: ['webpush'] });
      await other.waitFor(ofMessage(unaffected), 20_000);
      assert.equal(busy.records.length, 1, 'nothing went to the paused push service meanwhile');

      const [later] = await busy.waitFor(ofMessage(waiting), 20_000);
      assert.ok((later?.at ?? 0) >= (refused?.at ?? 0) + 2_000, 'no request before the Retry-After');
      await busy.waitFor(ofMessage(throttled), 30_000);
      for (const id of [throttled, waiting, unaffected]) {
        await eventually(async () => ((await receipts(id, 'webpush'))[0]?.state === 'sent' ? true : undefined), 20_000, `${id} sent`);
      }
      assert.equal(busy.records.filter(ofMessage(throttled)).length, 1, 'the throttled push was sent once after its retry');
    });

    it('opens the circuit of a failing push service, probes it after the cool-down, and closes it', async () => {
      const failing = await pushService();
      const users = await subscribers(failing, 'failing', 4);
      const [a, b, c, d] = users;
      assert.ok(a && b && c && d);
      for (const u of [a, b, c]) failing.answer(u.subId, [{ status: 503, retryAfter: 1 }]);

      // One after the other: failures of requests in flight together count as one (one dead connection).
      const down: string[] = [];
      for (const [i, u] of [a, b, c].entries()) {
        down.push(await send(u.uid, 'during the outage', { channels: ['webpush'] }));
        await failing.waitFor((r) => r.status === 503, 20_000, i + 1);
      }
      const open = await eventually(() => providerOf(failing.origin).then((p) => (p?.circuit === 'open' ? p : undefined)), 5_000, 'circuit open in /healthz');
      assert.equal(open.channel, 'webpush');
      const metrics = await h.api('GET', '/metrics');
      assert.match(String(metrics.body), new RegExp(`herald_provider_circuit\\{channel="webpush",provider="${failing.origin}"\\} 2`));

      const probe = await send(d.uid, 'after the outage', { urgency: 'high', channels: ['webpush'] });
      await failing.waitFor(ofMessage(probe), 20_000);
      const statuses = failing.records.map((r) => r.status);
      assert.deepEqual(statuses.slice(0, 4), [503, 503, 503, 201], 'nothing was sent while the circuit was open; then one probe');
      const lastFailure = failing.records[2] as PushRecord;
      assert.ok((failing.records[3] as PushRecord).at >= lastFailure.at + 1_500, 'the probe waited for the cool-down');

      // The failed three were retried, not lost; the circuit is closed again (or forgotten as idle).
      for (const id of down) await failing.waitFor(ofMessage(id), 30_000);
      const after = await providerOf(failing.origin);
      assert.ok(after === undefined || after.circuit === 'closed', JSON.stringify(after));
    });

    it('fails an email over to the second SMTP server and names it in the receipt', async () => {
      const uid = `mailer-${++run}`;
      assert.equal((await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { email: `${uid}@example.test` } })).status < 300, true);
      const [primary, secondary] = smtp;
      const direct = await send(uid, 'via the first', { channels: ['email'] });
      await primary.waitForMessages(1, 20_000);
      const sentDirect = await eventually(async () => (await receipts(direct, 'email')).find((r) => r.state === 'sent'), 20_000, 'email sent');
      assert.equal(sentDirect.provider, 'smtp-1');

      primary.failNext(1, 421);
      const moved = await send(uid, 'via the second', { channels: ['email'] });
      const [mail] = await secondary.waitForMessages(1, 20_000);
      assert.equal(mail?.parsed.subject, 'via the second');
      const sentMoved = await eventually(async () => (await receipts(moved, 'email')).find((r) => r.state === 'sent'), 20_000, 'email sent');
      assert.equal(sentMoved.provider, 'smtp-2');
      assert.match(sentMoved.detail, /^via:smtp-2 /);
    });

    it('holds what exceeds the cap for the digest instead of pushing it; high always passes', async () => {
      const push = await pushService();
      const [user] = await subscribers(push, 'capped', 1);
      assert.ok(user);
      const address = `${user.uid}@example.test`;
      assert.ok((await h.api('PUT', `/api/v1/users/${user.uid}`, { token: admin, body: { email: address } })).status < 300);
      const pushed: string[] = [];
      for (const n of [1, 2]) {
        const id = await send(user.uid, `normal ${n}`, {});
        await push.waitFor(ofMessage(id), 20_000);
        pushed.push(id);
      }
      const capped = await send(user.uid, 'normal 3, over the cap', {});
      const held = await eventually(
        async () => (await receipts(capped, 'webpush')).find((r) => r.state === 'suppressed'),
        20_000,
        'the capped message suppressed',
      );
      assert.equal(held.reason, 'cap');
      const urgent = await send(user.uid, 'urgent, past the cap', { urgency: 'high' });
      await push.waitFor(ofMessage(urgent), 20_000);
      assert.equal(push.records.filter(ofMessage(capped)).length, 0, 'the capped message was never pushed');

      const digest = await eventually(
        async () => [...smtp[0].received, ...smtp[1].received].find((m) => m.envelope.to.includes(address)),
        30_000,
        'the digest email',
      );
      const text = digest.parsed.text ?? '';
      assert.ok(text.includes('normal 3, over the cap'), text);
      assert.ok(!text.includes('normal 1') && !text.includes('normal 2'), 'what was pushed is not digested');
    });
  });
}
