/**
 * Where Herald's logs go by default: standard output, written so that logging can never stop
 * serving, nor exiting. pino's default destination writes synchronously and, on a full pipe (a
 * log collector that stalls), sleeps and retries in a loop that blocks the event loop: no request
 * is answered and no signal handled. This one writes asynchronously (sonic-boom, pino's own),
 * buffers at most MAX_BUFFERED_BYTES while the reader is slow and drops lines beyond that, and
 * when the reader has gone (EPIPE: `herald serve | head -1`) it drops every later line instead of
 * failing. What is still buffered at exit is written then, unless the reader is gone or takes
 * nothing for about a second. (pino's own exit flush, on sonic-boom 4, retried a write that failed
 * with EPIPE forever: a process whose reader had gone never exited.)
 */
import type { pino } from 'pino';
import sonicBoom from 'sonic-boom';

/** Log text held while standard output does not keep up; lines past it are dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface LogDestination extends pino.DestinationStream {
  /** Resolves once what is buffered is written, or after `timeoutMs` when the reader does not take it. */
  drain(timeoutMs: number): Promise<void>;
}

/** Waits of 100 ms (sonic-boom's) for a reader that takes nothing, when flushing at exit. */
const EXIT_FLUSH_RETRIES = 10;

/** One destination per descriptor, however many loggers a process makes (tests make many). */
const destinations = new Map<number, LogDestination>();

export function stdoutDestination(fd = 1): LogDestination {
  let destination = destinations.get(fd);
  if (!destination) {
    destination = createDestination(fd);
    destinations.set(fd, destination);
  }
  return destination;
}

function createDestination(fd: number): LogDestination {
  let broken = false;
  /** Set while flushing at exit: how many more waits a full pipe is given. */
  let exitRetries: number | undefined;
  const stream = new sonicBoom.SonicBoom({
    fd,
    sync: false,
    maxLength: MAX_BUFFERED_BYTES,
    // While serving, a slow reader is waited for (lines past maxLength are dropped meanwhile).
    retryEAGAIN: () => exitRetries === undefined || exitRetries-- > 0,
  });
  stream.on('error', () => {
    broken = true;
  });
  process.once('exit', () => {
    if (broken) return;
    exitRetries = EXIT_FLUSH_RETRIES;
    try {
      stream.flushSync();
    } catch {
      // The reader has gone or takes nothing: what is left is dropped.
    }
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
