/**
 * Fuzzing a started Herald with a seeded corpus generated from its own /openapi.json (see
 * test/helpers/fuzz-corpus.ts), malformed HTTP framing over raw sockets, and hostile WebSocket
 * frames. For every case: no 5xx, every 4xx is problem+json with a code, and the server still
 * answers a ping afterwards. Seeded and bounded: the same requests in the same order every run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type FuzzOperation, generateCorpus, MALFORMED_REQUESTS } from '../helpers/fuzz-corpus.js';
import { startInProcess } from '../helpers/herald.js';
import { httpRequest, rawExchange } from '../helpers/raw-http.js';

const SEED = 20261201;
const CASES_PER_OPERATION = 60;

/**
 * Requests beyond the document, fuzzed all the same: a method a documented path does not take
 * (PUT /api/v1/messages/{id}: 405) and paths that do not exist (404).
 */
const BEYOND_THE_DOCUMENT: FuzzOperation[] = [
  { method: 'PUT', path: '/api/v1/messages/{id}', pathParams: ['id'], queryParams: [] },
  { method: 'GET', path: '/api/v1/{anything}', pathParams: ['anything'], queryParams: ['q'] },
];

function operationsOf(document: any): FuzzOperation[] {
  const operations: FuzzOperation[] = [];
  for (const [path, methods] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      const parameters: Array<{ in: string; name: string }> = operation.parameters ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodySchema: operation.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return operations;
}

describe('fuzz', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let tokens: string[];
  const alive = async (label: string) => {
    const ping = await fetch(`${h.url}/api/v1/ping`);
    assert.equal(ping.status, 200, `server not answering after ${label}`);
    await ping.arrayBuffer();
  };

  before(async () => {
    h = await startInProcess({ HERALD_LOG_LEVEL: 'fatal' });
    const admin = await h.token('fuzz-admin', { admin: true });
    const user = await h.token('fuzz-user');
    tokens = [
      '',
      'Bearer garbage',
      `Bearer ${admin}`,
      `Bearer ${admin}`,
      `Bearer ${user}`,
      `Bearer ${user}`,
      'Basic Zm9vOmJhcg==',
      `Bearer ${'a'.repeat(5000)}`,
    ];
  });
  after(() => h.stop());

  it('answers every generated request below 500, problem+json for every 4xx, and stays up', async () => {
    const document = await (await fetch(`${h.url}/openapi.json`)).json();
    const documented = operationsOf(document);
    for (const expected of ['POST /api/v1/webhooks/twilio', 'GET /ws', 'GET /openapi.json', 'GET /healthz', 'GET /metrics']) {
      assert.ok(
        documented.some((o) => `${o.method} ${o.path}` === expected),
        `${expected} is in the document`,
      );
    }
    const operations = [...documented, ...BEYOND_THE_DOCUMENT];
    assert.ok(operations.length >= 21, 'the corpus covers every documented operation');
    const cases = generateCorpus(operations, { seed: SEED, casesPerOperation: CASES_PER_OPERATION, tokens });
    const statuses = new Map<number, number>();
    for (const c of cases) {
      const res = await httpRequest(h.url + c.url, { method: c.method, headers: c.headers, ...(c.body === undefined ? {} : { body: c.body }) }).catch(
        (error: Error) => {
          throw new Error(
            `${c.label}: ${c.method} ${c.url.slice(0, 200)} ${JSON.stringify(c.headers).slice(0, 200)} body=${(c.body ?? '').slice(0, 200)}: ${error.message}`,
          );
        },
      );
      const text = res.text;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const context = `${c.label}: ${c.method} ${c.url.slice(0, 200)} body=${(c.body ?? '').slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`;
      assert.ok(res.status < 500, context);
      if (res.status >= 400) {
        assert.match(res.contentType, /^application\/problem\+json/, context);
        assert.match(JSON.parse(text).code, /^HERALD_[A-Z_]+$/, context);
      }
      await alive(c.label);
    }
    // The corpus reaches past validation too: some requests are accepted, many refused.
    assert.ok((statuses.get(400) ?? 0) > 100, JSON.stringify([...statuses]));
    assert.ok(
      [...statuses.keys()].some((s) => s < 300),
      JSON.stringify([...statuses]),
    );
  });

  it('survives malformed HTTP framing on raw sockets', async () => {
    for (const request of MALFORMED_REQUESTS) {
      const reply = await rawExchange(h.url, request);
      for (const status of reply.matchAll(/^HTTP\/1\.1 (\d{3})/gm))
        assert.ok(Number(status[1]) < 500, `${JSON.stringify(request.slice(0, 120))} → ${reply.slice(0, 300)}`);
      await alive(JSON.stringify(request.slice(0, 60)));
    }
  });

  it('survives hostile WebSocket frames', async () => {
    const token = await h.token('fuzz-ws');
    const frames: Array<string | Buffer> = [
      '',
      'not json',
      '{"type":',
      'null',
      '[]',
      '{"type":"__proto__"}',
      '{"type":"ack"}',
      '{"type":"ack","ids":"x"}',
      `{"type":"ack","ids":[${Array.from({ length: 2000 }, () => '"00000000-0000-0000-0000-000000000000"').join(',')}]}`,
      '{"type":"read","ids":["%zz","\\u0000"]}',
      `${'['.repeat(3000)}${']'.repeat(3000)}`,
      Buffer.from([0xff, 0xfe, 0x00, 0x01]),
      'x'.repeat(20_000),
      '{"type":"ping"}',
    ];
    for (const frame of frames) {
      const ticket = await h.api('POST', '/api/v1/ws/token', { token });
      const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws?token=${ticket.body.token}`);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.send(frame);
      await new Promise((resolve) => setTimeout(resolve, 20));
      ws.close();
      await closed;
      await alive(`ws frame ${String(frame).slice(0, 40)}`);
    }
  });
});
