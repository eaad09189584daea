/**
 * Where Herald's logs go by default: standard output, written so that logging can never stop
 * serving. pino's default destination writes synchronously and, on a full pipe (a log collector
 * that stalls), sleeps and retries in a loop that blocks the event loop: no request is answered
 * and no signal handled. This one writes asynchronously (sonic-boom, pino's own), buffers at
 * most MAX_BUFFERED_BYTES while the reader is slow and drops lines beyond that, and when the
 * reader has gone (EPIPE: `herald serve | head -1`) it drops every later line instead of failing.
 */
import { pino } from 'pino';

/** Log text held while standard output does not keep up; lines past it are dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface LogDestination extends pino.DestinationStream {
  /** Resolves once what is buffered is written, or after `timeoutMs` when the reader does not take it. */
  drain(timeoutMs: number): Promise<void>;
}

export function stdoutDestination(fd = 1): LogDestination {
  const stream = pino.destination({ dest: fd, sync: false, maxLength: MAX_BUFFERED_BYTES });
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  return {
    write(line: string) {
      if (broken) return;
      try {
        stream.write(line);
      } catch {
        broken = true;
      }
    },
    drain(timeoutMs) {
      if (broken) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        try {
          stream.flush(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    },
  };
}
