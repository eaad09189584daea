/**
 * Checks an answer against its route's document: the status is one the route documents
 * (route-answers.ts), and the body, as it goes on the wire (JSON round trip), matches that
 * status's schema — a problem+json body with one of the documented codes, or the declared body.
 * Used only when response checking is on (tests: test/helpers/herald.ts); production never
 * pays for it.
 */
import { PROBLEM_CODES } from '../errors.js';
import { problem } from './responses.js';
import type { Answer, Route, RouteResult } from './route.js';
import { answersOf } from './route-answers.js';

export interface ResponseMismatch {
  method: string;
  path: string;
  status: number;
  /** What is wrong, naming the fields at fault. */
  problem: string;
  /** The body as answered (truncated). */
  body: string;
}

const answersByRoute = new WeakMap<Route, Map<number, Answer>>();

/** Why `result` breaks `route`'s document, or undefined when it does not. */
export function checkResponse(route: Route, result: RouteResult): ResponseMismatch | undefined {
  let answers = answersByRoute.get(route);
  if (!answers) {
    answers = answersOf(route);
    answersByRoute.set(route, answers);
  }
  const text = result.text ?? (result.body === undefined ? undefined : JSON.stringify(result.body));
  const mismatch = (problemText: string): ResponseMismatch => ({
    method: route.method,
    path: route.path,
    status: result.status,
    problem: problemText,
    body: (text ?? '').slice(0, 500),
  });
  const declared = answers.get(result.status);
  if (!declared) return mismatch(`status ${result.status} is not documented (documented: ${[...answers.keys()].join(', ')})`);
  const schemaless = declared.body === undefined && (declared.codes ?? []).length === 0;
  if (text === undefined || text === '') return schemaless ? undefined : mismatch('no body, but the document gives this status one');
  if (schemaless) return declared.mediaType ? undefined : mismatch('a body, but the document gives this status none');
  if (result.text !== undefined && !declared.mediaType?.includes('json')) return undefined;

  const wire: unknown = JSON.parse(text);
  const problems: string[] = [];
  if (declared.codes && declared.codes.length > 0) {
    const parsed = problem.safeParse(wire);
    if (parsed.success) {
      const body = parsed.data;
      if (!declared.codes.includes(body.code))
        return mismatch(`problem code ${body.code} is not documented for ${result.status} (documented: ${declared.codes.join(', ')})`);
      if (body.status !== result.status || PROBLEM_CODES[body.code].status !== result.status)
        return mismatch(`problem status ${body.status} (${body.code}) on a ${result.status}`);
      return undefined;
    }
    problems.push(`as problem+json: ${issues(parsed.error.issues)}`);
  }
  if (declared.body) {
    const parsed = declared.body.safeParse(wire);
    if (parsed.success) return undefined;
    problems.push(issues(parsed.error.issues));
  }
  return mismatch(problems.join(' | '));
}

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  /** A union's issues, per alternative. */
  errors?: Issue[][];
}

/** The first issues, each with its path; a union's with every alternative's own issues. */
const issues = (list: readonly Issue[], prefix: PropertyKey[] = []): string =>
  list
    .slice(0, 5)
    .map((issue) => {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
        return issue.errors.map((alternative) => `(${issues(alternative, path)})`).join(' or ');
      }
      return `${path.map(String).join('.') || '(body)'}: ${issue.message}`;
    })
    .join('; ');
