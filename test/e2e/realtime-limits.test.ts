/**
 * The WebSocket gateway's limits and refusals over real WebSocket clients: single-use tickets,
 * the per-user socket cap, problem+json refusals, and a burst of concurrent upgrades to a fresh
 * gateway (every socket opens, stays open and gets a broadcast exactly once).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startInProcess, TestSocket } from '../helpers/herald.js';

type Herald = Awaited<ReturnType<typeof startInProcess>>;

/** Opens a socket to `url`; its refusal (status, headers and problem+json body) when the upgrade is refused. */
function attempt(url: string): Promise<{ open: TestSocket } | { status: number; headers: Record<string, unknown>; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    ws.once('open', () => {
      ws.close();
      resolve({ open: undefined as unknown as TestSocket });
    });
    ws.once('error', (error) => {
      if (!(error as Error).message.startsWith('Unexpected server response')) reject(error);
    });
  });
}

const ticketOf = async (h: Herald, uid: string): Promise<string> => {
  const res = await h.api('POST', '/api/v1/ws/token', { token: await h.token(uid) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.token;
};
const wsUrl = (h: Herald, query: Record<string, string>) => `${h.url.replace('http', 'ws')}/ws?${new URLSearchParams(query)}`;

describe('realtime limits', () => {
  let h: Herald;
  before(async () => {
    h = await startInProcess({ HERALD_MAX_SOCKETS_PER_USER: '3' });
  });
  after(() => h.stop());

  it('accepts a ticket once: a second upgrade with it is 401 problem+json', async () => {
    const ticket = await ticketOf(h, 'once');
    const first = await TestSocket.open(wsUrl(h, { token: ticket }));
    const again = await attempt(wsUrl(h, { token: ticket }));
    assert.ok('status' in again);
    assert.equal(again.status, 401);
    assert.match(String(again.headers['content-type']), /^application\/problem\+json/);
    assert.equal(again.body.code, 'HERALD_UNAUTHORIZED');
    assert.equal(again.body.title, 'Unauthorized');
    assert.match(again.body.detail, /already used/);
    first.close();
  });

  it('lets only one of many concurrent upgrades with one ticket open a socket', async () => {
    const ticket = await ticketOf(h, 'race');
    const results = await Promise.all(Array.from({ length: 20 }, () => attempt(wsUrl(h, { token: ticket }))));
    assert.equal(results.filter((r) => 'open' in r).length, 1);
    assert.deepEqual(
      results.flatMap((r) => ('status' in r ? [r.status] : [])),
      Array.from({ length: 19 }, () => 401),
    );
  });

  it('refuses a missing or forged ticket with 401 problem+json', async () => {
    for (const query of [{}, { token: 'not-a-ticket' }] as Array<Record<string, string>>) {
      const res = await attempt(wsUrl(h, query));
      assert.ok('status' in res);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'HERALD_UNAUTHORIZED');
    }
  });

  it('answers an invalid since= with 400 "Invalid request" naming since, and leaves the ticket usable', async () => {
    const ticket = await ticketOf(h, 'since-user');
    const res = await attempt(wsUrl(h, { token: ticket, since: 'yesterday' }));
    assert.ok('status' in res);
    assert.equal(res.status, 400);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.deepEqual(
      { code: res.body.code, title: res.body.title, status: res.body.status, errors: res.body.errors },
      { code: 'HERALD_INVALID_REQUEST', title: 'Invalid request', status: 400, errors: [{ path: 'since', message: 'must be a message id' }] },
    );
    assert.equal(res.body.type, 'https://herald.dev/problems/herald-invalid-request');
    const socket = await TestSocket.open(wsUrl(h, { token: ticket }));
    socket.close();
  });

  it('caps sockets per user (HERALD_MAX_SOCKETS_PER_USER): one more is 429, another user is unaffected', async () => {
    const sockets = await Promise.all([1, 2, 3].map(() => h.socket('capped')));
    const refused = await attempt(wsUrl(h, { token: await ticketOf(h, 'capped') }));
    assert.ok('status' in refused);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 'HERALD_RATE_LIMITED');
    assert.match(refused.body.detail, /HERALD_MAX_SOCKETS_PER_USER/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    const other = await h.socket('not-capped');
    // Concurrent upgrades count too: of 5 at once for a fresh user, 3 open.
    const tickets = await Promise.all([1, 2, 3, 4, 5].map(() => ticketOf(h, 'capped-burst')));
    const burst = await Promise.all(tickets.map((token) => attempt(wsUrl(h, { token }))));
    assert.equal(burst.filter((r) => 'open' in r).length, 3);
    // A closed socket frees its slot.
    sockets[0]?.close();
    await sockets[0]?.until(() => sockets[0]?.closed !== undefined);
    let reopened: TestSocket | undefined;
    for (let i = 0; i < 40 && !reopened; i++) {
      reopened = await h.socket('capped').catch(() => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50)));
    }
    assert.ok(reopened, 'a slot frees when a socket closes');
    for (const s of [...sockets.slice(1), other, reopened]) s.close();
  });
});

describe('a burst of concurrent upgrades to a fresh gateway', () => {
  let h: Herald;
  before(async () => {
    h = await startInProcess();
  });
  after(() => h.stop());

  it('opens every socket, drops none, and delivers a broadcast to each exactly once', { timeout: 120_000 }, async () => {
    const uids = Array.from({ length: 1000 }, (_, i) => `burst-${i}`);
    const tickets = await Promise.all(uids.map((uid) => ticketOf(h, uid)));
    const sockets = await Promise.all(tickets.map((token) => TestSocket.open(wsUrl(h, { token }))));
    const admin = await h.token('ops', { admin: true });
    const sent = await h.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'to the burst' } });
    assert.equal(sent.status, 202);
    await Promise.all(sockets.map((s) => s.until(() => s.closed !== undefined || s.messages().some((f) => f.id === sent.body.id), 60_000, 'the broadcast')));
    assert.deepEqual(
      sockets.flatMap((s, i) => (s.closed ? [`#${i} closed ${JSON.stringify(s.closed)}`] : [])),
      [],
    );
    // A frame sent after the broadcast arrives after any late duplicate of it.
    const marker = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'marker', uid: 'burst-999' } });
    await sockets[999]?.next((f) => f.id === marker.body.id);
    assert.deepEqual(
      sockets.map((s) => s.messages().filter((f) => f.id === sent.body.id).length).filter((n) => n !== 1),
      [],
    );
    for (const s of sockets) s.close();
  });
});
