/**
 * RFC 9457 problem+json bodies, shared by the API and the gateway's WebSocket upgrade. This is
 * the one place an error becomes a problem code: the HTTP edges throw ProblemErrors, the layers
 * below throw their own types (pipeline, auth, the store and bus ports) and `asProblem` maps
 * each; anything else is a safe 500 with an errorId.
 */
import { randomUUID } from 'node:crypto';
import { TokenKeysUnavailableError, TokenRejectedError } from './auth/errors.js';
import { BusUnavailableError } from './bus/port.js';
import { PROBLEM_CODES, type ProblemCode, ProblemError } from './errors.js';
import { IdempotencyConflictError } from './pipeline/errors.js';
import { StoreUnavailableError } from './store/port.js';
import { TicketLedgerUnavailableError } from './ticket-ledger/port.js';

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

/** The problem a client is answered with for `error`; undefined for an unexpected error (a 500). */
function asProblem(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError) return error;
  const unavailable = (detail: string) => new ProblemError('HERALD_UNAVAILABLE', detail, { retryAfterSeconds: RETRY_AFTER_UNAVAILABLE }, { cause: error });
  if (error instanceof StoreUnavailableError) return unavailable('store unavailable, retry later');
  if (error instanceof BusUnavailableError) return unavailable('bus unavailable, retry later');
  if (error instanceof TokenKeysUnavailableError) return unavailable(error.message);
  if (error instanceof TicketLedgerUnavailableError) return unavailable('ticket ledger unavailable, retry later');
  if (error instanceof TokenRejectedError) return new ProblemError('HERALD_UNAUTHORIZED', error.message, {}, { cause: error });
  if (error instanceof IdempotencyConflictError) {
    return new ProblemError(
      'HERALD_IDEMPOTENCY_CONFLICT',
      error.message,
      { errors: [{ path: 'opts.idempotencyKey', message: 'already used with a different body' }] },
      { cause: error },
    );
  }
  return undefined;
}

export function problemOf(unknownError: unknown): { body: ProblemBody; headers: Record<string, string>; internal?: unknown } {
  const error = asProblem(unknownError);
  if (error) {
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
    internal: unknownError,
  };
}
