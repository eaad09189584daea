/**
 * Every error a client can see, with its stable `code`. docs/errors.md documents each code and
 * test/unit/errors.test.ts fails when one is missing there.
 */
export const PROBLEM_CODES = {
  HERALD_INVALID_REQUEST: { status: 400, title: 'Invalid request' },
  HERALD_INVALID_JSON: { status: 400, title: 'Malformed JSON body' },
  HERALD_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  HERALD_FORBIDDEN: { status: 403, title: 'Forbidden' },
  HERALD_NOT_FOUND: { status: 404, title: 'Not found' },
  HERALD_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  HERALD_IDEMPOTENCY_CONFLICT: { status: 409, title: 'Idempotency key reused with a different body' },
  HERALD_DEVICE_LIMIT: { status: 409, title: 'Too many devices for this user' },
  HERALD_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  HERALD_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  HERALD_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HERALD_INTERNAL: { status: 500, title: 'Internal error' },
  HERALD_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
} as const;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export interface FieldError {
  /** Dotted path of the offending field or query parameter, e.g. `opts.urgency` or `limit`. */
  path: string;
  message: string;
}

/** An error answered to the client as RFC 9457 problem+json. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  readonly status: number;

  constructor(
    readonly code: ProblemCode,
    detail: string,
    readonly extra: { errors?: FieldError[]; retryAfterSeconds?: number; allow?: string[]; headers?: Record<string, string> } = {},
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.status = PROBLEM_CODES[code].status;
  }
}

export const invalid = (errors: FieldError[]): ProblemError =>
  new ProblemError('HERALD_INVALID_REQUEST', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
