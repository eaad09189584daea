/**
 * Turning the bytes of a request into trusted input, or into a 4xx ProblemError that names the
 * part at fault. Every function here may be handed hostile input and never throws anything but
 * a ProblemError:
 *
 * - path parameters are percent-decoded (a bad escape such as `%`, `%zz` or a truncated UTF-8
 *   sequence is a 400 naming the parameter, never a URIError);
 * - a body is accepted only as `application/json` or `application/*+json` (415 otherwise);
 * - JSON bodies are parsed, then walked without recursion: nesting deeper than
 *   MAX_JSON_DEPTH, and the keys `__proto__`, `constructor` and `prototype` anywhere, are 400s
 *   naming the path (they would otherwise reach objects built from the input).
 */
import { type FieldError, invalid, ProblemError } from '../errors.js';

/** Deepest nesting of arrays and objects a JSON body may have. Herald's own bodies need 4. */
export const MAX_JSON_DEPTH = 16;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/** Decodes each named parameter of a uWS route from its raw (still escaped) value. */
export function decodeParams(names: readonly string[], raw: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  const errors: FieldError[] = [];
  names.forEach((name, index) => {
    try {
      params[name] = decodeURIComponent(raw[index] ?? '');
    } catch {
      errors.push({ path: name, message: 'is not valid percent-encoded UTF-8' });
    }
  });
  if (errors.length > 0) throw invalid(errors);
  return params;
}

/** The query string as URLSearchParams. Bad escapes are kept as written (the WHATWG rule), not thrown. */
export const parseQuery = (raw: string): URLSearchParams => new URLSearchParams(raw);

/** Throws 415 unless `contentType` is a JSON media type; a request without a body needs none. */
export function requireJsonContentType(contentType: string | undefined, hasBody: boolean): void {
  if (!hasBody && !contentType) return;
  const mediaType = (contentType ?? '').split(';')[0]?.trim() ?? '';
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    throw new ProblemError(
      'HERALD_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json, not ${mediaType ? `"${mediaType.slice(0, 64)}"` : 'missing'} (curl: use --json)`,
      { errors: [{ path: 'content-type', message: 'must be application/json' }] },
    );
  }
}

/** Parses a JSON body (empty is `undefined`) and checks its shape is safe to hand to schemas. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ProblemError('HERALD_INVALID_JSON', `body is not valid JSON: ${(error as Error).message}`);
  }
  checkShape(value);
  return value;
}

/** Walks the parsed value with an explicit stack: depth and key checks cannot overflow the call stack. */
function checkShape(root: unknown): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string; depth: number };
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw invalid([{ path: path || '(body)', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }]);
    }
    const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value);
    for (const [key, child] of entries) {
      const childPath = path ? `${path}.${key}` : key;
      if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) throw invalid([{ path: childPath, message: 'is a reserved key' }]);
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
}
