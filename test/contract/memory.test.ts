/**
 * Runs the Bus and Presence contracts against the in-process adapters, plus what only the
 * memory adapters promise: queue depths for metrics, dead letters kept without a consumer,
 * back-pressure at maxDepth, and presence expiry on an injected clock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createMemoryBus } from '../../src/bus/memory/bus.js';
import { BusUnavailableError, subjects } from '../../src/bus/port.js';
import { createMemoryPresence } from '../../src/presence/memory/presence.js';
import { busContract } from './bus.contract.js';
import { presenceContract } from './presence.contract.js';

busContract('memory', async () => {
  const bus = createMemoryBus();
  return { bus, cleanup: () => bus.close() };
});

presenceContract('memory', async () => {
  const presence = createMemoryPresence();
  return { presence, cleanup: () => presence.close() };
});

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('memory bus specifics', { timeout: 10_000 }, () => {
  it('reports the depth of each subject: queued, unclaimed and in-flight work', async () => {
    const bus = createMemoryBus();
    const s = `test.${randomUUID()}`;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await bus.publish(s, 1);
    await bus.publish(s, 2);
    assert.equal(bus.depths()[s], 2, 'unclaimed');
    let handled = 0;
    bus.consume(s, 'g', async () => {
      await held;
      handled++;
    });
    await settle();
    assert.equal(bus.depths()[s], 2, 'one in flight + one queued');
    release();
    while (handled < 2) await settle();
    await settle();
    assert.equal(bus.depths()[s], 0);
    await bus.close();
  });

  it('keeps and counts dead letters even when nobody consumes the dead subject', async () => {
    const bus = createMemoryBus();
    const s = `test.${randomUUID()}`;
    let attempts = 0;
    bus.consume(
      s,
      'g',
      async () => {
        attempts++;
        throw new Error('boom');
      },
      { maxDeliver: 3, backoff: () => 0 },
    );
    await bus.publish(s, { a: 1 });
    await bus.publish(s, { a: 2 });
    while ((bus.depths()[subjects.dead(s)] ?? 0) < 2) await settle();
    assert.equal(attempts, 6);
    assert.equal(bus.depths()[s], 0);
    assert.equal(bus.depths()[subjects.dead(s)], 2);
    await bus.close();
  });

  it('serves a high-urgency subject while a low-urgency backlog waits', async () => {
    const bus = createMemoryBus();
    const order: string[] = [];
    const low = `test.${randomUUID()}.low`;
    const high = `test.${randomUUID()}.high`;
    for (let i = 0; i < 1000; i++) await bus.publish(low, i);
    await bus.publish(high, 'urgent');
    let lowDone = 0;
    bus.consume(low, 'triage', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      lowDone++;
      order.push('low');
    });
    bus.consume(high, 'triage', async () => {
      order.push('high');
    });
    while (lowDone < 1000) await settle();
    assert.ok(order.indexOf('high') < 5, `high handled at position ${order.indexOf('high')}`);
    await bus.close();
  });

  it('rejects publish with BusUnavailableError once a subject holds maxDepth messages', async () => {
    const bus = createMemoryBus({ maxDepth: 3 });
    const s = `test.${randomUUID()}`;
    for (let i = 0; i < 3; i++) await bus.publish(s, i);
    await assert.rejects(bus.publish(s, 3), BusUnavailableError);
    await bus.publish(`${s}.other`, 0);
    await bus.close();
  });

  it('rejects a payload that is not JSON-serialisable', async () => {
    const bus = createMemoryBus();
    await assert.rejects(bus.publish('test.x', 10n), TypeError);
    await bus.close();
  });

  it('keeps an async signal subscriber rejection from escaping', async () => {
    const errors: unknown[] = [];
    const bus = createMemoryBus({ logger: { warn: () => {}, error: (o) => errors.push(o) } });
    const got: unknown[] = [];
    bus.subscribe('test.sig', async () => {
      throw new Error('async boom');
    });
    bus.subscribe('test.sig', (d) => got.push(d));
    bus.emit('test.sig', 1);
    await settle();
    assert.deepEqual(got, [1]);
    assert.equal(errors.length, 1);
    await bus.close();
  });
});

describe('memory presence specifics', () => {
  it('expires on the injected clock, to the millisecond', async () => {
    let t = 1_000;
    const presence = createMemoryPresence(() => t);
    await presence.touch('a', 'h', 100);
    t = 1_099;
    assert.deepEqual(await presence.onlineAmong(['a']), new Set(['a']));
    t = 1_100;
    assert.deepEqual(await presence.onlineAmong(['a']), new Set());
  });

  it('treats a non-positive TTL as leaving', async () => {
    const presence = createMemoryPresence(() => 0);
    await presence.touch('a', 'h', 1000);
    await presence.touch('a', 'h', 0);
    assert.deepEqual(await presence.onlineAmong(['a']), new Set());
  });
});
