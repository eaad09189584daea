/**
 * The distributed (Cassandra) Stores. `createCassandraStores` opens its own driver client on
 * a keyspace that `migrateCassandra` (`herald migrate`) has brought up to date, and `close()`
 * shuts that client down. It refuses a keyspace that is missing or older than this code with
 * an error that says to run `herald migrate`; a cluster it cannot reach is a
 * StoreUnavailableError. Reads and writes use the configured consistency (LOCAL_QUORUM by
 * default), conditional writes its serial counterpart; schema and query design: schema.ts.
 */
import cassandra from 'cassandra-driver';
import type { Stores } from '../port.js';
import { assertKeyspaceName, type CassandraConnectOptions, cqlSession, createCassandraClient } from './client.js';
import { createCassandraDeviceStore } from './device-store.js';
import { createCassandraErasureStore } from './erase-user.js';
import { cassandraCall } from './errors.js';
import { createCassandraInboxStore } from './inbox-store.js';
import { createCassandraMessageStore } from './message-store.js';
import { LATEST_CASSANDRA_VERSION } from './migrate.js';
import { createCassandraReceiptStore } from './receipt-store.js';
import { createCassandraRecipientStore } from './recipient-store.js';
import { createCassandraTimelineStore } from './timeline-store.js';
import { createCassandraUserStore } from './user-store.js';

export type { CassandraConnectOptions, CassandraConsistency } from './client.js';
export { isTransientCassandraError } from './errors.js';
export { type CassandraReplication, type MigrateCassandraOptions, migrateCassandra } from './migrate.js';

export interface CassandraStoresOptions extends CassandraConnectOptions {
  keyspace: string;
}

/** How long `healthy()` waits for an answer. */
const HEALTH_TIMEOUT_MS = 2_000;

const isInvalidRequest = (error: unknown) => error instanceof cassandra.errors.ResponseError && error.code === cassandra.types.responseErrorCodes.invalid;

async function assertMigrated(client: cassandra.Client, keyspace: string): Promise<void> {
  const notMigrated = (detail: string, cause?: unknown) =>
    new Error(`Cassandra keyspace "${keyspace}" ${detail}: run \`herald migrate\` first`, cause === undefined ? undefined : { cause });
  let versions: number[];
  try {
    const result = await cassandraCall(() => client.execute(`SELECT version FROM ${keyspace}.schema_migrations`, [], { prepare: false }));
    versions = result.rows.map((row) => Number(row.get('version')));
  } catch (error) {
    if (isInvalidRequest(error)) throw notMigrated('has no schema', error);
    throw error;
  }
  const current = Math.max(0, ...versions);
  if (current < LATEST_CASSANDRA_VERSION) throw notMigrated(`is at schema version ${current}, this Herald needs ${LATEST_CASSANDRA_VERSION}`);
}

export async function createCassandraStores(options: CassandraStoresOptions): Promise<Stores> {
  // Connect before choosing the keyspace, so a missing keyspace is reported as "not migrated"
  // rather than as an unreachable cluster; `USE` then binds every pooled connection to it.
  assertKeyspaceName(options.keyspace);
  const client = createCassandraClient({ ...options, keyspace: undefined });
  try {
    await cassandraCall(() => client.connect());
    await assertMigrated(client, options.keyspace);
    await cassandraCall(() => client.execute(`USE ${options.keyspace}`));
  } catch (error) {
    await client.shutdown();
    throw error;
  }
  const session = cqlSession(client, options.consistency);
  const messages = createCassandraMessageStore(session);
  return {
    messages,
    inbox: createCassandraInboxStore(session, messages),
    timelines: createCassandraTimelineStore(session, messages),
    receipts: createCassandraReceiptStore(session),
    users: createCassandraUserStore(session),
    devices: createCassandraDeviceStore(session),
    erasure: createCassandraErasureStore(session),
    recipients: createCassandraRecipientStore(session),
    healthy: async () => {
      try {
        await session.execute('SELECT release_version FROM system.local', [], { readTimeout: HEALTH_TIMEOUT_MS });
        return true;
      } catch {
        return false;
      }
    },
    close: () => client.shutdown(),
  };
}
