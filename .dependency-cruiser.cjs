/**
 * The import walls (docs/architecture.md, "Walls between layers"), as dependency-cruiser rules.
 * `npm run check:imports` (part of `npm run check`) cruises src/, channels/ and schedulers/
 * against them. Sources are parsed with swc: dependency-cruiser's own TypeScript parser needs
 * the TypeScript compiler API, which TypeScript 7 no longer ships, and without one it cruises
 * 0 modules and passes.
 */

/**
 * Adapter folders: one implementation of a port each. Every folder under a port
 * (src/<port>/<adapter>/, schedulers/<adapter>/) is an adapter, as is each channel folder and
 * the embedded database they may share (src/sqlite), so a new adapter needs no entry here.
 * Group $1 is the folder.
 */
const ADAPTER = '^((?:src/(?:bus|store|search|presence|ticket-ledger)|schedulers|channels)/[^/]+|src/sqlite)/';
/** The composition root: the only modules that pick adapters. */
const COMPOSITION_ROOT = '^(src/adapters|src/app|channels/registry)\\.ts$';
/** Adapters built on the embedded database they share (src/sqlite). */
const EMBEDDED = '^(src/store/sqlite|src/search/sqlite|schedulers/embedded)/';

const npm = (names) => `^node_modules/(${names.join('|')})(/|$)`;

/** A package only the given folders may import. */
const onlyFrom = (name, packages, folders, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { pathNot: folders },
  to: { dependencyTypes: ['npm'], path: npm(packages) },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules form no import cycle: each layer can be read, tested and replaced on its own.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'exchange-is-pure',
      comment: 'src/exchange is the pure domain: it imports nothing outside itself (no node built-in, no package).',
      severity: 'error',
      from: { path: '^src/exchange/' },
      to: { pathNot: '^src/exchange/' },
    },
    {
      name: 'pipeline-not-api',
      comment: 'src/pipeline takes the domain, the ports and observability; it never reaches up into the HTTP API or the gateway.',
      severity: 'error',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/(api|gateway)/' },
    },
    {
      name: 'adapters-only-from-composition-root',
      comment: 'Only the composition root (src/adapters.ts, src/app.ts, channels/registry.ts) picks an adapter; everyone else goes through the port.',
      severity: 'error',
      from: { pathNot: [COMPOSITION_ROOT, ADAPTER] },
      to: { path: ADAPTER },
    },
    {
      name: 'adapters-stay-apart',
      comment: 'An adapter imports within its own folder; only the embedded adapters share src/sqlite, the database they live in.',
      severity: 'error',
      from: { path: ADAPTER, pathNot: EMBEDDED },
      to: { path: ADAPTER, pathNot: '^$1/' },
    },
    {
      name: 'embedded-adapters-stay-apart',
      comment: 'An embedded adapter imports within its own folder and from src/sqlite, nothing of another adapter.',
      severity: 'error',
      from: { path: EMBEDDED },
      to: { path: ADAPTER, pathNot: ['^$1/', '^src/sqlite/'] },
    },
    onlyFrom(
      'provider-sdk-only-in-channels',
      ['twilio', 'web-push', 'nodemailer'],
      '^channels/',
      'A provider SDK is a channel detail: only channels/ imports it.',
    ),
    onlyFrom('cassandra-only-in-its-adapter', ['cassandra-driver'], '^src/store/cassandra/', 'The Cassandra client stays in the Cassandra store.'),
    onlyFrom(
      'elasticsearch-only-in-its-adapter',
      ['@elastic/elasticsearch'],
      '^src/search/elasticsearch/',
      'The Elasticsearch client stays in the Elasticsearch search adapter.',
    ),
    onlyFrom('nats-only-in-its-adapter', ['nats'], '^src/bus/nats/', 'The NATS client stays in the NATS bus.'),
    onlyFrom('bullmq-only-in-its-adapter', ['bullmq'], '^schedulers/bullmq/', 'BullMQ stays in the BullMQ scheduler.'),
    onlyFrom(
      'redis-only-in-its-adapters',
      ['ioredis'],
      [
        '^src/presence/redis/',
        '^schedulers/bullmq/',
        '^src/ticket-ledger/redis/',
        // Exception: the limiters' store (rate limits and caps) chooses Redis or memory itself from
        // HERALD_REDIS_URL; it is rate-limiter-flexible's storage, infrastructure rather than a port.
        '^src/limits/limiter-store\\.ts$',
        // The one way those adapters open an ioredis client (src/redis-client.ts).
        '^src/redis-client\\.ts$',
      ],
      'The Redis client stays in the Redis adapters (and the listed exception).',
    ),
    onlyFrom(
      'sqlite-only-in-embedded-adapters',
      ['better-sqlite3'],
      [
        '^src/sqlite/',
        EMBEDDED,
        // Exception: the data-dir lock is an SQLite exclusive lock (the OS releases it even on
        // kill -9); it guards every deployment, not the embedded database.
        '^src/data-dir\\.ts$',
      ],
      'better-sqlite3 stays in the embedded database, the adapters that share it and the data-dir lock.',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.check.json' },
  },
};
