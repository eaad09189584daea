import { type Logger, pino } from 'pino';
import { stdoutDestination } from './log-destination.js';

export type { Logger };

/** Fields of an error worth logging; everything else (request configs, headers, bodies) is dropped. */
const ERROR_FIELDS = ['name', 'message', 'code', 'status', 'statusCode', 'responseCode', 'errno', 'syscall', 'moreInfo', 'reason'] as const;

/**
 * Serialises errors by allow-list. Provider libraries attach the request they made to their
 * errors (Twilio's carries `Authorization: Basic …`, axios-style errors their config), and
 * path-based redaction only reaches known depths, so an error keeps only the fields above, its
 * stack, and its cause (serialised the same way).
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 3) return typeof error === 'object' ? String(error) : error;
  const record = error as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type: error.constructor.name };
  for (const field of ERROR_FIELDS) {
    const value = record[field];
    if (value !== undefined && (typeof value !== 'object' || value === null)) out[field] = value;
  }
  out.stack = error.stack;
  if (error.cause !== undefined) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

/**
 * JSON logs with pino. Secrets never reach the log: errors are serialised by allow-list, and
 * fields that look like credentials are redacted by path. Request logs carry ids and routes,
 * never tokens or bodies. Without a destination they go to standard output through
 * `stdoutDestination` (src/observability/log-destination.ts), which never blocks serving.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald' },
      serializers: { err: serializeError, error: serializeError },
      redact: {
        paths: ['authorization', 'token', 'ticket', 'secret', 'password', '*.authorization', '*.token', '*.secret', '*.password', '*.privateKey'],
        censor: '[redacted]',
      },
    },
    destination ?? stdoutDestination(),
  );
}
