/**
 * The refusals the pipeline throws, as pipeline types: the pipeline knows nothing of HTTP, and
 * src/problem.ts maps each to the problem code a client sees.
 */

/** An idempotency key came back with a different request than the one it was first used with. */
export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';

  constructor(readonly key: string) {
    super(`idempotency key "${key}" was used with a different request`);
  }
}
