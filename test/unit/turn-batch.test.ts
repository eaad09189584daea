/**
 * The Cassandra stores' batching of one turn's plain writes (src/store/cassandra/turn-batch.ts),
 * over a recording `send`: what goes in one batch, the cap, and a failed batch's callers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTurnBatch, TURN_BATCH_STATEMENTS } from '../../src/store/cassandra/turn-batch.js';

function recorder(fails: (batch: string[]) => boolean = () => false) {
  const batches: string[][] = [];
  const write = createTurnBatch<string>(async (statements) => {
    batches.push(statements);
    if (fails(statements)) throw new Error(`refused: ${statements.join(',')}`);
  });
  return { batches, write };
}

describe('turn batch', () => {
  it('sends the writes of one turn in one batch, and those of a later turn in another', async () => {
    const { batches, write } = recorder();
    await Promise.all([write(['a1', 'a2']), write(['b1']), write(['c1', 'c2', 'c3'])]);
    await write(['d1']);
    assert.deepEqual(batches, [['a1', 'a2', 'b1', 'c1', 'c2', 'c3'], ['d1']]);
  });

  it('takes writes submitted in the microtasks of the turn', async () => {
    const { batches, write } = recorder();
    const later = Promise.resolve().then(() => Promise.resolve().then(() => write(['late'])));
    await Promise.all([write(['first']), later]);
    assert.deepEqual(batches, [['first', 'late']]);
  });

  it('never splits a submission, and keeps each batch within the cap unless one submission is larger', async () => {
    const { batches, write } = recorder();
    const submission = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${name}${i}`);
    await Promise.all([write(submission('a', 6)), write(submission('b', 6)), write(submission('c', TURN_BATCH_STATEMENTS + 2)), write(submission('d', 1))]);
    assert.deepEqual(
      batches.map((b) => b.length),
      [6, 6, TURN_BATCH_STATEMENTS + 2, 1],
    );
    for (const name of ['a', 'b', 'c', 'd']) assert.equal(batches.filter((b) => b.some((s) => s.startsWith(name))).length, 1, `${name} in one batch`);
  });

  it('sends a failed batch again one submission at a time, each settling on its own outcome', async () => {
    const { batches, write } = recorder((batch) => batch.includes('bad'));
    const results = await Promise.allSettled([write(['ok1']), write(['bad']), write(['ok2'])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(batches, [['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
  });

  it('resolves an empty submission at once, sending nothing', async () => {
    const { batches, write } = recorder();
    await write([]);
    assert.deepEqual(batches, []);
  });
});
