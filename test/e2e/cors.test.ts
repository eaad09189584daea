/**
 * Cross-origin access (HERALD_CORS_ORIGINS, src/cors.ts) over real HTTP and WebSocket clients:
 * off by default (no CORS headers, preflights from any origin refused, OPTIONS still answers its
 * methods), a listed origin gets preflights and answers it can read, another gets neither, `*`
 * lets every origin in, and the socket upgrade checks Origin against the same list.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { startInProcess } from '../helpers/herald.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http, which sends Origin and any method as given (fetch would not send a preflight itself). */
function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const preflight = (url: string, origin: string, method = 'POST') =>
  request(url, 'OPTIONS', { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' });

/** Resolves with the upgrade's status: 101 when the socket opened. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', reject);
  });
}

describe('CORS off (the default)', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess();
  });
  after(() => h.stop());

  it('answers OPTIONS with the path’s methods, refuses every preflight and adds no CORS header', async () => {
    const plain = await request(`${h.url}/api/v1/send`, 'OPTIONS', {});
    assert.equal(plain.status, 204);
    assert.equal(plain.headers['content-length'], undefined, 'a 204 has no Content-Length');
    assert.equal(plain.headers.allow, 'POST, OPTIONS');

    const refused = await preflight(`${h.url}/api/v1/send`, 'https://app.example');
    assert.equal(refused.status, 403);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    assert.match(JSON.parse(refused.body).detail, /Origin "https:\/\/app\.example"/);
    assert.equal(refused.headers['access-control-allow-origin'], undefined);

    const read = await request(`${h.url}/api/v1/ping`, 'GET', { origin: 'https://app.example' });
    assert.equal(read.status, 200);
    assert.equal(read.headers['access-control-allow-origin'], undefined);
    assert.equal(read.headers.vary, undefined);
  });

  it('does not check Origin on the socket', async () => {
    const ticket = await h.api('POST', '/api/v1/ws/token', { token: await h.token('anyone') });
    assert.equal(await upgradeStatus(`${h.url.replace('http', 'ws')}/ws?token=${ticket.body.token}`, { origin: 'https://elsewhere.example' }), 101);
  });
});

describe('CORS for listed origins', () => {
  const APP = 'https://app.example';
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_CORS_ORIGINS: `${APP}, http://localhost:3000` });
  });
  after(() => h.stop());

  it('answers a listed origin’s preflight with the path’s methods and the headers the API reads', async () => {
    const res = await preflight(`${h.url}/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV`, APP, 'GET');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.match(String(res.headers['access-control-allow-methods']), /\bGET\b/);
    const allowed = String(res.headers['access-control-allow-headers']).split(', ');
    for (const name of ['authorization', 'content-type']) assert.ok(allowed.includes(name), `${name} in ${allowed}`);
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin');
  });

  it('refuses a preflight from another origin, and one for a method the path does not serve', async () => {
    const other = await preflight(`${h.url}/api/v1/send`, 'https://evil.example');
    assert.equal(other.status, 403);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers.vary, 'Origin');
    const method = await preflight(`${h.url}/api/v1/send`, APP, 'DELETE');
    assert.equal(method.status, 405);
    assert.match(JSON.parse(method.body).detail, /Access-Control-Request-Method/);
  });

  it('lets the listed origin read answers and errors; another origin gets no Allow-Origin', async () => {
    const admin = await h.token('ops', { admin: true });
    const body = JSON.stringify({ msg: 'from a page', uid: 'reader' });
    const sent = await request(`${h.url}/api/v1/send`, 'POST', { origin: APP, authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body);
    assert.equal(sent.status, 202);
    assert.equal(sent.headers['access-control-allow-origin'], APP);
    assert.match(String(sent.headers['access-control-expose-headers']), /retry-after/);

    const unauthorized = await request(`${h.url}/api/v1/messages`, 'GET', { origin: 'http://localhost:3000' });
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers['access-control-allow-origin'], 'http://localhost:3000', 'a page can read why it was refused');

    const elsewhere = await request(`${h.url}/api/v1/ping`, 'GET', { origin: 'https://evil.example' });
    assert.equal(elsewhere.status, 200);
    assert.equal(elsewhere.headers['access-control-allow-origin'], undefined);
    assert.equal(elsewhere.headers.vary, 'Origin');
  });

  it('opens the socket for a listed origin or none, and refuses another origin before spending the ticket', async () => {
    const ws = h.url.replace('http', 'ws');
    const ticket = async () => (await h.api('POST', '/api/v1/ws/token', { token: await h.token('socket-user') })).body.token as string;
    assert.equal(await upgradeStatus(`${ws}/ws?token=${await ticket()}`, { origin: APP }), 101);
    assert.equal(await upgradeStatus(`${ws}/ws?token=${await ticket()}`, {}), 101, 'no Origin: not a browser, not checked');
    const kept = await ticket();
    assert.equal(await upgradeStatus(`${ws}/ws?token=${kept}`, { origin: 'https://evil.example' }), 403);
    assert.equal(await upgradeStatus(`${ws}/ws?token=${kept}`, { origin: APP }), 101, 'the refused upgrade did not use the ticket');
  });
});

describe('CORS for any origin', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_CORS_ORIGINS: '*' });
  });
  after(() => h.stop());

  it('answers every origin with Allow-Origin *', async () => {
    const res = await preflight(`${h.url}/api/v1/send`, 'https://anywhere.example');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const read = await request(`${h.url}/api/v1/ping`, 'GET', { origin: 'https://anywhere.example' });
    assert.equal(read.headers['access-control-allow-origin'], '*');
  });
});

describe('HERALD_CORS_ORIGINS', () => {
  it('takes origins only: no path, no "*" among others', () => {
    assert.deepEqual(loadConfig({ HERALD_CORS_ORIGINS: 'https://A.example:8443,http://localhost:3000' }).corsOrigins, [
      'https://a.example:8443',
      'http://localhost:3000',
    ]);
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    assert.throws(() => loadConfig({ HERALD_CORS_ORIGINS: 'https://app.example/path' }), /HERALD_CORS_ORIGINS.*not an origin/s);
    assert.throws(() => loadConfig({ HERALD_CORS_ORIGINS: '*,https://app.example' }), /HERALD_CORS_ORIGINS.*only entry/s);
  });
});
