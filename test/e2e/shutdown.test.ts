/**
 * stop() completes its steps before the process exits: with a request that never finishes
 * (a client still uploading) and a web push stuck at its push service, SIGTERM still closes
 * the stores — the SQLite write-ahead log is checkpointed away — and exits 0 within the grace
 * period plus the bounded closing steps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startPushService } from '../fakes/push-service.js';
import { testCertificate } from '../fakes/tls.js';
import { startChild, tempDataDir } from '../helpers/herald.js';

describe('graceful stop', () => {
  it('closes the stores and exits 0 though a request and a push are still in flight', async () => {
    const fake = await startPushService();
    const dataDir = tempDataDir();
    const h = await startChild({
      HERALD_DATA_DIR: dataDir,
      HERALD_SHUTDOWN_GRACE: '2',
      HERALD_LOG_LEVEL: 'info',
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
    });
    let stdout = '';
    h.child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const upload = net.connect(Number(new URL(h.url).port), '127.0.0.1');
    const connected = new Promise<void>((resolve) => upload.once('connect', () => resolve()));
    try {
      const sub = fake.subscription();
      const token = await h.token('stuck');
      assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token, body: sub })).status, 201);
      fake.answer(fake.idOf(sub.endpoint), [{ status: 201, delayMs: 15_000 }]);
      const admin = await h.token('ops', { admin: true });
      assert.equal((await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'stuck', uid: 'stuck' } })).status, 202);
      await connected;
      // A request whose body never arrives in full: it stays in flight until the grace period ends.
      upload.write(
        `POST /api/v1/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"msg":`,
      );
      const deadline = Date.now() + 10_000;
      while (fake.inFlight === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.ok(fake.inFlight > 0, 'the push is in flight');

      const started = Date.now();
      const exit = await h.kill('SIGTERM');
      const took = Date.now() - started;
      assert.equal(exit.code, 0, h.stderr());
      assert.ok(took < 2_000 + 8_000, `stopped in ${took} ms`);
      assert.match(stdout, /herald stopped/);
      // The stores were closed: the last connection's close checkpoints and removes the WAL.
      assert.equal(fs.existsSync(path.join(dataDir, 'herald.db-wal')), false, fs.readdirSync(dataDir).join(', '));
    } finally {
      upload.destroy();
      await h.kill('SIGKILL');
      await fake.close();
    }
  });
});
