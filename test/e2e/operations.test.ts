/** Operations: ping, health, metrics, OpenAPI, VAPID key, the CLI, backpressure and graceful shutdown. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { eventually, startChild, startInProcess, tempDataDir } from '../helpers/herald.js';

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string>) =>
  run(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts'), ...args], { env: { ...process.env, ...env } });

describe('operations', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess();
  });
  after(() => h.stop());

  it('answers ping, healthz and the OpenAPI document without a token', async () => {
    assert.equal((await h.api('GET', '/api/v1/ping')).status, 200);
    const health = await h.api('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.deepEqual(
      {
        store: health.body.checks.store,
        bus: health.body.checks.bus,
        realtime: health.body.checks['channel:realtime'],
        email: health.body.checks['channel:email'],
      },
      { store: 'ok', bus: 'ok', realtime: 'ok', email: 'ok' },
    );
    const doc = await h.api('GET', '/openapi.json');
    assert.equal(doc.body.openapi, '3.1.0');
    const send = doc.body.paths['/api/v1/send'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(send.required.sort(), ['msg', 'uid']);
    assert.ok(send.properties.opts.properties.urgency.enum.includes('very-low'));
  });

  it('exposes Prometheus metrics for requests, accepted messages, deliveries and sockets', async () => {
    const admin = await h.token('ops', { admin: true });
    const s = await h.socket('metrics-user');
    const sent = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'm', uid: 'metrics-user', opts: { urgency: 'high' } } });
    await s.next((f) => f.id === sent.body.id);
    const text = (await h.api('GET', '/metrics')).body as string;
    assert.match(text, /herald_http_requests_total\{method="POST",route="\/api\/v1\/send",status="202"\} \d+/);
    assert.match(text, /herald_messages_accepted_total\{urgency="high",target="user"\} 1/);
    assert.match(text, /herald_deliveries_total\{channel="realtime",result="sent"\} \d+/);
    assert.match(text, /herald_ws_connections 1/);
    assert.match(text, /herald_queue_depth/);
    s.close();
  });

  it('serves a stable VAPID public key', async () => {
    const key = await h.api('GET', '/api/v1/webpush/vapid-public-key');
    assert.match(key.body.key, /^[A-Za-z0-9_-]{87}$/);
    assert.equal((await h.api('GET', '/api/v1/webpush/vapid-public-key')).body.key, key.body.key);
  });

  it('closes a socket that stops reading once its buffer passes the limit, and keeps serving others', async () => {
    const small = await startInProcess({ HERALD_WS_MAX_BACKPRESSURE: '65536' });
    try {
      const admin = await small.token('ops', { admin: true });
      const slow = await small.socket('slow');
      const healthy = await small.socket('healthy');
      // Stop reading from the TCP socket: the kernel buffers fill, then the server's buffer does.
      (slow.ws as any)._socket.pause();
      const big = 'x'.repeat(4000);
      const liveSockets = async () => /herald_ws_connections (\d+)/.exec((await small.api('GET', '/metrics')).body as string)?.[1];
      // Loopback kernel buffers absorb a few MB first: keep sending until the server gives up on it.
      let closed = false;
      for (let round = 0; round < 50 && !closed; round++) {
        await Promise.all(Array.from({ length: 100 }, () => small.api('POST', '/api/v1/send', { token: admin, body: { msg: big, uid: 'slow' } })));
        closed = (await liveSockets()) === '1';
      }
      const metric = await eventually(
        async () => {
          const text = (await small.api('GET', '/metrics')).body as string;
          return /herald_ws_connections 1\b/.test(text) ? text : undefined;
        },
        20_000,
        'slow socket closed',
      );
      assert.match(metric, /herald_ws_connections 1/);
      const sent = await small.api('POST', '/api/v1/send', { token: admin, body: { msg: 'still here', uid: 'healthy' } });
      await healthy.next((f) => f.id === sent.body.id);
      healthy.close();
    } finally {
      await small.stop();
    }
  });
});

describe('command line', () => {
  it('mints tokens the server accepts, with the generated secret', async () => {
    const dataDir = tempDataDir();
    const env = { HERALD_DATA_DIR: dataDir, HERALD_JWT_SECRET: '' };
    const { stdout } = await cli(['token', '--sub', 'alice', '--admin', '--ttl', '2h'], env);
    const token = stdout.trim();
    const server = await startChild({ HERALD_DATA_DIR: dataDir, HERALD_JWT_SECRET: '' });
    try {
      const res = await server.api('POST', '/api/v1/broadcast', { token, body: { msg: 'cli' } });
      assert.equal(res.status, 202);
    } finally {
      await server.kill('SIGTERM');
    }
    const secrets = JSON.parse((await import('node:fs')).readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secrets.jwtSecret));
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.role, 'admin');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 7200);
  });

  it('prints help for every command and refuses bad configuration naming the variable', async () => {
    for (const command of ['serve', 'token', 'vapid-keys', 'migrate']) {
      const { stdout } = await cli([command, '--help'], {});
      assert.match(stdout, new RegExp(`Usage: herald ${command}`));
    }
    assert.match((await cli(['serve', '--help'], {})).stdout, /HERALD_SMTP_URL/);
    const failure = await cli(['serve'], { HERALD_PORT: 'eighty' }).catch((e) => e);
    assert.equal(failure.code, 2);
    assert.match(failure.stderr, /HERALD_PORT/);
    const keys = (await cli(['vapid-keys'], {})).stdout;
    assert.match(keys, /^HERALD_VAPID_PUBLIC_KEY=[\w-]{87}\nHERALD_VAPID_PRIVATE_KEY=[\w-]{43}\n$/);
    assert.match((await cli(['migrate'], { HERALD_DATA_DIR: tempDataDir() })).stdout, /up to date/);
  });

  it('refuses options and arguments a command does not take, naming them', async () => {
    for (const args of [
      ['serve', '--port', '9000'],
      ['serve', 'now'],
      ['migrate', '--force'],
      ['vapid-keys', '--json'],
    ]) {
      const failure = await cli(args, { HERALD_DATA_DIR: tempDataDir() }).catch((e) => e);
      assert.equal(failure.code, 2, `herald ${args.join(' ')} exits 2`);
      assert.match(failure.stderr, new RegExp(`herald: .*(${args[1]})`), `herald ${args.join(' ')} names what it refused`);
    }
  });

  it('prints the address it really listens on: every interface is 0.0.0.0, with the local URL beside it', async () => {
    const server = await startChild({ HERALD_HOST: '0.0.0.0' });
    try {
      assert.match(server.url, /^http:\/\/0\.0\.0\.0:\d+$/);
      assert.match(server.stdout(), /listening on http:\/\/0\.0\.0\.0:(\d+) \(every interface; from this machine: http:\/\/127\.0\.0\.1:\1\)/);
    } finally {
      await server.kill('SIGTERM');
    }
  });

  it('shuts down gracefully on SIGTERM: sockets closed with 1001, exit 0', async () => {
    const server = await startChild();
    const socket = await server.socket('leaving');
    const exit = await server.kill('SIGTERM');
    await socket.until(() => socket.closed !== undefined);
    assert.equal(socket.closed?.code, 1001);
    assert.equal(exit.code, 0);
  });
});
