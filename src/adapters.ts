/**
 * Chooses each port's adapter from the configuration: embedded by default (one SQLite file, an
 * in-process bus and presence), distributed when the backbone's variables are set (Cassandra
 * stores, Elasticsearch search, NATS JetStream bus, Redis presence and BullMQ scheduler).
 * Distributed modules are loaded only when used, so the embedded mode needs none of them.
 */
import path from 'node:path';
import type { Scheduler } from '../schedulers/port.js';
import { createMemoryTicketLedger, type TicketLedger } from './auth/ticket-ledger.js';
import type { Bus } from './bus/port.js';
import type { Config } from './config.js';
import type { Presence } from './gateway/presence-port.js';
import type { Logger } from './observability/log.js';
import type { Search } from './search/port.js';
import type { Stores } from './store/port.js';

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
  ] = await Promise.all([
    import('./store/sqlite/database.js'),
    import('./store/sqlite/index.js'),
    import('./search/sqlite.js'),
    import('../schedulers/embedded/scheduler.js'),
    import('./bus/memory.js'),
    import('./gateway/memory-presence.js'),
  ]);
  const db = openDatabase(path.join(config.dataDir, 'herald.db'));
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
    import('./gateway/redis-presence.js'),
    import('./bus/memory.js'),
    import('./auth/redis-ticket-ledger.js'),
  ]);
  const redisUrl = config.redisUrl as string;
  const stores = await createCassandraStores({
    contactPoints: cassandraContactPoints(config),
    localDataCenter: config.cassandraLocalDc,
    keyspace: config.cassandraKeyspace,
    consistency: config.cassandraConsistency,
    logger: log.child({ adapter: 'cassandra' }),
  });
  const search = await createElasticsearchSearch({
    url: config.elasticsearchUrl as string,
    indexPrefix: config.elasticsearchIndexPrefix,
    replicas: config.elasticsearchReplicas,
    compatibility7: config.elasticsearchCompat7,
    log: log.child({ adapter: 'elasticsearch' }),
  });
  const scheduler = createBullmqScheduler({ url: redisUrl, queueName: `${config.clusterName}-scheduler`, logger: log.child({ adapter: 'bullmq' }) });
  const presence = createRedisPresence({ url: redisUrl, prefix: `${config.clusterName}:presence` });
  const ticketLedger = createRedisTicketLedger({ url: redisUrl, prefix: `${config.clusterName}:tickets` });
  // One process with the distributed stores may keep its bus in process; a cluster needs NATS.
  const bus = config.natsUrl
    ? await (await import('./bus/nats.js')).createNatsBus({
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

export const cassandraContactPoints = (config: Config): string[] =>
  (config.cassandraContactPoints ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
