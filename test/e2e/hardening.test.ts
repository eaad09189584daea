/**
 * Hostile and careless clients, and operations traps, against real servers: bad escapes, odd
 * methods, non-JSON bodies, deep or prototype-shaped JSON, response headers, the metrics token,
 * aborted uploads at shutdown, one process per port and per data dir, a closed standard output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE } from '../../src/data-dir.js';
import { startChild, startInProcess, TEST_SECRET, tempDataDir } from '../helpers/herald.js';
import { rawExchange } from '../helpers/raw-http.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const assertProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.body.code, code);
};

describe('hostile requests', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess({ HERALD_METRICS_TOKEN: 'metrics-token-for-the-e2e-suite' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('answers bad percent-escapes in any path parameter with 400 naming it, and keeps serving', async () => {
    for (const [method, route, param] of [
      ['GET', '/api/v1/messages/%', 'id'],
      ['DELETE', '/api/v1/messages/%zz', 'id'],
      ['PUT', '/api/v1/users/%E0%A4%A', 'uid'],
      ['PUT', '/api/v1/users/%', 'uid'],
    ] as const) {
      const res = await h.api(method, route, { token: admin, ...(method === 'PUT' ? { body: {} } : {}) });
      if (res.status === 405) continue; // a method this path does not have is refused before its parameters
      assertProblem(res, 400, 'HERALD_INVALID_REQUEST');
      assert.equal(res.body.errors[0].path, param, route);
    }
    // Unauthenticated too: decoding happens inside the request's error handling, not before it.
    assertProblem(await h.api('GET', '/api/v1/messages/%'), 401, 'HERALD_UNAUTHORIZED');
    assert.equal((await h.api('GET', '/api/v1/ping')).status, 200);
  });

  it('answers 405 problem+json to methods a path does not have, and survives methods uWS does not know', async () => {
    const patch = await h.api('PATCH', '/api/v1/send', { token: admin });
    assertProblem(patch, 405, 'HERALD_METHOD_NOT_ALLOWED');
    assert.equal(patch.headers.get('allow'), 'POST, OPTIONS');
    // OPTIONS answers the methods (and CORS preflights: test/e2e/cors.test.ts).
    const options = await h.api('OPTIONS', '/api/v1/send', { token: admin });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'POST, OPTIONS');
    const trace = await rawExchange(h.url, 'TRACE /api/v1/send HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(trace, /^HTTP\/1\.1 405 /);
    assert.match(trace, /application\/problem\+json/);
    // The uWS parser closes the connection on methods outside its table, before any handler.
    const reply = await rawExchange(h.url, 'PROPFIND /api/v1/send HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.doesNotMatch(reply, /HTTP\/1\.1 5/);
    assert.equal((await h.api('GET', '/api/v1/ping')).status, 200);
  });

  it('answers 415 to a body that is not JSON (curl -d sends a form), and accepts +json types', async () => {
    const form = await h.api('POST', '/api/v1/send', {
      token: admin,
      raw: 'msg=hi&uid=bob',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assertProblem(form, 415, 'HERALD_UNSUPPORTED_MEDIA_TYPE');
    assert.equal(form.body.errors[0].path, 'content-type');
    assertProblem(await h.api('POST', '/api/v1/send', { token: admin, raw: '{"msg":"hi","uid":"bob"}' }), 415, 'HERALD_UNSUPPORTED_MEDIA_TYPE');
    const vendor = await h.api('POST', '/api/v1/send', {
      token: admin,
      raw: '{"msg":"hi","uid":"bob"}',
      headers: { 'content-type': 'application/vnd.herald+json; charset=utf-8' },
    });
    assert.equal(vendor.status, 202);
  });

  it('refuses deeply nested JSON and reserved keys anywhere with 400 naming the path', async () => {
    const deep = `{"msg":"hi","uid":"bob","opts":{"data":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}}`;
    const nested = await h.api('POST', '/api/v1/send', { token: admin, raw: deep, headers: { 'content-type': 'application/json' } });
    assertProblem(nested, 400, 'HERALD_INVALID_REQUEST');
    assert.match(nested.body.errors[0].path, /^opts\.data\.a/);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const raw = `{"msg":"hi","uid":"bob","opts":{"data":{"${key}":{"admin":true}}}}`;
      const res = await h.api('POST', '/api/v1/send', { token: admin, raw, headers: { 'content-type': 'application/json' } });
      assertProblem(res, 400, 'HERALD_INVALID_REQUEST');
      assert.equal(res.body.errors[0].path, `opts.data.${key}`);
    }
  });

  it('marks every response nosniff and no-store', async () => {
    for (const res of [await h.api('GET', '/api/v1/ping'), await h.api('GET', '/api/v1/nothing-here'), await h.api('GET', '/openapi.json')]) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
  });

  it('serves /metrics only with HERALD_METRICS_TOKEN', async () => {
    assertProblem(await h.api('GET', '/metrics'), 401, 'HERALD_UNAUTHORIZED');
    assertProblem(await h.api('GET', '/metrics', { headers: { authorization: 'Bearer metrics-token-for-the-e2e-suitX' } }), 401, 'HERALD_UNAUTHORIZED');
    assertProblem(await h.api('GET', '/metrics', { token: admin }), 401, 'HERALD_UNAUTHORIZED');
    const ok = await h.api('GET', '/metrics', { headers: { authorization: 'Bearer metrics-token-for-the-e2e-suite' } });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /herald_http_requests_total/);
  });
});

describe('operations', () => {
  it('drains at SIGTERM though a client aborted its upload (the grace period is never needed)', async () => {
    // An hour of grace: if the aborted upload stayed counted in flight, this test would not end.
    const server = await startChild({ HERALD_SHUTDOWN_GRACE: '3600' });
    const token = await server.token('ops', { admin: true });
    await rawExchange(
      server.url,
      `POST /api/v1/broadcast HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"msg":`,
      100,
    );
    assert.equal((await server.api('GET', '/api/v1/ping')).status, 200);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.stderr());
  });

  it('refuses a second process on the same port, or on the same data dir, naming it', async () => {
    const first = await startChild();
    try {
      const port = new URL(first.url).port;
      const samePort = await runCli(['serve'], { HERALD_PORT: port, HERALD_DATA_DIR: tempDataDir() });
      assert.equal(samePort.code, 2);
      assert.match(samePort.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
      const sameDir = await runCli(['serve'], { HERALD_PORT: '0', HERALD_DATA_DIR: first.dataDir });
      assert.equal(sameDir.code, 2);
      assert.match(sameDir.stderr, /data dir .* is in use by another Herald process/);
      assert.equal((await first.api('GET', '/api/v1/ping')).status, 200);
    } finally {
      await first.kill('SIGKILL');
    }
    // The lock died with the process: a new one starts at once on the same dir.
    const next = await startChild({ HERALD_DATA_DIR: first.dataDir });
    assert.equal((await next.api('GET', '/api/v1/ping')).status, 200);
    await next.kill('SIGTERM');
  });

  it('keeps the data dir to its user: dir 0700, database and lock 0600', async () => {
    const dataDir = tempDataDir();
    fs.chmodSync(dataDir, 0o755);
    const server = await startChild({ HERALD_DATA_DIR: dataDir });
    await server.kill('SIGTERM');
    const mode = (file: string) => fs.statSync(path.join(dataDir, file)).mode & 0o777;
    assert.equal(mode('.'), 0o700);
    for (const file of ['herald.db', LOCK_FILE, 'secrets.json']) assert.equal(mode(file), 0o600, file);
  });

  it('keeps serving and obeys SIGTERM once its standard output is closed (herald serve | head -1)', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'serve'], {
      cwd: ROOT,
      env: {
        ...process.env,
        HERALD_PORT: '0',
        HERALD_HOST: '127.0.0.1',
        HERALD_DATA_DIR: tempDataDir(),
        HERALD_JWT_SECRET: TEST_SECRET,
        HERALD_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve) => {
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(text);
        if (match?.[1]) resolve(match[1]);
      });
    });
    child.stdout.destroy(); // the reader goes away, as `head -1` does after its line
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${url}/api/v1/nothing-${i}`);
      assert.equal(res.status, 404);
    }
    child.kill('SIGTERM'); // logs "shutting down" and "herald stopped" into the closed pipe
    assert.equal(await exited, 0);
  });
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, HERALD_HOST: '127.0.0.1', HERALD_JWT_SECRET: TEST_SECRET, HERALD_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}
