/**
 * Steps of a graceful stop. Each step is bounded and contained: it may fail or hang, and the
 * next steps (closing the stores above all) still run. The step's timer is not unref'd on
 * purpose: while a step is pending it keeps the process alive, so the event loop running dry
 * (no sockets left, a drain that never resolves) can never end the process before the stores
 * are closed.
 */
import type { Logger } from './observability/log.js';

/** How long a closing step (a channel, presence, search, the stores) may take. */
export const CLOSE_STEP_MS = 5_000;

/**
 * The least time in-flight workers get to finish when draining requests used up the grace
 * period. Work cut short is not lost: its job is not completed, or its delivery is still
 * `queued`, so it runs again after the restart (recovery), and delivery is idempotent per device.
 */
export const MIN_WORKER_STOP_MS = 1_000;

/** Runs `work`, waiting at most `timeoutMs`; a failure or a timeout is logged, never thrown. */
export async function shutdownStep(log: Logger, name: string, work: () => unknown, timeoutMs: number = CLOSE_STEP_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(work), timeout]);
    if (outcome === 'timeout') log.warn({ step: name, timeoutMs }, 'shutdown step did not finish in time; going on');
  } catch (error) {
    log.warn({ err: error, step: name }, 'shutdown step failed; going on');
  } finally {
    clearTimeout(timer);
  }
}
