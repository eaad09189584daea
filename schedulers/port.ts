/**
 * Scheduler port: work that must happen later — scheduled sends, fallback steps, retries.
 *
 * Contract (test/contract/scheduler.contract.ts):
 *  - `schedule` resolves once the job is durable: it fires after a crash and restart.
 *  - Jobs are identified by `id`; scheduling an existing id replaces it (same id, new time or payload).
 *  - A job fires at or after `runAt`, once per successful handler run (at-least-once: a crash
 *    during the handler fires it again). A handler that throws is retried with backoff.
 *  - `cancel` of a job that has not fired prevents it; true when a job was removed.
 *  - Handlers are registered per `kind` before `start`; jobs of a kind nobody handles wait.
 */
import { type Backoff, backoffDelay } from '../src/retry.js';

/** Every adapter's default retry delay of a job whose handler threw: 1 s doubling, at most 5 min. */
export const JOB_RETRY_BACKOFF: Backoff = { firstMs: 1_000, maxMs: 5 * 60_000, growth: 'doubling' };
export const defaultJobBackoff = (attempts: number): number => backoffDelay(JOB_RETRY_BACKOFF, attempts);

export interface Job<P = unknown> {
  id: string;
  kind: string;
  runAt: number;
  payload: P;
}

export type JobHandler<P = unknown> = (job: Job<P>) => Promise<void>;

export interface Scheduler {
  schedule<P>(job: Job<P>): Promise<void>;
  cancel(id: string): Promise<boolean>;
  handle<P>(kind: string, handler: JobHandler<P>): void;
  /** Begins firing due jobs. */
  start(): Promise<void>;
  /** Stops firing; in-flight handlers finish first. */
  stop(): Promise<void>;
  /** Jobs waiting to fire (for metrics). */
  pending(): Promise<number>;
}
