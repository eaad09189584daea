/**
 * `herald migrate` for Cassandra: creates the keyspace (when missing) and brings its tables up
 * to date with CASSANDRA_MIGRATIONS (schema.ts), recording each applied version in
 * `<keyspace>.schema_migrations`. Idempotent: running it again applies nothing and returns [].
 * Every statement is `IF NOT EXISTS`, so a run interrupted half-way (or two runs at once) ends
 * in the same schema; the driver waits for schema agreement after each DDL statement.
 *
 * Replication of a new keyspace: a number n means NetworkTopologyStrategy with n replicas in
 * each data center the driver sees (1 for a laptop, 3 in production); a map is used as the CQL
 * replication map as given. An existing keyspace is never altered.
 */
import cassandra from 'cassandra-driver';
import { assertKeyspaceName, type CassandraConnectOptions, cqlSession, createCassandraClient } from './client.js';
import { cassandraCall } from './errors.js';
import type { MigrationCql } from './migration.js';
import { CASSANDRA_MIGRATIONS } from './schema.js';

export type CassandraReplication = number | Record<string, string | number>;

export interface MigrateCassandraOptions {
  /** Replication of the keyspace when it has to be created (default 1). */
  replication?: CassandraReplication;
}

const REPLICATION_VALUE = /^[A-Za-z0-9_.]+$/;
/** Rows a backfill reads per request. */
const BACKFILL_PAGE = 1000;

function replicationMap(client: cassandra.Client, replication: CassandraReplication): Record<string, string | number> {
  if (typeof replication !== 'number') return replication;
  if (!Number.isInteger(replication) || replication < 1) throw new Error(`replication factor must be a positive integer, got ${replication}`);
  const dataCenters = new Set<string>();
  for (const host of client.hosts.values()) dataCenters.add(host.datacenter);
  if (dataCenters.size === 0) throw new Error('the Cassandra driver sees no data center to replicate to');
  return { class: 'NetworkTopologyStrategy', ...Object.fromEntries([...dataCenters].map((dc) => [dc, replication])) };
}

function cqlMap(map: Record<string, string | number>): string {
  const entries = Object.entries(map).map(([key, value]) => {
    if (!REPLICATION_VALUE.test(key) || !REPLICATION_VALUE.test(String(value))) throw new Error(`invalid replication option ${key}: ${value}`);
    return `'${key}': '${value}'`;
  });
  return `{${entries.join(', ')}}`;
}

/**
 * Migrates `keyspace` over `target`: a connected (or connectable) client, which is left open,
 * or connection options, for which a client is opened and closed here. Returns the names of
 * the migrations applied by this call, in order.
 */
export async function migrateCassandra(
  target: cassandra.Client | CassandraConnectOptions,
  keyspace: string,
  options: MigrateCassandraOptions = {},
): Promise<string[]> {
  assertKeyspaceName(keyspace);
  const owned = !(target instanceof cassandra.Client);
  const client = target instanceof cassandra.Client ? target : createCassandraClient(target);
  // DDL is not prepared: it runs once, and CQL cannot bind identifiers anyway.
  const run = (query: string, params: unknown[] = []) => cassandraCall(() => client.execute(query, params, { prepare: params.length > 0 }));
  const session = cqlSession(client);
  const backfillCql: MigrationCql = {
    executeMany: (query, params) => session.concurrently(params.map((p) => ({ query, params: p }))),
    rows: (query) => session.rows(query, [], BACKFILL_PAGE),
  };
  try {
    await cassandraCall(() => client.connect());
    await run(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${cqlMap(replicationMap(client, options.replication ?? 1))}`);
    await run(`CREATE TABLE IF NOT EXISTS ${keyspace}.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)`);
    const appliedRows = await run(`SELECT version FROM ${keyspace}.schema_migrations`);
    const applied = new Set(appliedRows.rows.map((row) => Number(row.get('version'))));
    const names: string[] = [];
    for (const migration of CASSANDRA_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements(keyspace)) await run(statement);
      if (migration.backfill) await migration.backfill(backfillCql, keyspace);
      await run(`INSERT INTO ${keyspace}.schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, [migration.version, migration.name, new Date()]);
      names.push(migration.name);
    }
    return names;
  } finally {
    if (owned) await client.shutdown();
  }
}

/** The latest migration version this code expects (stores refuse a keyspace older than this). */
export const LATEST_CASSANDRA_VERSION = Math.max(...CASSANDRA_MIGRATIONS.map((m) => m.version));
