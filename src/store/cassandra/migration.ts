/** The shape of a Cassandra migration (schema.ts lists them; migrate.ts applies them). */
export interface CassandraMigration {
  version: number;
  name: string;
  /** CQL statements, one per string, with table names qualified by `keyspace`. */
  statements(keyspace: string): string[];
  /** Fills what the statements created from the data already there (idempotent); run after them. */
  backfill?(cql: MigrationCql, keyspace: string): Promise<void>;
}

/** What a backfill may do: run a statement once per set of parameters (many in flight), and page through a query's rows. */
export interface MigrationCql {
  executeMany(query: string, params: unknown[][]): Promise<void>;
  rows(query: string): AsyncIterable<{ get(name: string): unknown }>;
}
