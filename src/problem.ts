/** RFC 9457 problem+json bodies from ProblemErrors (and a safe 500 for anything else); shared by the API and the gateway. */
import { randomUUID } from 'node:crypto';
import { BusUnavailableError } from './bus/port.js';
import { PROBLEM_CODES, type ProblemCode, ProblemError } from './errors.js';
import { StoreUnavailableError } from './store/port.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  errors?: Array<{ path: string; message: string }>;
  errorId?: string;
}

export const PROBLEM_TYPE_BASE = 'https://herald.dev/problems/';

/** Seconds a client is asked to wait when a dependency is down. */
const RETRY_AFTER_UNAVAILABLE = 5;

export function problemOf(error: unknown): { body: ProblemBody; headers: Record<string, string>; internal?: unknown } {
  if (error instanceof StoreUnavailableError || error instanceof BusUnavailableError) {
    return problemOf(
      new ProblemError(
        'HERALD_UNAVAILABLE',
        `${error.name === 'BusUnavailableError' ? 'bus' : 'store'} unavailable, retry later`,
        { retryAfterSeconds: RETRY_AFTER_UNAVAILABLE },
        { cause: error },
      ),
    );
  }
  if (error instanceof ProblemError) {
    const headers: Record<string, string> = { ...error.extra.headers };
    if (error.extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.extra.retryAfterSeconds);
    if (error.extra.allow) headers.allow = error.extra.allow.join(', ');
    return {
      body: {
        type: PROBLEM_TYPE_BASE + error.code.toLowerCase().replace(/_/g, '-'),
        title: PROBLEM_CODES[error.code].title,
        status: error.status,
        detail: error.message,
        code: error.code,
        ...(error.extra.errors ? { errors: error.extra.errors } : {}),
      },
      headers,
    };
  }
  const errorId = randomUUID();
  return {
    body: {
      type: `${PROBLEM_TYPE_BASE}herald-internal`,
      title: PROBLEM_CODES.HERALD_INTERNAL.title,
      status: 500,
      detail: `unexpected error; quote errorId ${errorId} to the operator`,
      code: 'HERALD_INTERNAL',
      errorId,
    },
    headers: {},
    internal: error,
  };
}
