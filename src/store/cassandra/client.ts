/**
 * The Cassandra connection the stores share, and the few helpers every store uses:
 *  - `createCassandraClient` builds a driver client with Herald's defaults: local data center
 *    `datacenter1`, protocol v4 (what Cassandra 4/5 speak to this driver without negotiation),
 *    LOCAL_QUORUM reads and writes (LOCAL_SERIAL for conditional writes; SERIAL with QUORUM),
 *    prepared statements, and driver warnings / errors sent to the logger.
 *  - `cqlSession` wraps a client so that every call is prepared (`prepare: true`) and every
 *    transient driver error becomes `StoreUnavailableError` (errors.ts). `rows` pages through a
 *    result with the driver's paging state, so nothing is ever read unbounded into memory.
 *    `write` sends plain writes with the others of the same event-loop turn (turn-batch.ts).
 *  - `long`, `text`, `mapLimit`: decoding bigint columns and bounded parallel point reads.
 */
import cassandra from 'cassandra-driver';
import type { Logger } from '../../observability/log.js';
import { cassandraCall } from './errors.js';
import { createTurnBatch } from './turn-batch.js';

const { types } = cassandra;

export type CassandraConsistency = 'LOCAL_QUORUM' | 'QUORUM' | 'ONE' | 'LOCAL_ONE';

export const DEFAULT_LOCAL_DATA_CENTER = 'datacenter1';
export const DEFAULT_CONSISTENCY: CassandraConsistency = 'LOCAL_QUORUM';
/** Rows per page when a store pages through a result. */
export const DEFAULT_FETCH_SIZE = 500;
/** Point reads / writes a store keeps in flight at once for one call. */
export const DEFAULT_CONCURRENCY = 32;
/**
 * Partition keys per `WHERE key IN ?` read (getPreferencesMany, listByUsers): one request
 * instead of one per key — the coordinator reads the partitions itself, sparing the native
 * protocol round trip and request overhead per key — small enough not to hold up the
 * coordinator or trip partition_keys_in_select guardrails.
 */
export const IN_KEYS = 100;

export interface CassandraConnectOptions {
  /** "host" or "host:port" (port 9042 when omitted). */
  contactPoints: string[];
  localDataCenter?: string;
  consistency?: CassandraConsistency;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

const CONSISTENCY: Record<CassandraConsistency, number> = {
  LOCAL_QUORUM: types.consistencies.localQuorum,
  QUORUM: types.consistencies.quorum,
  ONE: types.consistencies.one,
  LOCAL_ONE: types.consistencies.localOne,
};

const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/** Keyspace names are spliced into CQL (DDL cannot bind them): only plain lower-case identifiers. */
export function assertKeyspaceName(keyspace: string): void {
  if (!KEYSPACE_NAME.test(keyspace)) {
    throw new Error(`Cassandra keyspace ${JSON.stringify(keyspace)} is not a lower-case CQL identifier (${KEYSPACE_NAME})`);
  }
}

/** The consistency of conditional writes and serial reads that goes with `consistency`. */
export const serialConsistencyFor = (consistency: CassandraConsistency): number =>
  consistency === 'QUORUM' ? types.consistencies.serial : types.consistencies.localSerial;

export function createCassandraClient(options: CassandraConnectOptions & { keyspace?: string }): cassandra.Client {
  if (options.contactPoints.length === 0) throw new Error('Cassandra needs at least one contact point');
  if (options.keyspace !== undefined) assertKeyspaceName(options.keyspace);
  const consistency = options.consistency ?? DEFAULT_CONSISTENCY;
  const client = new cassandra.Client({
    contactPoints: options.contactPoints,
    localDataCenter: options.localDataCenter ?? DEFAULT_LOCAL_DATA_CENTER,
    ...(options.keyspace !== undefined ? { keyspace: options.keyspace } : {}),
    protocolOptions: { maxVersion: types.protocolVersion.v4 },
    queryOptions: {
      consistency: CONSISTENCY[consistency],
      serialConsistency: serialConsistencyFor(consistency),
      prepare: true,
      fetchSize: DEFAULT_FETCH_SIZE,
    },
  });
  const logger = options.logger;
  if (logger) {
    client.on('log', (level: string, className: string, message: string) => {
      if (level === 'warning') logger.warn({ component: 'cassandra', className }, message);
      else if (level === 'error') logger.error({ component: 'cassandra', className }, message);
    });
  }
  return client;
}

export type Params = unknown[];
export interface Statement {
  query: string;
  params: Params;
}

export interface CqlSession {
  readonly client: cassandra.Client;
  /** For reads that must see the latest conditional write (a Paxos read). */
  readonly serialConsistency: number;
  execute(query: string, params?: Params, options?: cassandra.QueryOptions): Promise<cassandra.types.ResultSet>;
  /** Every row of the result, fetched `fetchSize` at a time; stop iterating to stop fetching. */
  rows(query: string, params: Params, fetchSize?: number): AsyncGenerator<cassandra.types.Row>;
  /**
   * A logged batch keeps denormalised copies in step (all or nothing, eventually); unlogged only
   * groups them into one request (applied in part when it fails). One statement goes as itself.
   */
  batch(statements: Statement[], logged: boolean, options?: Pick<cassandra.QueryOptions, 'timestamp'>): Promise<void>;
  /** Runs independent statements with at most `concurrency` in flight; rejects on the first error. */
  concurrently(statements: Statement[], concurrency?: number): Promise<void>;
  /**
   * Plain, idempotent writes (no condition, no batch-wide timestamp) in one request, sent with
   * the other plain writes of this event-loop turn (turn-batch.ts).
   */
  write(statements: Statement[]): Promise<void>;
}

export function cqlSession(client: cassandra.Client, consistency: CassandraConsistency = DEFAULT_CONSISTENCY): CqlSession {
  const execute = (query: string, params: Params = [], options: cassandra.QueryOptions = {}) =>
    cassandraCall(() => client.execute(query, params, { ...options, prepare: true }));
  const batch = async (statements: Statement[], logged: boolean, options: Pick<cassandra.QueryOptions, 'timestamp'> = {}) => {
    const [only] = statements;
    if (!only) return;
    if (statements.length === 1) {
      await execute(only.query, only.params, options);
      return;
    }
    await cassandraCall(() => client.batch(statements, { ...options, prepare: true, logged }));
  };
  return {
    client,
    serialConsistency: serialConsistencyFor(consistency),
    execute,
    async *rows(query, params, fetchSize = DEFAULT_FETCH_SIZE) {
      let pageState: string | undefined;
      do {
        const result = await execute(query, params, { fetchSize, autoPage: false, ...(pageState ? { pageState } : {}) });
        yield* result.rows;
        pageState = result.pageState ?? undefined;
      } while (pageState);
    },
    batch,
    write: createTurnBatch((statements) => batch(statements, false)),
    concurrently: async (statements, concurrency = DEFAULT_CONCURRENCY) => {
      if (statements.length === 0) return;
      await cassandraCall(() =>
        cassandra.concurrent.executeConcurrent(client, statements as Array<{ query: string; params: unknown[] }>, {
          concurrencyLevel: concurrency,
          raiseOnFirstError: true,
        }),
      );
    },
  };
}

/** A bigint column as a number (epoch milliseconds fit well inside 2^53); null stays null. */
export function long(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (value instanceof types.Long) return value.toNumber();
  if (typeof value === 'bigint') return Number(value);
  throw new TypeError(`expected a bigint column, got ${typeof value}`);
}

/** A text column; null when unset. */
export function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  throw new TypeError(`expected a text column, got ${typeof value}`);
}

/** `items` in consecutive chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
