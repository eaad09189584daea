/** The OpenAPI 3.1 document of API v1, generated from the same zod schemas that validate requests. */
import { z } from 'zod';
import * as schemas from './schemas.js';

const bodySchema = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) } },
});

const problem = { description: 'Error (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
const header = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } });
/** HERALD_RATE_* (src/api/rate-limits.ts): any route may answer it to a request without a valid token. */
const rateLimited = {
  ...problem,
  description: 'Rate limited (HERALD_RATE_LIMITED)',
  headers: {
    'Retry-After': header('Seconds to wait before retrying (at least 1)'),
    'RateLimit-Limit': header('The limit that refused, per its window'),
    'RateLimit-Remaining': header('What is left of it (0)'),
    'RateLimit-Reset': header('Seconds until it resets'),
  },
};
const errors = { '400': problem, '401': problem, '403': problem, '413': problem, '429': rateLimited, '503': problem };
const bearer = [{ bearer: [] }];

function queryParameters(schema: z.ZodObject) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

export function openApiDocument() {
  const accepted = (extra: Record<string, unknown> = {}) => ({
    '202': {
      description: 'Accepted: stored durably',
      content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' }, ...extra } } } },
    },
    ...errors,
    '409': problem,
  });
  return {
    openapi: '3.1.0',
    info: { title: 'Herald API', version: '1.0.0', description: 'Multi-channel notification exchange. See API.md for semantics.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
            errorId: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/api/v1/ping': { get: { responses: { '200': { description: 'Alive' } } } },
      '/api/v1/send': { post: { security: bearer, requestBody: bodySchema(schemas.sendBody), responses: accepted() } },
      '/api/v1/multicast': {
        post: { security: bearer, requestBody: bodySchema(schemas.multicastBody), responses: accepted({ recipients: { type: ['integer', 'null'] } }) },
      },
      '/api/v1/broadcast': { post: { security: bearer, requestBody: bodySchema(schemas.broadcastBody), responses: accepted() } },
      '/api/v1/native/subscribe': {
        post: {
          security: bearer,
          requestBody: bodySchema(z.union([schemas.nativeDevice, schemas.webPushSubscription])),
          responses: { '200': { description: 'Already registered' }, '201': { description: 'Registered' }, ...errors },
        },
        delete: {
          security: bearer,
          requestBody: bodySchema(z.union([schemas.nativeDevice, schemas.webPushSubscription])),
          responses: { '204': { description: 'Removed' }, '404': problem, ...errors },
        },
      },
      '/api/v1/webpush/vapid-public-key': { get: { responses: { '200': { description: 'The VAPID public key (base64url)' } } } },
      '/api/v1/users/{uid}': {
        put: {
          security: bearer,
          parameters: [{ name: 'uid', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: bodySchema(schemas.userBody),
          responses: { '200': { description: 'The user' }, ...errors },
        },
      },
      '/api/v1/preferences': {
        get: { security: bearer, responses: { '200': { description: 'The caller’s preferences' }, ...errors } },
        put: { security: bearer, requestBody: bodySchema(schemas.preferencesBody), responses: { '200': { description: 'Saved' }, ...errors } },
      },
      '/api/v1/messages': {
        get: {
          security: bearer,
          parameters: queryParameters(schemas.inboxQuery),
          responses: { '200': { description: 'Inbox page, newest first' }, ...errors },
        },
      },
      '/api/v1/messages/search': {
        get: {
          security: bearer,
          parameters: queryParameters(schemas.searchQuery),
          responses: { '200': { description: 'Matching messages, newest first' }, ...errors },
        },
      },
      '/api/v1/messages/{id}': {
        get: {
          security: bearer,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '200': { description: 'The message with its receipts' }, '404': problem, ...errors },
        },
      },
      '/api/v1/receipts': {
        post: { security: bearer, requestBody: bodySchema(schemas.receiptsBody), responses: { '204': { description: 'Recorded' }, ...errors } },
      },
      '/api/v1/reports': {
        get: { security: bearer, parameters: queryParameters(schemas.reportQuery), responses: { '200': { description: 'Counts by group' }, ...errors } },
      },
      '/api/v1/ws/token': { post: { security: bearer, responses: { '200': { description: 'A short-lived WebSocket ticket' }, ...errors } } },
      '/healthz': { get: { responses: { '200': { description: 'Healthy' }, '503': problem } } },
      '/metrics': { get: { responses: { '200': { description: 'Prometheus metrics' } } } },
    },
  };
}
