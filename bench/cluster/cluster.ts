/**
 * A Herald cluster of OS processes for the cluster benchmarks, as test/integration/cluster.test.ts
 * starts one: `herald migrate`, then `herald serve` per process with HERALD_ROLES set, over the
 * machine's servers (scripts/services/up.sh: NATS JetStream, Redis, Cassandra, Elasticsearch).
 * Every name on the shared servers is unique to the run (cluster name → JetStream streams,
 * BullMQ queues and presence keys; Cassandra keyspace; Elasticsearch index prefix), and
 * `cleanup()` removes all of them: keyspace dropped, indices and templates deleted, streams
 * deleted, Redis keys of the run deleted (SCAN by the run's prefixes only).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as ElasticsearchClient } from '@elastic/elasticsearch';
import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import webpush from 'web-push';
import { streamDefs } from '../../src/bus/nats/naming.js';
import { dropIndices } from '../../src/search/elasticsearch/indices.js';
import { servicesEnv } from '../../test/helpers/services.js';
import { BENCH_SECRET, HOST, NO_SEND_LIMITS, ROOT, type ServerProcess, startServer } from '../lib/proc.js';

const run = promisify(execFile);

export type Role = 'api' | 'gateway' | 'worker';
const ROLES: Record<Role, string> = { api: 'api', gateway: 'gateway', worker: 'triage,deliver' };

/** The servers' locations: process.env, else .services/env (written by up.sh), else up.sh's defaults. */
export function services() {
  const file = path.join(ROOT, '.services/env');
  const fromFile: Record<string, string> = {};
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const match = /^(HERALD_[A-Z_]+)=(.*)$/.exec(line.trim());
      if (match?.[1] && match[2] !== undefined) fromFile[match[1]] = match[2];
    }
  }
  return servicesEnv({ ...fromFile, ...process.env });
}

export interface ClusterNames {
  cluster: string;
  keyspace: string;
  indexPrefix: string;
}

/** The environment every process of the cluster shares. */
export type ClusterEnv = Record<string, string> & {
  HERALD_NATS_URL: string;
  HERALD_REDIS_URL: string;
  HERALD_CASSANDRA_CONTACT_POINTS: string;
  HERALD_ELASTICSEARCH_URL: string;
};

export class Cluster {
  readonly processes: Array<ServerProcess & { role: Role }> = [];
  /** When the last process started listening (epoch ms): its bus consumers exist from then on. */
  lastStartedAt = 0;
  private cleaned = false;

  private constructor(
    readonly names: ClusterNames,
    readonly env: ClusterEnv,
    private readonly dataDir: string,
  ) {}

  /** Unique names, the environment every process shares, and `herald migrate` (keyspace + indices). */
  static async create(): Promise<Cluster> {
    const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const names = { cluster: `bench_${id}`, keyspace: `herald_bench_${id}`, indexPrefix: `herald-bench-${id}` };
    const s = services();
    const vapid = webpush.generateVAPIDKeys();
    const env: ClusterEnv = {
      HERALD_HOST: HOST,
      HERALD_PORT: '0',
      HERALD_LOG_LEVEL: 'warn',
      HERALD_NATS_URL: s.natsUrl,
      HERALD_REDIS_URL: s.redisUrl,
      HERALD_CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints,
      HERALD_CASSANDRA_KEYSPACE: names.keyspace,
      HERALD_ELASTICSEARCH_URL: s.elasticsearchUrl,
      HERALD_ELASTICSEARCH_INDEX_PREFIX: names.indexPrefix,
      HERALD_ELASTICSEARCH_REPLICAS: '0',
      HERALD_CLUSTER_NAME: names.cluster,
      HERALD_JWT_SECRET: BENCH_SECRET,
      HERALD_TICKET_SECRET: `ticket-secret-of-the-cluster-bench-${id}`,
      HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
      HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
      ...NO_SEND_LIMITS,
    };
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-cluster-'));
    const cluster = new Cluster(names, env, dataDir);
    try {
      await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'migrate'], {
        cwd: ROOT,
        env: { ...process.env, ...env, HERALD_DATA_DIR: dataDir },
        timeout: 180_000,
      });
    } catch (error) {
      await cluster.cleanup();
      throw error;
    }
    return cluster;
  }

  /** Starts `herald serve` with the role's HERALD_ROLES (own data dir); resolves once it listens. */
  async start(role: Role, nodeArgs: string[] = []): Promise<ServerProcess & { role: Role }> {
    const dataDir = fs.mkdtempSync(path.join(this.dataDir, `${role}-`));
    const p = await startServer(
      `herald ${role}`,
      path.join(ROOT, 'src/main.ts'),
      ['serve'],
      { ...this.env, HERALD_ROLES: ROLES[role], HERALD_DATA_DIR: dataDir },
      { nodeArgs },
    );
    const member = Object.assign(p, { role });
    this.processes.push(member);
    this.lastStartedAt = Date.now();
    return member;
  }

  of(role: Role): Array<ServerProcess & { role: Role }> {
    return this.processes.filter((p) => p.role === role && p.child.exitCode === null);
  }

  /** Stops one process (SIGTERM, then SIGKILL after 5 s). */
  async stopProcess(p: ServerProcess): Promise<void> {
    await p.stop();
    const at = this.processes.indexOf(p as ServerProcess & { role: Role });
    if (at >= 0) this.processes.splice(at, 1);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    this.processes.length = 0;
  }

  /** A driver client on the run's keyspace (the caller shuts it down). */
  cassandraClient(options: Partial<cassandra.ClientOptions> = {}): cassandra.Client {
    return new cassandra.Client({
      contactPoints: this.env.HERALD_CASSANDRA_CONTACT_POINTS.split(','),
      localDataCenter: 'datacenter1',
      keyspace: this.names.keyspace,
      protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
      ...options,
    });
  }

  /** Stops every process, then removes everything of the run from the shared servers. Never throws. */
  async cleanup(): Promise<string[]> {
    if (this.cleaned) return [];
    this.cleaned = true;
    const problems: string[] = [];
    await this.stopAll().catch((e: unknown) => problems.push(`stop: ${(e as Error).message}`));
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    await attempt('cassandra keyspace', async () => {
      const client = new cassandra.Client({
        contactPoints: this.env.HERALD_CASSANDRA_CONTACT_POINTS.split(','),
        localDataCenter: 'datacenter1',
        protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
        socketOptions: { readTimeout: 120_000 },
      });
      try {
        await client.execute(`DROP KEYSPACE IF EXISTS ${this.names.keyspace}`);
      } finally {
        await client.shutdown();
      }
    });
    await attempt('elasticsearch indices', async () => {
      const client = new ElasticsearchClient({ node: this.env.HERALD_ELASTICSEARCH_URL });
      try {
        await dropIndices(client, this.names.indexPrefix);
      } finally {
        await client.close();
      }
    });
    await attempt('jetstream streams', async () => {
      const nc = await connect({ servers: this.env.HERALD_NATS_URL.split(','), timeout: 5_000 });
      try {
        const jsm = await nc.jetstreamManager();
        for (const def of streamDefs(this.names.cluster.toUpperCase())) {
          await jsm.streams.delete(def.name).catch((error: unknown) => {
            if (!/not found/i.test(String(error))) throw error;
          });
        }
      } finally {
        await nc.close();
      }
    });
    await attempt('redis keys', async () => {
      const redis = new Redis(this.env.HERALD_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
      await redis.connect();
      try {
        for (const pattern of [`${this.names.cluster}:*`, `bull:${this.names.cluster}-*`]) {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== '0');
        }
      } finally {
        redis.disconnect();
      }
    });
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    return problems;
  }
}
