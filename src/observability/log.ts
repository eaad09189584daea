import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs with pino. Secrets never reach the log: anything that looks like a credential is
 * redacted by path, and request logs carry ids and routes, never tokens or bodies.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald' },
      redact: {
        paths: ['authorization', 'token', 'ticket', 'secret', 'password', '*.authorization', '*.token', '*.secret', '*.password', '*.privateKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
