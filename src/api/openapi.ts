/**
 * The OpenAPI 3.1 document of API v1 (GET /openapi.json), generated from the mounted routes alone:
 * each route's RouteDoc (src/api/route.ts) gives its summary, request schemas (the same zod
 * objects the handlers validate with) and answers, and src/api/route-answers.ts adds what the
 * HTTP plumbing answers around every handler. Endpoints that are not REST routes (the WebSocket
 * upgrade, src/gateway/ws-endpoint.ts) come as Operations with every answer spelled out. There is
 * no path table here: a route that is mounted is documented, one that is not is not.
 */
import { z } from 'zod';
import type { ProblemCode } from '../errors.js';
import { problem } from './responses.js';
import type { Access, Answer, Method, Route, RouteDoc, Tag } from './route.js';
import { answersOf } from './route-answers.js';

/** One documented operation: a route's declaration with every status it can answer. */
export interface Operation {
  method: Method;
  /** uWebSockets.js pattern, e.g. `/api/v1/messages/:id`. */
  path: string;
  access: Access;
  doc: RouteDoc;
  answers: ReadonlyMap<number, Answer>;
  /** A WebSocket's frames each way, emitted as JSON schemas under `x-herald-frames`. */
  frames?: { client: z.ZodType; server: z.ZodType };
}

export const operationOf = (route: Route): Operation => ({
  method: route.method,
  path: route.path,
  access: route.access,
  doc: route.doc,
  answers: answersOf(route),
});

const TAGS: Record<Tag, string> = {
  sending: 'Accepting messages for delivery',
  devices: 'Push devices and web push subscriptions of the caller',
  users: 'Recipients: contact fields, attributes, preferences',
  threads: 'Threads: who belongs to them (a thread message reaches its members)',
  inbox: 'Inbox, message lookup, search, receipts and reports',
  realtime: 'The WebSocket: tickets and the upgrade',
  operations: 'Health, metrics, this document',
  webhooks: 'Callbacks from providers',
  pages: 'Pages Herald serves to browsers: the demo inbox, the admin console',
};

type JsonSchema = Record<string, unknown>;

/** Formats that say what their pattern says: the (long) pattern zod adds is left out. */
const SELF_DESCRIBING_FORMATS = new Set(['date-time', 'uuid', 'email', 'uri']);

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: ({ jsonSchema: generated }) => {
      if (typeof generated.format === 'string' && SELF_DESCRIBING_FORMATS.has(generated.format)) delete generated.pattern;
    },
  }) as JsonSchema;
  return rest;
};

/** `/api/v1/messages/:id` → `/api/v1/messages/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** `GET /api/v1/messages/:id` → `getMessagesById`. */
export function operationIdOf(method: Method, path: string): string {
  const words = path
    .replace(/^\/api\/v1\//, '/')
    .split('/')
    .filter(Boolean)
    .flatMap((part) => (part.startsWith(':') ? ['by', part.slice(1)] : part.split(/[-_.]/)));
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

const problemSchema = (codes: readonly ProblemCode[]): JsonSchema => ({
  allOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'object', properties: { code: { enum: [...codes] } } }],
});

const headerSchema = (name: string) => (/^(retry-after|ratelimit-)/i.test(name) ? { type: 'integer', minimum: 0 } : { type: 'string' });

function responseOf(answer: Answer) {
  const headers =
    answer.headers && Object.keys(answer.headers).length > 0
      ? Object.fromEntries(Object.entries(answer.headers).map(([name, description]) => [name, { description, schema: headerSchema(name) }]))
      : undefined;
  // A problem (answer.codes) goes out as application/problem+json, any other body as
  // application/json (or the answer's own media type), whatever the status.
  const content: Record<string, { schema: JsonSchema }> = {};
  if (answer.body) content[answer.mediaType ?? 'application/json'] = { schema: jsonSchema(answer.body, 'output') };
  else if (answer.mediaType && !answer.codes?.length) content[answer.mediaType] = { schema: { type: 'string' } };
  if (answer.codes && answer.codes.length > 0) content['application/problem+json'] = { schema: problemSchema(answer.codes) };
  return {
    description: answer.description,
    ...(headers ? { headers } : {}),
    ...(Object.keys(content).length > 0 ? { content } : {}),
  };
}

function parametersOf(operation: Operation) {
  const { doc } = operation;
  const parameters: JsonSchema[] = [];
  for (const [, name] of operation.path.matchAll(/:(\w+)/g)) {
    const schema = doc.params?.[name as string];
    parameters.push({ name, in: 'path', required: true, schema: schema ? jsonSchema(schema, 'input') : { type: 'string' } });
  }
  if (doc.query) {
    const query = jsonSchema(doc.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(query.properties ?? {})) {
      const { description, ...schema } = property;
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, ...(description ? { description } : {}), schema });
    }
  }
  for (const [name, header] of Object.entries(doc.headers ?? {})) {
    parameters.push({ name, in: 'header', required: header.required ?? false, description: header.description, schema: { type: 'string' } });
  }
  return parameters;
}

function requestBodyOf(doc: RouteDoc) {
  if (doc.body) return { required: true, content: { 'application/json': { schema: jsonSchema(doc.body, 'input') } } };
  if (doc.rawBody) return { required: false, description: doc.rawBody.description, content: { [doc.rawBody.mediaType]: { schema: { type: 'string' } } } };
  return undefined;
}

function securityOf(operation: Operation) {
  if (operation.access !== 'public' && operation.doc.capability) return [{ bearer: [] }, {}];
  if (operation.access !== 'public') return [{ bearer: [] }];
  if (operation.doc.bearer) return [{}, { metricsToken: [] }];
  return [];
}

function describe(operation: Operation): string | undefined {
  const who =
    operation.access === 'admin'
      ? 'Needs an admin token.'
      : operation.access === 'user'
        ? operation.doc.capability
          ? `Needs a token (any user), or instead ${operation.doc.capability}.`
          : 'Needs a token (any user).'
        : '';
  const text = [operation.doc.description, who].filter(Boolean).join('\n\n');
  return text || undefined;
}

export function openApiDocument(operations: readonly Operation[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const path = openApiPath(operation.path);
    const parameters = parametersOf(operation);
    const requestBody = requestBodyOf(operation.doc);
    const description = describe(operation);
    paths[path] ??= {};
    paths[path][operation.method.toLowerCase()] = {
      operationId: operationIdOf(operation.method, operation.path),
      summary: operation.doc.summary,
      ...(description ? { description } : {}),
      tags: [operation.doc.tag],
      security: securityOf(operation),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: Object.fromEntries([...operation.answers].map(([status, answer]) => [String(status), responseOf(answer)])),
      ...(operation.frames
        ? { 'x-herald-frames': { clientToServer: jsonSchema(operation.frames.client, 'input'), serverToClient: jsonSchema(operation.frames.server, 'output') } }
        : {}),
    };
  }
  const usedTags = new Set(operations.map((o) => o.doc.tag));
  return {
    openapi: '3.1.0' as const,
    info: {
      title: 'Herald API',
      version: '1.0.0',
      description:
        'Multi-channel notification exchange: REST in; realtime WebSocket, push, email and SMS out. ' +
        'Errors are RFC 9457 problem+json with a stable `code`. docs/api.md and docs/errors.md in the Herald repository describe the semantics.',
    },
    tags: (Object.keys(TAGS) as Tag[]).filter((tag) => usedTags.has(tag)).map((name) => ({ name, description: TAGS[name] })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A Herald JWT: `sub` is the uid; admin tokens carry the admin role claim' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'HERALD_METRICS_TOKEN, when it is set' },
      },
      schemas: { Problem: jsonSchema(problem, 'output') },
    },
    paths,
  };
}
