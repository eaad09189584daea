/**
 * A seeded, bounded corpus of hostile HTTP requests generated from Herald's OpenAPI document:
 * for every operation, requests with bad escapes in every path and query position, bodies of
 * the wrong types, huge, deep and odd values, reserved keys, wrong content types and tokens.
 * The same seed always yields the same requests, so a failure in CI is reproduced locally by
 * running the suite again.
 */

export interface FuzzOperation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodySchema?: JsonSchema;
}

export interface FuzzCase {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** What the case exercises, for failure messages. */
  label: string;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
}

/** mulberry32: a tiny, well-known seeded generator (deterministic across runs and machines). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Path segments that are not what a route expects: bad escapes, traversal, control and format characters, sheer size. */
export const HOSTILE_SEGMENTS = [
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%ED%A0%80',
  '%FF%FE',
  '%00',
  '%2F..%2F..%2Fetc%2Fpasswd',
  '..',
  '%E2%80%AE',
  '%EF%BB%BF',
  '%F0%9F%92%A9',
  'a'.repeat(4000),
  '%25'.repeat(300),
  '00000000-0000-0000-0000-000000000000',
  '__proto__',
  'constructor',
];

/** Query values: the same, plus numbers and dates out of every range. */
const HOSTILE_QUERY_VALUES = [
  ...HOSTILE_SEGMENTS,
  '-1',
  '0',
  '1e309',
  '99999999999999999999',
  'NaN',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '0001-01-01T00:00:00Z',
  'a%00b',
  'unread',
];

/** JSON values of every kind and extreme. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  ' ',
  '\u0000',
  '\u202e\u200b',
  '\ud800',
  '💩'.repeat(200),
  'x'.repeat(70_000),
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'https://127.0.0.1:1/',
  [],
  [null],
  {},
  { __proto__: null, a: 1 },
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
];

export function generateCorpus(operations: FuzzOperation[], options: { seed: number; casesPerOperation: number; tokens: string[] }): FuzzCase[] {
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const cases: FuzzCase[] = [];

  const valueFor = (schema: JsonSchema | undefined, depth: number): unknown => {
    if (!schema || depth > 6 || random() < 0.15) return pick(ODD_VALUES);
    const variants = schema.anyOf ?? schema.oneOf;
    if (variants) return valueFor(pick(variants), depth);
    if (schema.enum) return random() < 0.8 ? pick(schema.enum) : pick(ODD_VALUES);
    const type = Array.isArray(schema.type) ? pick(schema.type) : schema.type;
    switch (type) {
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [key, property] of Object.entries(schema.properties ?? {})) if (random() < 0.7) out[key] = valueFor(property, depth + 1);
        if (random() < 0.1) out[pick(['extra', '__proto__', 'constructor', 'prototype', ''])] = pick(ODD_VALUES);
        return out;
      }
      case 'array':
        return Array.from({ length: pick([0, 1, 2, 3, 600]) }, () => valueFor(schema.items, depth + 1));
      case 'string':
        return pick(['bob', 'alice', 'https://example.com/x', 'high', 'sms', 'email', 'very-low', '2026-01-01T00:00:00Z', ...HOSTILE_QUERY_VALUES]);
      case 'integer':
      case 'number':
        return pick([0, 1, 60, 3600, -5, 2 ** 53, 1e21, 0.5]);
      case 'boolean':
        return random() < 0.5;
      default:
        return pick(ODD_VALUES);
    }
  };

  const deepJson = (levels: number) => `${'{"a":['.repeat(levels)}1${']}'.repeat(levels)}`;

  for (const operation of operations) {
    for (let i = 0; i < options.casesPerOperation; i++) {
      const segments: Record<string, string> = {};
      for (const name of operation.pathParams) segments[name] = random() < 0.8 ? pick(HOSTILE_SEGMENTS) : 'bob';
      const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => segments[name] ?? 'x');
      const query = operation.queryParams
        .filter(() => random() < 0.6)
        .map((name) => `${name}=${pick(HOSTILE_QUERY_VALUES)}`)
        .concat(random() < 0.2 ? [pick(['%=%', '&&&', 'limit=1&limit=2', 'unknown=1', '%zz=%zz'])] : []);
      const headers: Record<string, string> = {};
      const token = pick(options.tokens);
      if (token) headers.authorization = token;
      let body: string | undefined;
      if (operation.bodySchema || random() < 0.1) {
        const shape = random();
        if (shape < 0.05) body = deepJson(pick([20, 500, 5000]));
        else if (shape < 0.1) body = pick(['{', '{"a":', 'null', '[]', '"x"', '\u0000', '{"a":1}{"b":2}', '\ufeff{}']);
        else body = JSON.stringify(valueFor(operation.bodySchema, 0));
        headers['content-type'] = random() < 0.85 ? 'application/json' : pick(CONTENT_TYPES);
      }
      cases.push({
        method: operation.method,
        url: `${path}${query.length > 0 ? `?${query.join('&')}` : ''}`,
        headers,
        ...(body === undefined ? {} : { body }),
        label: `${operation.method} ${operation.path} #${i}`,
      });
    }
  }
  return cases;
}

/** Requests that break HTTP framing itself, sent over raw sockets. */
export const MALFORMED_REQUESTS: string[] = [
  'GET / HTTP/1.1\r\n\r\n',
  'GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n',
  'GARBAGE\r\n\r\n',
  '\u0000\u0001\u0002\u0003\r\n\r\n',
  'GET /api/v1/ping HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /api/v1/ping\r\n\r\n',
  'GET  /api/v1/ping  HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /api/v1/messages/% HTTP/1.1\r\nHost: x\r\n\r\n',
  `GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  `GET /api/v1/ping HTTP/1.1\r\n${Array.from({ length: 200 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
  'GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"msg":',
  'POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'GET /ws?token=%zz&since=%zz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!!\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'GET /ws?token=a.b.c HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'GET /ws?since=not-an-id HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n',
  'GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\nPROPFIND / HTTP/1.1\r\n\r\n',
];
