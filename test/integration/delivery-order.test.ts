/**
 * Urgency-ordered delivery, provider pauses, circuits and failover on NATS JetStream with the
 * distributed stores (Cassandra, Elasticsearch, Redis): the same suite as the in-process bus
 * (test/helpers/delivery-order-suite.ts), on a NATS server of this test's own.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import webpush from 'web-push';
import { deliveryOrderSuite } from '../helpers/delivery-order-suite.js';
import { TEST_SECRET } from '../helpers/herald.js';
import { type OwnNatsServer, startOwnNats } from '../helpers/nats-server.js';
import { servicesEnv } from '../helpers/services.js';

const run = randomUUID().slice(0, 8);
const vapid = webpush.generateVAPIDKeys();
let nats: OwnNatsServer | undefined;

deliveryOrderSuite(
  'NATS JetStream',
  async () => {
    const services = servicesEnv();
    nats = await startOwnNats();
    const env = {
      HERALD_NATS_URL: nats.url,
      HERALD_REDIS_URL: services.redisUrl,
      HERALD_CASSANDRA_CONTACT_POINTS: services.cassandraContactPoints,
      HERALD_CASSANDRA_KEYSPACE: `herald_order_${run}`,
      HERALD_ELASTICSEARCH_URL: services.elasticsearchUrl,
      HERALD_ELASTICSEARCH_INDEX_PREFIX: `herald-order-${run}`,
      HERALD_ELASTICSEARCH_REPLICAS: '0',
      HERALD_CLUSTER_NAME: `o${run}`,
      // A cluster's processes must share these (the suite runs one process, but the checks are the cluster's).
      HERALD_JWT_SECRET: TEST_SECRET,
      HERALD_TICKET_SECRET: `ticket-secret-of-the-delivery-order-test-${run}`,
      HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
      HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
    };
    execFileSync(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts'), 'migrate'], { env: { ...process.env, ...env }, stdio: 'pipe' });
    return env;
  },
  async () => {
    await nats?.stop();
  },
);
