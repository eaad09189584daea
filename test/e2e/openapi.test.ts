/**
 * The API document (GET /openapi.json) against what the server really mounts and answers:
 *  - every mounted route has a document: a summary, a success answer, its path parameters,
 *    and every status it can answer (its own and the plumbing's) in /openapi.json; /ws too;
 *  - the document is well-formed OpenAPI 3.1 (structure, unique operation ids, path
 *    parameters declared, every $ref resolved, tags and security schemes declared);
 *  - response checking (on for every in-process Herald of the e2e suite, test/helpers/herald.ts)
 *    turns an answer that breaks its own document into a reported 500.
 */
import uWS from 'uWebSockets.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { mountHttpRoutes } from '../../src/api/http-server.js';
import { openApiPath } from '../../src/api/openapi.js';
import type { ResponseMismatch } from '../../src/api/response-check.js';
import { pong } from '../../src/api/responses.js';
import { answer, json, open, type Route, refusals } from '../../src/api/route.js';
import { answersOf } from '../../src/api/route-answers.js';
import { PROBLEM_CODES, ProblemError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startInProcess } from '../helpers/herald.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The parts of OpenAPI 3.1 Herald's document uses, as the specification requires them. */
const response = z.object({
  description: z.string().min(1),
  headers: z.record(z.string(), z.object({ description: z.string(), schema: z.record(z.string(), z.unknown()) })).optional(),
  content: z.record(z.string().regex(/^[\w.+-]+\/[\w.+-]+$/), z.object({ schema: z.record(z.string(), z.unknown()) })).optional(),
});
const parameter = z.object({
  name: z.string().min(1),
  in: z.enum(['path', 'query', 'header', 'cookie']),
  required: z.boolean(),
  description: z.string().optional(),
  schema: z.record(z.string(), z.unknown()),
});
const operation = z.object({
  operationId: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
  summary: z.string().min(1),
  description: z.string().optional(),
  tags: z.array(z.string()).min(1),
  security: z.array(z.record(z.string(), z.array(z.string()))),
  parameters: z.array(parameter).optional(),
  requestBody: z
    .object({ required: z.boolean(), description: z.string().optional(), content: z.record(z.string(), z.object({ schema: z.unknown() })) })
    .optional(),
  responses: z.record(z.string().regex(/^[1-5]\d\d$/), response).refine((r) => Object.keys(r).length > 0, 'at least one response'),
});
const openApi31 = z.object({
  openapi: z.literal('3.1.0'),
  info: z.object({ title: z.string().min(1), version: z.string().min(1), description: z.string().optional() }),
  tags: z.array(z.object({ name: z.string(), description: z.string() })),
  components: z.object({
    securitySchemes: z.record(z.string(), z.object({ type: z.literal('http'), scheme: z.literal('bearer') }).loose()),
    schemas: z.record(z.string(), z.record(z.string(), z.unknown())),
  }),
  paths: z.record(z.string().regex(/^\//), z.record(z.string(), z.unknown())),
});

/** Every `$ref` in `value`, with where it was found. */
function refsIn(value: unknown, at = '#'): Array<{ ref: string; at: string }> {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => (key === '$ref' && typeof child === 'string' ? [{ ref: child, at }] : refsIn(child, `${at}/${key}`)));
}

const resolve = (document: unknown, ref: string): unknown =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], document);

describe('the API document', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let document: any;

  before(async () => {
    h = await startInProcess();
    const res = await h.api('GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    document = res.body;
  });
  after(() => h.stop());

  it('documents every mounted route: summary, success answer, path parameters, every status it can answer', () => {
    assert.ok(h.herald.routes.length >= 20, `${h.herald.routes.length} routes mounted`);
    for (const route of h.herald.routes) {
      const name = `${route.method} ${route.path}`;
      assert.ok(route.doc.summary.trim().length > 0, `${name} has a summary`);
      assert.ok(
        Object.keys(route.doc.answers).some((status) => Number(status) < 400),
        `${name} documents its success answer`,
      );
      for (const [, param] of route.path.matchAll(/:(\w+)/g)) assert.ok(route.doc.params?.[param as string], `${name} documents its parameter ${param}`);
      for (const [status, declared] of Object.entries(route.doc.answers)) {
        assert.ok(declared.description.trim().length > 0, `${name} ${status} has a description`);
        for (const code of declared.codes ?? [])
          assert.equal(PROBLEM_CODES[code].status, Number(status), `${name}: ${code} is a ${PROBLEM_CODES[code].status}, not a ${status}`);
      }
      const documented = document.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      assert.ok(documented, `${name} is in /openapi.json`);
      assert.deepEqual(Object.keys(documented.responses).map(Number), [...answersOf(route).keys()], `${name}: /openapi.json lists every status it can answer`);
      // A route that takes a capability instead (Route.anonymous) documents that no token is needed too.
      const security = route.doc.capability ? [{ bearer: [] }, {}] : [{ bearer: [] }];
      if (route.access !== 'public') assert.deepEqual(documented.security, security, `${name} needs a bearer token`);
    }
    const operations = Object.values<Record<string, unknown>>(document.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    assert.equal(operations, h.herald.routes.length + 1, 'the document lists the mounted routes and /ws, nothing else');
    assert.deepEqual(Object.keys(document.paths['/ws'].get.responses), ['101', '400', '401', '403', '429', '500', '503']);
    assert.deepEqual(
      document.paths['/ws'].get.parameters.map((p: { name: string; required: boolean }) => [p.name, p.required]),
      [
        ['token', true],
        ['since', false],
      ],
    );
    assert.ok(document.paths['/ws'].get['x-herald-frames'].clientToServer.oneOf ?? document.paths['/ws'].get['x-herald-frames'].clientToServer.anyOf);
  });

  it('is the list docs/api.md documents: every operation has its row in the route table, and no row is extra', () => {
    const apiMd = fs.readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const rows = new Set([...apiMd.matchAll(/^\| `(GET|PUT|POST|DELETE) (\/[^`]*)` \|/gm)].map(([, method, path]) => `${method} ${path}`));
    const operations = new Set(
      Object.entries<Record<string, unknown>>(document.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    assert.deepEqual(
      [...operations].filter((op) => !rows.has(op)),
      [],
      'operations missing from the route table of docs/api.md',
    );
    assert.deepEqual(
      [...rows].filter((row) => !operations.has(row)),
      [],
      'rows of docs/api.md that the server does not mount',
    );
  });

  it('is well-formed OpenAPI 3.1', () => {
    openApi31.parse(document);
    const operationIds = new Set<string>();
    const tags = new Set(document.tags.map((t: { name: string }) => t.name));
    for (const [path, methods] of Object.entries<Record<string, unknown>>(document.paths)) {
      for (const [method, raw] of Object.entries(methods)) {
        assert.ok(METHODS.includes(method), `${path}: ${method} is an HTTP method`);
        const op = operation.parse(raw);
        assert.ok(!operationIds.has(op.operationId), `operationId ${op.operationId} is unique`);
        operationIds.add(op.operationId);
        for (const tag of op.tags) assert.ok(tags.has(tag), `${method} ${path}: tag ${tag} is declared`);
        for (const requirement of op.security)
          for (const scheme of Object.keys(requirement)) assert.ok(document.components.securitySchemes[scheme], `scheme ${scheme} is declared`);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
        assert.deepEqual(
          inPath.map((p) => p.name),
          templated,
          `${method} ${path} declares each path parameter`,
        );
        for (const p of inPath) assert.equal(p.required, true, `${method} ${path}: path parameter ${p.name} is required`);
        const keys = (op.parameters ?? []).map((p) => `${p.in}:${p.name}`);
        assert.equal(new Set(keys).size, keys.length, `${method} ${path}: no parameter twice`);
      }
    }
    for (const { ref, at } of refsIn(document)) assert.ok(resolve(document, ref) !== undefined, `${ref} (at ${at}) resolves`);
    // The request schemas are the validation schemas (src/api/schemas.ts): what operations.test.ts reads stays true.
    assert.deepEqual(document.paths['/api/v1/send'].post.requestBody.content['application/json'].schema.required.sort(), ['msg', 'uid']);
  });
});

describe('response checking', () => {
  const mismatches: ResponseMismatch[] = [];
  let listen: uWS.us_listen_socket | undefined;
  let url = '';
  const routes: Route[] = [
    open('GET', '/pong', { summary: 'Answers its document', tag: 'operations', answers: { 200: answer('ok', pong) } }, async () => json(200, { pong: true })),
    open('GET', '/wrong-field', { summary: 'Breaks its body schema', tag: 'operations', answers: { 200: answer('ok', pong) } }, async () =>
      json(200, { pong: 'yes' }),
    ),
    open('GET', '/extra-field', { summary: 'Adds a field its document does not list', tag: 'operations', answers: { 200: answer('ok', pong) } }, async () =>
      json(200, { pong: true, extra: 1 }),
    ),
    open(
      'GET',
      '/wrong-status',
      { summary: 'Answers a status its document does not list', tag: 'operations', answers: { 200: answer('ok', pong) } },
      async () => json(202, { pong: true }),
    ),
    open(
      'GET',
      '/wrong-code',
      {
        summary: 'Refuses with a code its document does not list',
        tag: 'operations',
        answers: { 200: answer('ok', pong), ...refusals({ HERALD_INVALID_JSON: 'never' }) },
      },
      async () => {
        throw new ProblemError('HERALD_INVALID_REQUEST', 'not documented');
      },
    ),
  ];

  before(async () => {
    const app = uWS.App();
    mountHttpRoutes(app, {
      routes,
      verifier: { verify: async () => Promise.reject(new ProblemError('HERALD_UNAUTHORIZED', 'no tokens here')) },
      bodyLimit: 1024,
      log: createLogger('fatal'),
      metrics: createMetrics(),
      onResponseMismatch: (mismatch) => mismatches.push(mismatch),
    });
    listen = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(socket) : reject(new Error('no port')))),
    );
    url = `http://127.0.0.1:${uWS.us_socket_local_port(listen)}`;
  });
  after(() => {
    if (listen) uWS.us_listen_socket_close(listen);
  });

  it('passes an answer that matches its document, and the plumbing answers it documents', async () => {
    assert.equal((await fetch(`${url}/pong`)).status, 200);
    assert.equal((await fetch(`${url}/nowhere`)).status, 404);
    assert.equal((await fetch(`${url}/pong`, { method: 'POST' })).status, 405);
    assert.deepEqual(mismatches, []);
  });

  it('answers 500 naming the mismatch, and reports it, for each way an answer can break its document', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/wrong-field', /pong: Invalid input: expected true/],
      ['/extra-field', /Unrecognized key: "extra"/],
      ['/wrong-status', /status 202 is not documented/],
      ['/wrong-code', /problem code HERALD_INVALID_REQUEST is not documented for 400/],
    ];
    for (const [path, expected] of cases) {
      const res = await fetch(url + path);
      const body = (await res.json()) as { code: string; detail: string };
      assert.equal(res.status, 500, path);
      assert.equal(body.code, 'HERALD_INTERNAL');
      assert.match(body.detail, expected, path);
      const reported = mismatches.find((m) => m.path === path);
      assert.ok(reported, `${path} reported`);
      assert.match(reported.problem, expected);
    }
    assert.equal(mismatches.length, cases.length);
  });
});
