/**
 * Runs a synchronous better-sqlite3 operation behind the async store ports, translating the
 * errors that mean "try later" (lock contention past busy_timeout, I/O failure, full disk, a
 * closed connection) into `StoreUnavailableError`. Every other error is rethrown unchanged: a bug.
 */
import { StoreUnavailableError } from '../store/port.js';

const TRANSIENT_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/;

export function isTransientSqliteError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.test(code)) return true;
  return error instanceof TypeError && /database connection is not open/i.test(error.message);
}

export async function sqlite<T>(operation: () => T): Promise<T> {
  try {
    return operation();
  } catch (error) {
    if (isTransientSqliteError(error)) {
      throw new StoreUnavailableError((error as Error).message, { cause: error });
    }
    throw error;
  }
}
