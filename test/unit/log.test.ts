/** Secrets never reach the logs, even inside provider errors. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observability/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger('info', stream), text: () => lines.join('') };
}

describe('logger', () => {
  it('drops request details that providers attach to errors, keeping what explains the failure', () => {
    const { log, text } = capture();
    const error = Object.assign(new Error('connect ECONNREFUSED'), {
      code: 'ECONNREFUSED',
      config: { headers: { Authorization: 'Basic c2VjcmV0OnNlY3JldA==' } },
      request: { _header: 'POST / HTTP/1.1\r\nAuthorization: Basic c2VjcmV0OnNlY3JldA==' },
      cause: Object.assign(new Error('inner'), { options: { auth: 'sid:token-value' } }),
    });
    log.error({ err: error }, 'send failed');
    const out = text();
    assert.ok(!out.includes('c2VjcmV0'), 'basic credentials kept out');
    assert.ok(!out.includes('token-value'), 'nested credentials kept out');
    const line = JSON.parse(out);
    assert.equal(line.err.code, 'ECONNREFUSED');
    assert.equal(line.err.message, 'connect ECONNREFUSED');
    assert.equal(line.err.cause.message, 'inner');
  });

  it('redacts credential-looking fields', () => {
    const { log, text } = capture();
    log.info({ authorization: 'Bearer abc.def.ghi', user: { token: 'xyz' } }, 'request');
    assert.ok(!text().includes('abc.def.ghi') && !text().includes('xyz'));
  });
});
