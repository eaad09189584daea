/**
 * The Bus contract (src/bus/port.ts), as a node:test suite every Bus adapter must pass unchanged.
 * It speaks only through the port. Waits are event-driven with a safety timeout that fails the
 * test; the only fixed pauses are "quiet periods" after which the absence of an event (a
 * redelivery, a duplicate, an extra concurrent handler) is asserted. No assertion measures time.
 *
 * `open()` gives a fresh, connected bus per test; `cleanup()` must tolerate a bus the test has
 * already closed. Subjects and groups are unique per test, so adapters with durable state
 * (JetStream streams, consumers) may share it between tests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Bus, WorkMessage } from '../../src/bus/port.js';
import { BusUnavailableError, subjects } from '../../src/bus/port.js';

export interface BusUnderTest {
  bus: Bus;
  cleanup(): Promise<void>;
}

const SAFETY_MS = 5_000;
/** Long enough for a wrongly scheduled redelivery (backoff 1 ms) or extra handler to show up. */
const QUIET_MS = 150;
/** Longer than the clock allowance the NATS bus is given in its tests (clockSkewMs in test/integration/nats.test.ts). */
const FRESH_AFTER_MS = 1_200;

const subject = (): string => `test.${randomUUID()}`;
const group = (): string => `g${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const fast = { backoff: () => 1 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails with `label` unless `promise` settles within the safety timeout. */
async function within<T>(promise: Promise<T>, label: string, ms = SAFETY_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `timed out waiting for ${label}` })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records events and lets a test wait for a condition on them. */
class Recorder<T> {
  readonly items: T[] = [];
  private waiters: Array<{ test: (items: T[]) => boolean; resolve: () => void }> = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(this.items)) return true;
      w.resolve();
      return false;
    });
  }

  until(test: (items: T[]) => boolean, label: string): Promise<void> {
    if (test(this.items)) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.waiters.push({ test, resolve })), label);
  }

  count(n: number, label: string): Promise<void> {
    return this.until((items) => items.length >= n, `${label} (${n} events, have ${this.items.length})`);
  }
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function busContract(name: string, open: () => Promise<BusUnderTest>): void {
  describe(`Bus contract: ${name}`, { timeout: 30_000 }, () => {
    let env: BusUnderTest;
    let bus: Bus;
    let gates: Gate[] = [];

    /** A barrier handlers wait on; every gate is opened before cleanup so close() can finish. */
    const gate = (): Gate => {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => {
        open = resolve;
      });
      const g = { promise, open };
      gates.push(g);
      return g;
    };

    beforeEach(async () => {
      env = await open();
      bus = env.bus;
      gates = [];
    });

    afterEach(async () => {
      for (const g of gates) g.open();
      await env.cleanup();
    });

    describe('work', () => {
      it('keeps work published before any consumer and delivers it once one starts', async () => {
        const s = subject();
        await bus.publish(s, { n: 1 });
        await bus.publish(s, { n: 2 });
        await bus.publish(s, { n: 3 });
        const got = new Recorder<WorkMessage<{ n: number }>>();
        bus.consume<{ n: number }>(s, group(), async (m) => got.push(m));
        await got.count(3, 'backlog delivered');
        assert.deepEqual(got.items.map((m) => m.data.n).sort(), [1, 2, 3]);
        for (const m of got.items) {
          assert.equal(m.subject, s);
          assert.equal(m.attempt, 1);
        }
      });

      it('carries JSON payloads unchanged', async () => {
        const s = subject();
        const payload = { id: randomUUID(), nested: { list: [1, 'two', null, true], empty: {} }, text: 'é ✓ "q"' };
        const got = new Recorder<unknown>();
        bus.consume(s, group(), async (m) => got.push(m.data));
        await bus.publish(s, payload);
        await got.count(1, 'payload');
        assert.deepEqual(got.items[0], payload);
      });

      it('gives each message to exactly one member of a group, and the members share the work', async () => {
        const s = subject();
        const g = group();
        const hold = gate();
        const seenA = new Recorder<number>();
        const seenB = new Recorder<number>();
        const all = new Recorder<number>();
        // Member A takes one message and holds it; the rest of the work must still flow to B.
        bus.consume<{ n: number }>(s, g, async (m) => {
          seenA.push(m.data.n);
          all.push(m.data.n);
          await hold.promise;
        });
        bus.consume<{ n: number }>(s, g, async (m) => {
          seenB.push(m.data.n);
          all.push(m.data.n);
        });
        for (let n = 0; n < 8; n++) await bus.publish(s, { n });
        await all.count(8, 'all messages handled by the group');
        await sleep(QUIET_MS);
        hold.open();
        await sleep(QUIET_MS);
        assert.equal(all.items.length, 8, `duplicates within one group: ${all.items.join(',')}`);
        assert.deepEqual(
          [...all.items].sort((a, b) => a - b),
          [0, 1, 2, 3, 4, 5, 6, 7],
        );
        assert.ok(seenB.items.length >= 7, 'member B handled the work A could not take');
      });

      it('gives every group every message', async () => {
        const s = subject();
        const one = new Recorder<number>();
        const two = new Recorder<number>();
        bus.consume<{ n: number }>(s, group(), async (m) => one.push(m.data.n));
        bus.consume<{ n: number }>(s, group(), async (m) => two.push(m.data.n));
        for (let n = 0; n < 5; n++) await bus.publish(s, { n });
        await one.count(5, 'group one');
        await two.count(5, 'group two');
        assert.deepEqual([...one.items].sort(), [0, 1, 2, 3, 4]);
        assert.deepEqual([...two.items].sort(), [0, 1, 2, 3, 4]);
      });

      it('acknowledges a message whose handler resolves: no redelivery', async () => {
        const s = subject();
        const got = new Recorder<number>();
        bus.consume(s, group(), async (m) => got.push(m.attempt), { ...fast, maxDeliver: 3 });
        await bus.publish(s, { id: randomUUID() });
        await got.count(1, 'first delivery');
        await sleep(QUIET_MS);
        assert.deepEqual(got.items, [1]);
      });

      it('redelivers a message whose handler throws, with the attempt counted', async () => {
        const s = subject();
        const id = randomUUID();
        const got = new Recorder<WorkMessage<{ id: string }>>();
        bus.consume<{ id: string }>(
          s,
          group(),
          async (m) => {
            got.push(m);
            if (m.attempt < 3) throw new Error(`fail attempt ${m.attempt}`);
          },
          { ...fast, maxDeliver: 5 },
        );
        await bus.publish(s, { id });
        await got.count(3, 'three attempts');
        await sleep(QUIET_MS);
        assert.deepEqual(
          got.items.map((m) => m.attempt),
          [1, 2, 3],
        );
        for (const m of got.items) assert.deepEqual(m.data, { id });
      });

      it('marks fresh only the first delivery of work published while the group consumed', async () => {
        const s = subject();
        const got = new Recorder<WorkMessage<{ n: number }>>();
        bus.consume<{ n: number }>(
          s,
          group(),
          async (m) => {
            got.push(m);
            if (m.data.n === 2 && m.attempt === 1) throw new Error('fail the first attempt');
          },
          fast,
        );
        // The consumer exists once it handed work out; an adapter may allow its servers' clocks a second.
        await bus.publish(s, { n: 1 });
        await got.count(1, 'the first message');
        await sleep(FRESH_AFTER_MS);
        await bus.publish(s, { n: 2 });
        await got.count(3, 'the second message and its redelivery');
        assert.deepEqual(
          got.items.slice(1).map((m) => [m.attempt, m.fresh]),
          [
            [1, true],
            [2, false],
          ],
        );
      });

      it('dead-letters a message to herald.dead.<subject> after maxDeliver attempts', async () => {
        const s = subject();
        const id = randomUUID();
        const attempts = new Recorder<number>();
        bus.consume<{ id: string }>(
          s,
          group(),
          async (m) => {
            attempts.push(m.attempt);
            throw new Error('always fails');
          },
          { ...fast, maxDeliver: 2 },
        );
        await bus.publish(s, { id });
        await attempts.count(2, 'both attempts');
        // Consumed only now: a dead letter waits for its consumer like any work.
        const dead = new Recorder<WorkMessage<{ id: string }>>();
        bus.consume<{ id: string }>(subjects.dead(s), group(), async (m) => dead.push(m));
        await dead.count(1, 'dead letter');
        assert.equal(dead.items[0]?.subject, subjects.dead(s));
        assert.deepEqual(dead.items[0]?.data, { id });
        await sleep(QUIET_MS);
        assert.deepEqual(attempts.items, [1, 2], 'no attempt after maxDeliver');
        assert.equal(dead.items.length, 1);
      });

      it('never runs more handlers of a consumer at once than its concurrency, and uses it', async () => {
        const s = subject();
        const release = gate();
        let active = 0;
        let maxActive = 0;
        const started = new Recorder<number>();
        const done = new Recorder<number>();
        bus.consume<{ n: number }>(
          s,
          group(),
          async (m) => {
            active++;
            maxActive = Math.max(maxActive, active);
            started.push(m.data.n);
            await release.promise;
            active--;
            done.push(m.data.n);
          },
          { concurrency: 3 },
        );
        for (let n = 0; n < 9; n++) await bus.publish(s, { n });
        await started.count(3, 'three handlers running');
        await sleep(QUIET_MS);
        assert.equal(started.items.length, 3, 'a fourth handler started while three were running');
        release.open();
        await done.count(9, 'all handled');
        assert.equal(maxActive, 3);
      });

      it('keeps subjects independent: a blocked consumer of one never delays another', async () => {
        const slow = subject();
        const quick = subject();
        const hold = gate();
        const slowSeen = new Recorder<number>();
        const quickSeen = new Recorder<number>();
        bus.consume<{ n: number }>(slow, group(), async (m) => {
          slowSeen.push(m.data.n);
          await hold.promise;
        });
        bus.consume<{ n: number }>(quick, group(), async (m) => quickSeen.push(m.data.n));
        for (let n = 0; n < 20; n++) await bus.publish(slow, { n });
        await slowSeen.count(1, 'slow consumer blocked');
        await bus.publish(quick, { n: 100 });
        await quickSeen.count(1, 'quick subject delivered despite the backlog');
        assert.deepEqual(quickSeen.items, [100]);
        hold.open();
        await slowSeen.count(20, 'slow backlog drained after release');
      });

      it("keeps a group's work while it has no member, for the next member", async () => {
        const s = subject();
        const g = group();
        const first = new Recorder<number>();
        const sub = bus.consume<{ n: number }>(s, g, async (m) => first.push(m.data.n));
        await bus.publish(s, { n: 1 });
        await first.count(1, 'first member');
        sub.unsubscribe();
        await bus.publish(s, { n: 2 });
        await sleep(QUIET_MS);
        assert.deepEqual(first.items, [1], 'an unsubscribed consumer got work');
        const second = new Recorder<number>();
        bus.consume<{ n: number }>(s, g, async (m) => second.push(m.data.n));
        await second.count(1, 'work kept for the group');
        assert.deepEqual(second.items, [2]);
      });
    });

    describe('signals', () => {
      it('fans a signal out to every subscriber; a throwing subscriber affects no other', async () => {
        const s = subject();
        const a = new Recorder<unknown>();
        const b = new Recorder<unknown>();
        const c = new Recorder<unknown>();
        bus.subscribe(s, (d) => {
          a.push(d);
          throw new Error('subscriber a fails');
        });
        bus.subscribe(s, (d) => b.push(d));
        bus.subscribe(s, (d) => c.push(d));
        bus.emit(s, { k: 1 });
        bus.emit(s, { k: 2 });
        await b.count(2, 'subscriber b');
        await c.count(2, 'subscriber c');
        await a.count(2, 'subscriber a (keeps receiving after throwing)');
        assert.deepEqual(b.items, [{ k: 1 }, { k: 2 }]);
        assert.deepEqual(c.items, [{ k: 1 }, { k: 2 }]);
      });

      it('stops delivering to a subscriber once it unsubscribes', async () => {
        const s = subject();
        const gone = new Recorder<unknown>();
        const stays = new Recorder<unknown>();
        const sub = bus.subscribe(s, (d) => gone.push(d));
        bus.subscribe(s, (d) => stays.push(d));
        bus.emit(s, 'x');
        await gone.count(1, 'first signal');
        await stays.count(1, 'first signal');
        sub.unsubscribe();
        bus.emit(s, 'y');
        await stays.count(2, 'second signal');
        await sleep(QUIET_MS);
        assert.deepEqual(gone.items, ['x']);
        assert.deepEqual(stays.items, ['x', 'y']);
      });

      it('drops a signal nobody subscribes to and only reaches subscribers of the exact subject', async () => {
        const s = subject();
        bus.emit(s, 'before');
        const got = new Recorder<unknown>();
        const other = new Recorder<unknown>();
        bus.subscribe(s, (d) => got.push(d));
        bus.subscribe(`${s}.child`, (d) => other.push(d));
        bus.emit(s, 'after');
        await got.count(1, 'signal after subscribe');
        await sleep(QUIET_MS);
        assert.deepEqual(got.items, ['after']);
        assert.deepEqual(other.items, []);
      });

      it('does not let signals leak into work or work into signals', async () => {
        const s = subject();
        const work = new Recorder<unknown>();
        const sig = new Recorder<unknown>();
        bus.consume(s, group(), async (m) => work.push(m.data));
        bus.subscribe(s, (d) => sig.push(d));
        bus.emit(s, 'signal');
        await bus.publish(s, 'work');
        await work.count(1, 'work');
        await sig.count(1, 'signal');
        await sleep(QUIET_MS);
        assert.deepEqual(work.items, ['work']);
        assert.deepEqual(sig.items, ['signal']);
      });
    });

    describe('lifecycle', () => {
      it('is healthy while open, and close() waits for in-flight handlers', async () => {
        assert.equal(await bus.healthy(), true);
        const s = subject();
        const hold = gate();
        const started = new Recorder<number>();
        const log: string[] = [];
        bus.consume(s, group(), async () => {
          started.push(1);
          await hold.promise;
          await sleep(5);
          log.push('handler finished');
        });
        await bus.publish(s, {});
        await started.count(1, 'handler running');
        const closing = bus.close().then(() => log.push('close resolved'));
        await sleep(QUIET_MS);
        assert.deepEqual(log, [], 'close() resolved while a handler was still running');
        hold.open();
        await within(closing, 'close() after the handler finished');
        assert.deepEqual(log, ['handler finished', 'close resolved']);
      });

      it('after close: unhealthy, and publish rejects with BusUnavailableError', async () => {
        await bus.close();
        assert.equal(await bus.healthy(), false);
        await assert.rejects(bus.publish(subject(), {}), BusUnavailableError);
      });
    });
  });
}
