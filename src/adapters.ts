/**
 * Chooses each port's adapter from the configuration: embedded by default (one SQLite file, an
 * in-process bus and presence), distributed when the backbone's variables are set (Cassandra
 * stores, Elasticsearch search, NATS JetStream bus, Redis presence and BullMQ scheduler).
 * Distributed modules are loaded only when used, so the embedded mode needs none of them.
 */
import path from 'node:path';
import type { Scheduler } from '../schedulers/port.js';
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
  /** Work waiting per bus subject, for metrics (empty when the bus cannot tell cheaply). */
  queueDepths(): Record<string, number>;
  /** Releases what the adapters share (e.g. the SQLite handle), after each port was closed. */
  release(): Promise<void>;
}

export async function createAdapters(config: Config, log: Logger): Promise<Adapters> {
  return config.cassandraContactPoints ? distributed(config, log) : embedded(config);
}

async function embedded(config: Config): Promise<Adapters> {
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
    search: createSqliteSearch(db),
    scheduler: createEmbeddedScheduler(db),
    bus,
    presence: createMemoryPresence(),
    queueDepths: () => bus.depths(),
    release: async () => {
      db.close();
    },
  };
}

async function distributed(config: Config, log: Logger): Promise<Adapters> {
  throw new Error(`distributed adapters are not wired yet (HERALD_CASSANDRA_CONTACT_POINTS=${config.cassandraContactPoints}); ${log.level}`);
}
