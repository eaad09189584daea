/**
 * HeraldError: every failure the SDK reports. An answer of the API is RFC 9457
 * application/problem+json (docs/errors.md): its `status`, stable `code`, `detail` and field
 * `errors` are copied. A request that got no answer (network down, CORS refused) has status 0 and
 * code `HERALD_NETWORK`; an answer that is not a problem keeps its status with code `HERALD_HTTP`.
 */

export interface FieldError {
  path: string;
  message: string;
}

export class HeraldError extends Error {
  override name = 'HeraldError';
  /** The HTTP status; 0 when there was no answer (or nothing HTTP was involved). */
  readonly status: number;
  /** A HERALD_* code: the API's (docs/errors.md), or one of the SDK's own (HERALD_NETWORK, HERALD_HTTP, HERALD_UNSUPPORTED, HERALD_PERMISSION, HERALD_CLOSED). */
  readonly code: string;
  readonly detail: string;
  /** Every invalid field the API named. */
  readonly errors: FieldError[];
  /** Seconds the API asked to wait (Retry-After), when it said. */
  readonly retryAfter: number | undefined;
  /** The X-Request-Id of the answer, to find it in Herald's logs; with a 500, `errorId` too. */
  readonly requestId: string | undefined;
  readonly errorId: string | undefined;

  constructor(
    init: { status: number; code: string; detail: string; errors?: FieldError[]; retryAfter?: number; requestId?: string; errorId?: string },
    options?: { cause?: unknown },
  ) {
    super(`${init.code}: ${init.detail}`, options);
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
    this.errorId = init.errorId;
  }

  /** Worth retrying later: no answer, 429, or a 5xx. Other 4xx answers will not change by themselves. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** The HeraldError of an answer that is not a success. */
export async function errorOf(response: Response): Promise<HeraldError> {
  const retry = Number(response.headers.get('retry-after'));
  const common = {
    status: response.status,
    ...(retry > 0 ? { retryAfter: retry } : {}),
    ...(response.headers.get('x-request-id') ? { requestId: response.headers.get('x-request-id') as string } : {}),
  };
  const text = await response.text().catch(() => '');
  if (/[/+]json/.test(response.headers.get('content-type') ?? '')) {
    try {
      const body = JSON.parse(text) as { code?: unknown; detail?: unknown; errors?: unknown; errorId?: unknown };
      if (typeof body.code === 'string') {
        return new HeraldError({
          ...common,
          code: body.code,
          detail: typeof body.detail === 'string' ? body.detail : response.statusText,
          ...(Array.isArray(body.errors) ? { errors: body.errors as FieldError[] } : {}),
          ...(typeof body.errorId === 'string' ? { errorId: body.errorId } : {}),
        });
      }
    } catch {
      // not JSON after all: reported as HERALD_HTTP below
    }
  }
  return new HeraldError({ ...common, code: 'HERALD_HTTP', detail: text.slice(0, 200) || `HTTP ${response.status}` });
}

export const networkError = (cause: unknown): HeraldError =>
  new HeraldError({ status: 0, code: 'HERALD_NETWORK', detail: cause instanceof Error ? cause.message : String(cause) }, { cause });
