/**
 * Which Cassandra driver errors mean "try later". Decided by error class and server error
 * code, never by message text:
 *  - `NoHostAvailableError` (no node reachable, or the client was shut down),
 *    `OperationTimedOutError` (no answer within the socket read timeout) and
 *    `BusyConnectionError` (every connection at its in-flight limit);
 *  - a `ResponseError` whose code says the cluster could not serve the request now:
 *    unavailable, overloaded, bootstrapping, truncate error, read / write timeout, read / write
 *    failure (a replica failed the request; also what a conditional write whose outcome is
 *    unknown reports).
 * Everything else (syntax, invalid request, unauthorized, a missing table …) is a bug or a
 * configuration mistake and is rethrown unchanged.
 */
import cassandra from 'cassandra-driver';
import { StoreUnavailableError } from '../port.js';

const { errors, types } = cassandra;
const codes = types.responseErrorCodes;

const TRANSIENT_RESPONSE_CODES: ReadonlySet<number> = new Set([
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.truncateError,
  codes.writeTimeout,
  codes.readTimeout,
  codes.readFailure,
  codes.writeFailure,
]);

export function isTransientCassandraError(error: unknown): boolean {
  if (error instanceof errors.NoHostAvailableError) return true;
  if (error instanceof errors.OperationTimedOutError) return true;
  if (error instanceof errors.BusyConnectionError) return true;
  return error instanceof errors.ResponseError && TRANSIENT_RESPONSE_CODES.has(error.code);
}

/** Rethrows a transient driver error as `StoreUnavailableError` (with the driver error as `cause`). */
export function toStoreError(error: unknown): unknown {
  if (!isTransientCassandraError(error)) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StoreUnavailableError(`Cassandra cannot serve the request now (${reason})`, { cause: error });
}

/** Runs a driver call, translating transient errors into `StoreUnavailableError`. */
export async function cassandraCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toStoreError(error);
  }
}
