/**
 * The composition root: the one place that chooses each port's adapter from the configuration,
 * for `herald serve` (createAdapters) and `herald migrate` (migrateAdapters). Embedded by default
 * (one SQLite file, an in-process bus and presence), distributed when the backbone's variables
 * are set (Cassandra stores, Elasticsearch search, NATS JetStream bus, Redis presence and BullMQ
 * scheduler). Adapter modules are loaded only when used, so the embedded mode needs none of the
 * distributed ones. Nothing else imports an adapter folder (checked by `npm run check`).
 */
import path from 'node:path';
import type { Scheduler } from '../schedulers/port.js';
import type { Bus } from './bus/port.js';
import type { Config } from './config.js';
import type { Logger } from './observability/log.js';
import type { Presence } from './presence/port.js';
import type { Search } from './search/port.js';
import type { Stores } from './store/port.js';
import type { TicketLedger } from './ticket-ledger/port.js';

export interface Adapters {
  mode: 'embedded' | 'distributed';
  stores: Stores;
  search: Search;
  scheduler: Scheduler;
  bus: Bus;
  presence: Presence;
  /** Used WebSocket tickets: in memory embedded, Redis in a cluster (closed by `release`). */
  ticketLedger: TicketLedger;
  /** Work waiting per bus subject, for metrics (empty when the bus cannot tell cheaply). */
  queueDepths(): Record<string, number>;
  /** Releases what the adapters share (e.g. the SQLite handle), after each port was closed. */
  release(): Promise<void>;
}

export async function createAdapters(config: Config, log: Logger): Promise<Adapters> {
  return config.cassandraContactPoints ? distributed(config, log) : embedded(config, log);
}

async function embedded(config: Config, log: Logger): Promise<Adapters> {
  const [
    { openDatabase, migrate },
    { createSqliteStores },
    { createSqliteSearch },
    { createEmbeddedScheduler },
    { createMemoryBus },
    { createMemoryPresence },
    { createMemoryTicketLedger },
  ] = await Promise.all([
    import('./sqlite/database.js'),
    import('./store/sqlite/index.js'),
    import('./search/sqlite/search.js'),
    import('../schedulers/embedded/scheduler.js'),
    import('./bus/memory/bus.js'),
    import('./presence/memory/presence.js'),
    import('./ticket-ledger/memory/ledger.js'),
  ]);
  const db = openDatabase(embeddedDatabaseFile(config));
  migrate(db);
  const bus = createMemoryBus();
  return {
    mode: 'embedded',
    stores: createSqliteStores(db),
    search: createSqliteSearch(db, { log: log.child({ adapter: 'sqlite-search' }) }),
    scheduler: createEmbeddedScheduler(db),
    bus,
    presence: createMemoryPresence(),
    ticketLedger: createMemoryTicketLedger(),
    queueDepths: () => bus.depths(),
    release: async () => {
      db.close();
    },
  };
}

async function distributed(config: Config, log: Logger): Promise<Adapters> {
  const [
    { createCassandraStores },
    { createElasticsearchSearch },
    { createBullmqScheduler },
    { createRedisPresence },
    { createMemoryBus },
    { createRedisTicketLedger },
  ] = await Promise.all([
    import('./store/cassandra/index.js'),
    import('./search/elasticsearch/search.js'),
    import('../schedulers/bullmq/scheduler.js'),
    import('./presence/redis/presence.js'),
    import('./bus/memory/bus.js'),
    import('./ticket-ledger/redis/ledger.js'),
  ]);
  const redisUrl = config.redisUrl as string;
  const stores = await createCassandraStores({
    ...cassandraConnection(config),
    keyspace: config.cassandraKeyspace,
    consistency: config.cassandraConsistency,
    logger: log.child({ adapter: 'cassandra' }),
  });
  const search = await createElasticsearchSearch({ ...elasticsearchOptions(config), log: log.child({ adapter: 'elasticsearch' }) });
  const scheduler = createBullmqScheduler({ url: redisUrl, queueName: `${config.clusterName}-scheduler`, logger: log.child({ adapter: 'bullmq' }) });
  const presence = createRedisPresence({ url: redisUrl, prefix: `${config.clusterName}:presence` });
  const ticketLedger = createRedisTicketLedger({ url: redisUrl, prefix: `${config.clusterName}:tickets` });
  // One process with the distributed stores may keep its bus in process; a cluster needs NATS.
  const bus = config.natsUrl
    ? await (await import('./bus/nats/bus.js')).createNatsBus({
        servers: config.natsUrl,
        name: `${config.clusterName}:${config.roles.join('+')}`,
        streamPrefix: config.clusterName.toUpperCase(),
        logger: log.child({ adapter: 'nats' }),
      })
    : createMemoryBus();
  return {
    mode: 'distributed',
    stores,
    search,
    scheduler,
    bus,
    presence,
    ticketLedger,
    queueDepths: () => bus.depths(),
    // The scheduler's stop() leaves its Redis connections open for scheduling; release closes them.
    release: async () => {
      await scheduler.close();
      await ticketLedger.close();
    },
  };
}

/**
 * Creates or updates every schema the configured adapters keep, without starting anything:
 * the embedded database, or the Cassandra keyspace and tables and the Elasticsearch indices.
 * Returns what was done, for the command line to print.
 */
export async function migrateAdapters(config: Config): Promise<string> {
  if (!config.cassandraContactPoints) {
    const { openDatabase, migrate } = await import('./sqlite/database.js');
    const file = embeddedDatabaseFile(config);
    const db = openDatabase(file);
    migrate(db);
    db.close();
    return `schema of ${file} is up to date`;
  }
  const [{ migrateCassandra }, { createElasticsearchSearch }] = await Promise.all([
    import('./store/cassandra/index.js'),
    import('./search/elasticsearch/search.js'),
  ]);
  const applied = await migrateCassandra(cassandraConnection(config), config.cassandraKeyspace, { replication: config.cassandraReplicationFactor });
  // Creating the search adapter creates or updates the index templates and indices.
  const search = await createElasticsearchSearch(elasticsearchOptions(config));
  await search.close();
  return `keyspace ${config.cassandraKeyspace} is up to date (${applied.length} migrations applied); indices ${config.elasticsearchIndexPrefix}-* are up to date`;
}

const embeddedDatabaseFile = (config: Config): string => path.join(config.dataDir, 'herald.db');

const cassandraConnection = (config: Config) => ({
  contactPoints: (config.cassandraContactPoints ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
  localDataCenter: config.cassandraLocalDc,
});

const elasticsearchOptions = (config: Config) => ({
  url: config.elasticsearchUrl as string,
  indexPrefix: config.elasticsearchIndexPrefix,
  replicas: config.elasticsearchReplicas,
  compatibility7: config.elasticsearchCompat7,
});
