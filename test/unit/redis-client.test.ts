/**
 * The Redis adapters name their server without its credentials: a failure of the ticket ledger
 * or of presence against a Redis URL with a password (a port where nothing listens, on
 * 127.0.0.1) says the host and port, never the password (their errors reach logs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisPresence } from '../../src/presence/redis/presence.js';
import { redisHost } from '../../src/redis-client.js';
import { createRedisTicketLedger } from '../../src/ticket-ledger/redis/ledger.js';
import { closedPort } from '../helpers/closed-port.js';

describe('Redis clients', () => {
  it('redisHost keeps the host and port of a URL, never its credentials', () => {
    assert.equal(redisHost('redis://user:hunter2@cache.internal:6380/2'), 'cache.internal:6380');
    assert.equal(redisHost('not a url hunter2'), '(unparsable URL)');
  });

  it('a failing ticket ledger and presence name the server, not the password', async () => {
    const port = await closedPort();
    const url = `redis://:hunter2@127.0.0.1:${port}`;
    const ledger = createRedisTicketLedger({ url, commandTimeoutMs: 300 });
    const presence = createRedisPresence({ url, commandTimeoutMs: 300 });
    try {
      const failures = await Promise.all([
        ledger.claim('jti-1', Date.now() + 60_000).then(
          () => assert.fail('claimed without Redis'),
          (error: unknown) => error as Error,
        ),
        presence.onlineAmong(['u1']).then(
          () => assert.fail('answered without Redis'),
          (error: unknown) => error as Error,
        ),
      ]);
      for (const failure of failures) {
        assert.match(failure.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(failure.message, /hunter2/);
      }
    } finally {
      await Promise.all([ledger.close(), presence.close()]);
    }
  });
});
