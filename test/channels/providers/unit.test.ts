/**
 * The provider side every channel shares: the urgency queue, the provider gate (order, adaptive
 * concurrency, Retry-After pause, circuit breaker) and failover across an ordered provider list.
 * Requests are real promises the test settles; pauses and cool-downs run on the real clock with
 * short durations, and what is asserted is order and what was (not) called, never a duration.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFailover } from '../../../channels/failover.js';
import type { DeliveryResult } from '../../../channels/port.js';
import { createProviderGate, ProviderDeferredError, ProviderGateClosedError } from '../../../channels/provider-gate.js';
import { createProviderGates } from '../../../channels/provider-gates.js';
import { createUrgencyQueue } from '../../../channels/urgency-queue.js';
import type { Urgency } from '../../../src/exchange/types.js';

const sent: DeliveryResult = { type: 'sent' };
const throttled = (afterMs: number): DeliveryResult => ({ type: 'retry', afterMs, reason: 'http-429', cause: 'throttled' });
const down: DeliveryResult = { type: 'retry', afterMs: 1000, reason: 'http-503', cause: 'unavailable' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request the test answers when it likes; records when it started. */
function manual() {
  const started: string[] = [];
  const answers = new Map<string, (r: DeliveryResult) => void>();
  const request = (name: string) => () =>
    new Promise<DeliveryResult>((resolve) => {
      started.push(name);
      answers.set(name, resolve);
    });
  const answer = async (name: string, result: DeliveryResult = sent) => {
    const resolve = answers.get(name);
    assert.ok(resolve, `${name} was never started (started: ${started.join(', ')})`);
    resolve(result);
    await sleep(0);
  };
  return { started, request, answer };
}

describe('urgency queue', () => {
  test('highest urgency first, FIFO within one', () => {
    const q = createUrgencyQueue<string>();
    q.push('low', 'l1');
    q.push('very-low', 'v1');
    q.push('high', 'h1');
    q.push('low', 'l2');
    q.push('normal', 'n1');
    q.push('high', 'h2');
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => q.take()),
      ['h1', 'h2', 'n1', 'l1', 'l2', 'v1'],
    );
    assert.equal(q.take(), undefined);
  });

  test('under a steady high load, every tenth grant goes to the oldest lower waiter', () => {
    const q = createUrgencyQueue<string>(10);
    q.push('very-low', 'v1');
    q.push('low', 'l1');
    for (let i = 0; i < 30; i++) q.push('high', `h${i}`);
    const order = Array.from({ length: 32 }, () => q.take());
    assert.equal(order[9], 'v1', 'the 10th grant is the oldest lower waiter (very-low came first)');
    assert.equal(order[19], 'l1');
    assert.deepEqual(
      order.filter((v) => v?.startsWith('h')),
      Array.from({ length: 30 }, (_, i) => `h${i}`),
    );
    assert.deepEqual(q.depths(), { 'very-low': 0, low: 0, normal: 0, high: 0 });
  });
});

describe('provider gate', () => {
  test('at most `concurrency` in flight; a queued high request starts before queued lower ones', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 2 });
    const m = manual();
    const results = [
      gate.send('low', m.request('l1')),
      gate.send('low', m.request('l2')),
      gate.send('low', m.request('l3')),
      gate.send('very-low', m.request('v1')),
      gate.send('high', m.request('h1')),
    ];
    await sleep(0);
    assert.deepEqual(m.started, ['l1', 'l2']);
    assert.deepEqual(gate.status().queued, { 'very-low': 1, low: 1, normal: 0, high: 1 });
    await m.answer('l1');
    assert.deepEqual(m.started, ['l1', 'l2', 'h1']);
    await m.answer('l2');
    await m.answer('h1');
    await m.answer('l3');
    await m.answer('v1');
    assert.deepEqual(m.started, ['l1', 'l2', 'h1', 'l3', 'v1']);
    assert.deepEqual(await Promise.all(results), [sent, sent, sent, sent, sent]);
  });

  test('a throttled answer pauses the provider until its Retry-After; nothing is sent before', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 4, holdMs: 1_000 });
    const calls: number[] = [];
    let first = true;
    const request = async (): Promise<DeliveryResult> => {
      calls.push(Date.now());
      if (first) {
        first = false;
        return throttled(150);
      }
      return sent;
    };
    const one = await gate.send('normal', request);
    assert.equal(one.type, 'retry');
    const pausedUntil = gate.status().pausedUntil;
    assert.ok(pausedUntil !== undefined && pausedUntil >= (calls[0] as number) + 150);
    assert.equal(gate.available(), false);
    const rest = await Promise.all([gate.send('high', request), gate.send('low', request)]);
    assert.deepEqual(rest, [sent, sent]);
    for (const at of calls.slice(1)) assert.ok(at >= pausedUntil, `a request went out ${pausedUntil - at} ms before the Retry-After`);
    assert.equal(gate.status().pausedUntil, undefined);
  });

  test('the limit halves once per burst of throttling and grows back by successes', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 8 });
    const m = manual();
    const pending = Array.from({ length: 8 }, (_, i) => gate.send('normal', m.request(`r${i}`)));
    await sleep(0);
    assert.equal(gate.status().active, 8);
    // The whole in-flight window answers 429 (Retry-After 0): one halving, not eight.
    for (let i = 0; i < 8; i++) await m.answer(`r${i}`, throttled(0));
    await Promise.all(pending);
    assert.equal(gate.status().limit, 4);
    for (let i = 0; i < 40; i++) await gate.send('normal', async () => sent);
    assert.equal(gate.status().limit, 8, 'additive increase back to the configured concurrency, never above');
  });

  test('failures in a row open the circuit; a probe after the cool-down closes it or opens it again', async () => {
    const changes: string[] = [];
    const gate = createProviderGate({ provider: 'p', concurrency: 1, failureThreshold: 3, openMs: 80, holdMs: 1_000, onCircuit: (_p, s) => changes.push(s) });
    let answer: DeliveryResult = down;
    let calls = 0;
    const request = async (): Promise<DeliveryResult> => {
      calls++;
      return answer;
    };
    for (let i = 0; i < 3; i++) assert.deepEqual(await gate.send('normal', request), down);
    assert.equal(gate.status().circuit, 'open');
    assert.equal(gate.available(), false);

    // While open, a request waits (it neither fails nor reaches the provider)...
    const waiting = gate.send('high', request);
    await sleep(20);
    assert.equal(calls, 3, 'nothing is sent while the circuit is open');
    // ...until the probe: it fails, so the circuit opens again (for twice as long).
    assert.deepEqual(await waiting, down);
    assert.equal(calls, 4);
    assert.equal(gate.status().circuit, 'open');

    answer = sent;
    const after = await Promise.all([gate.send('normal', request), gate.send('low', request)]);
    assert.deepEqual(after, [sent, sent]);
    assert.equal(gate.status().circuit, 'closed');
    assert.deepEqual(changes, ['open', 'half-open', 'open', 'half-open', 'closed']);
  });

  test('requests that fail together (one dead connection) count as one failure', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 10, failureThreshold: 3, openMs: 60_000 });
    const m = manual();
    const burst = Array.from({ length: 10 }, (_, i) => gate.send('normal', m.request(`r${i}`)));
    await sleep(0);
    for (let i = 0; i < 10; i++) await m.answer(`r${i}`, down);
    await Promise.all(burst);
    assert.equal(gate.status().circuit, 'closed', 'ten streams of one failure are one failure');
    // Failures of requests sent after it count again: two more in a row open the circuit.
    await gate.send('normal', async () => down);
    assert.equal(gate.status().circuit, 'closed');
    await gate.send('normal', async () => down);
    assert.equal(gate.status().circuit, 'open');
    gate.close();
  });

  test('only one probe is in flight while half-open', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 4, failureThreshold: 1, openMs: 30, holdMs: 1_000 });
    await gate.send('normal', async () => down);
    const m = manual();
    const all = [gate.send('normal', m.request('a')), gate.send('normal', m.request('b')), gate.send('normal', m.request('c'))];
    await sleep(60);
    assert.deepEqual(m.started, ['a'], 'one probe');
    assert.equal(gate.status().circuit, 'half-open');
    await m.answer('a');
    assert.deepEqual(m.started, ['a', 'b', 'c'], 'the circuit closed: the rest go');
    await m.answer('b');
    await m.answer('c');
    await Promise.all(all);
  });

  test('a request that throws counts as unavailable and passes its error on', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 1, failureThreshold: 1, openMs: 10_000 });
    await assert.rejects(
      gate.send('normal', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(gate.status().circuit, 'open');
    gate.close();
  });

  test('by default a paused gate or an open circuit defers requests instead of holding them', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 2, failureThreshold: 1, openMs: 30_000 });
    let calls = 0;
    const request = async (): Promise<DeliveryResult> => {
      calls++;
      return sent;
    };
    const throttledAt = Date.now();
    await gate.send('normal', async () => throttled(20_000));
    const deferred = await gate.send('high', request);
    assert.equal(deferred.type, 'deferred');
    assert.ok(deferred.type === 'deferred' && deferred.reason === 'provider-paused' && deferred.untilMs >= throttledAt + 20_000, JSON.stringify(deferred));
    assert.equal(calls, 0, 'a deferred request is not sent');
    await assert.rejects(
      gate.run('low', request, () => ({ type: 'ok' })),
      (err: unknown) => err instanceof ProviderDeferredError && err.reason === 'provider-paused',
    );

    const failing = createProviderGate({ provider: 'q', concurrency: 2, failureThreshold: 1, openMs: 30_000 });
    await failing.send('normal', async () => down);
    const open = await failing.send('normal', request);
    assert.ok(open.type === 'deferred' && open.reason === 'circuit-open', JSON.stringify(open));
    assert.equal(calls, 0);
    assert.deepEqual(failing.status().queued, { 'very-low': 0, low: 0, normal: 0, high: 0 }, 'nothing held in memory');
  });

  test('close() rejects what waits and refuses new requests', async () => {
    const gate = createProviderGate({ provider: 'p', concurrency: 1 });
    const m = manual();
    const running = gate.send('normal', m.request('a'));
    const waiting = gate.send('normal', m.request('b'));
    await sleep(0);
    gate.close();
    await assert.rejects(waiting, ProviderGateClosedError);
    await assert.rejects(
      gate.send('high', async () => sent),
      ProviderGateClosedError,
    );
    await m.answer('a');
    assert.deepEqual(await running, sent, 'what was in flight finishes');
  });

  test('gates made per provider are forgotten once idle', async () => {
    const gates = createProviderGates({ concurrency: 2 });
    await gates.of('https://a.example').send('normal', async () => sent);
    await gates.of('https://b.example').send('normal', async () => throttled(60_000));
    assert.deepEqual(
      gates.statuses().map((s) => s.provider),
      ['https://b.example'],
      'a idle and forgotten; b paused, so kept',
    );
    gates.close();
  });
});

describe('failover', () => {
  const providerPair = (threshold = 2) => {
    const calls: string[] = [];
    const answers: Record<string, DeliveryResult> = { a: sent, b: sent };
    const failover = createFailover(
      ['a', 'b'].map((name) => ({ client: name, gate: createProviderGate({ provider: name, concurrency: 2, failureThreshold: threshold, openMs: 60_000 }) })),
    );
    const send = (urgency: Urgency = 'normal') =>
      failover.send(urgency, async (client) => {
        calls.push(client);
        return answers[client] as DeliveryResult;
      });
    return { calls, answers, failover, send };
  };

  test('the first provider sends while it works; the receipt names it', async () => {
    const { calls, send } = providerPair();
    assert.deepEqual(await send(), { type: 'sent', provider: 'a' });
    assert.deepEqual(calls, ['a']);
  });

  test('a retryable failure moves the delivery to the next provider; an open circuit is skipped', async () => {
    const { calls, answers, send, failover } = providerPair(2);
    answers.a = down;
    assert.deepEqual(await send(), { type: 'sent', provider: 'b' });
    assert.deepEqual(await send(), { type: 'sent', provider: 'b' });
    assert.deepEqual(calls, ['a', 'b', 'a', 'b']);
    assert.equal(failover.statuses()[0]?.circuit, 'open');
    calls.length = 0;
    assert.deepEqual(await send('high'), { type: 'sent', provider: 'b' });
    assert.deepEqual(calls, ['b'], 'a is not tried while its circuit is open');
    failover.close();
  });

  test('a delivery its first provider defers goes to the next one', async () => {
    const a = createProviderGate({ provider: 'a', concurrency: 1, holdMs: 0 });
    const b = createProviderGate({ provider: 'b', concurrency: 1 });
    const failover = createFailover([
      { client: 'a', gate: a },
      { client: 'b', gate: b },
    ]);
    // a is paused (a 429 with a long Retry-After) but b is not: b sends.
    await a.send('normal', async () => throttled(60_000));
    assert.deepEqual(await failover.send('normal', async (client) => ({ type: 'sent', providerId: client })), { type: 'sent', providerId: 'b', provider: 'b' });
    // Both paused: the answer is the deferral.
    await b.send('normal', async () => throttled(60_000));
    const both = await failover.send('normal', async () => sent);
    assert.equal(both.type, 'deferred');
    failover.close();
  });

  test('a refusal is not failed over; when every provider fails the last answer is returned', async () => {
    const { calls, answers, send, failover } = providerPair(10);
    answers.a = { type: 'failed', reason: 'smtp-550' };
    assert.deepEqual(await send(), { type: 'failed', reason: 'smtp-550' });
    assert.deepEqual(calls, ['a']);
    answers.a = down;
    answers.b = { ...down, reason: 'b-503' };
    assert.deepEqual(await send(), { ...down, reason: 'b-503' });
    failover.close();
  });
});
