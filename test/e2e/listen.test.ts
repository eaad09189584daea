/**
 * Listening on a port sockets of a killed process still hold (src/listen.ts): a port another
 * process listens on still fails at once, and the kernel's tables tell a listener from lingering
 * connections. The restart itself — Herald killed with connections open, started again on the
 * same port, waiting out their TIME_WAIT instead of exiting 2 — is test/browser/sdk.test.ts's
 * kill -9 test (a browser's connections are what leave them).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { portHolders } from '../../src/listen.js';
import { startChild } from '../helpers/herald.js';
import { freePort } from '../helpers/nats-server.js';

describe('listening after a crash', () => {
  it('still refuses at once a port another process listens on', { timeout: 60_000 }, async () => {
    const port = String(await freePort());
    const first = await startChild({ HERALD_PORT: port });
    try {
      assert.equal(portHolders(Number(port)), 'listener');
      await assert.rejects(startChild({ HERALD_PORT: port }), /cannot listen on .*the port is in use/);
    } finally {
      await first.kill('SIGTERM');
    }
  });

  it('reads who holds a port from the kernel’s tables', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tcp-'));
    const table = (rows: string[]) => {
      const file = path.join(dir, `tcp-${rows.length}-${Math.random()}`);
      const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
      fs.writeFileSync(file, [header, ...rows.map((r, i) => `   ${i}: ${r} 00000000:00000000 00:00000000 00000000     0        0 1`)].join('\n'));
      return file;
    };
    // 0x1F90 = 8080; states: 0A LISTEN, 05 FIN_WAIT2, 06 TIME_WAIT, 01 ESTABLISHED.
    assert.equal(portHolders(8080, [table(['0100007F:1F90 0100007F:9C40 05'])]), 'lingering');
    assert.equal(portHolders(8080, [table(['0100007F:1F90 0100007F:9C40 06', '00000000:1F90 00000000:0000 0A'])]), 'listener');
    assert.equal(portHolders(8080, [table(['0100007F:1F91 0100007F:9C40 05'])]), 'none');
    assert.equal(portHolders(8080, [path.join(dir, 'missing')]), 'none');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
