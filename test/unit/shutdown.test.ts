/** Shutdown steps (src/shutdown.ts): a failing or stuck step is logged and the next one still runs. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observability/log.js';
import { shutdownStep } from '../../src/shutdown.js';

function capture() {
  const lines: any[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('info', destination), lines };
}

describe('shutdown steps', () => {
  it('a step that throws or hangs is logged, and the steps after it run', async () => {
    const { log, lines } = capture();
    const ran: string[] = [];
    const started = Date.now();
    await shutdownStep(log, 'throws', () => {
      throw new Error('boom');
    });
    await shutdownStep(log, 'rejects', () => Promise.reject(new Error('no')));
    await shutdownStep(log, 'hangs', () => new Promise(() => {}), 100);
    await shutdownStep(log, 'stores', async () => {
      ran.push('stores');
    });
    assert.deepEqual(ran, ['stores']);
    assert.ok(Date.now() - started < 2_000, 'the stuck step was bounded by its timeout');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      lines.filter((l) => l.step).map((l) => [l.step, l.msg]),
      [
        ['throws', 'shutdown step failed; going on'],
        ['rejects', 'shutdown step failed; going on'],
        ['hangs', 'shutdown step did not finish in time; going on'],
      ],
    );
  });
});
