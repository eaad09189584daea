// Where the real servers for the distributed adapters' tests are: the variables that
// `scripts/services/up.sh` (npm run services:up) prints, with the same defaults it uses.
// Tests read them here rather than from process.env directly, so every suite agrees on the
// defaults and on how the values are parsed.
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export interface ServicesEnv {
  /** HERALD_NATS_URL, e.g. nats://127.0.0.1:4222 */
  natsUrl: string;
  /** HERALD_REDIS_URL, e.g. redis://127.0.0.1:6379 */
  redisUrl: string;
  /** HERALD_CASSANDRA_CONTACT_POINTS as given: comma-separated host:port list. */
  cassandraContactPoints: string;
  /** HERALD_ELASTICSEARCH_URL, e.g. http://127.0.0.1:9200 */
  elasticsearchUrl: string;
  /** The same four, as host and port, e.g. for waitForPort(). Cassandra: the first contact point. */
  endpoints: {
    nats: HostPort;
    redis: HostPort;
    cassandra: HostPort;
    elasticsearch: HostPort;
  };
}

export const SERVICES_DEFAULTS = {
  HERALD_NATS_URL: 'nats://127.0.0.1:4222',
  HERALD_REDIS_URL: 'redis://127.0.0.1:6379',
  HERALD_CASSANDRA_CONTACT_POINTS: '127.0.0.1:9042',
  HERALD_ELASTICSEARCH_URL: 'http://127.0.0.1:9200',
} as const;

const DEFAULT_PORTS: Record<string, number> = { 'nats:': 4222, 'redis:': 6379, 'http:': 80, 'https:': 443 };

function read(env: NodeJS.ProcessEnv, name: keyof typeof SERVICES_DEFAULTS): string {
  const value = env[name]?.trim();
  return value ? value : SERVICES_DEFAULTS[name];
}

function urlHostPort(name: string, value: string): HostPort {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a URL: ${JSON.stringify(value)}`);
  }
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
  if (port === undefined) throw new Error(`${name} has no port: ${JSON.stringify(value)}`);
  // new URL() keeps IPv6 literals in brackets; net.connect wants them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Parses "host:port" (or "host", port 9042; or "[::1]:9042"). */
export function parseContactPoint(value: string, defaultPort = 9042): HostPort {
  const v = value.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracketed) return { host: bracketed[1] ?? '', port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  const parts = v.split(':');
  if (parts.length === 2 && /^\d+$/.test(parts[1] ?? '')) return { host: parts[0] ?? '', port: Number(parts[1]) };
  return { host: v, port: defaultPort };
}

/** The four services' locations, from the environment (or `env`), with up.sh's defaults. */
export function servicesEnv(env: NodeJS.ProcessEnv = process.env): ServicesEnv {
  const natsUrl = read(env, 'HERALD_NATS_URL');
  const redisUrl = read(env, 'HERALD_REDIS_URL');
  const cassandraContactPoints = read(env, 'HERALD_CASSANDRA_CONTACT_POINTS');
  const elasticsearchUrl = read(env, 'HERALD_ELASTICSEARCH_URL');
  const firstContactPoint = cassandraContactPoints.split(',').find((p) => p.trim() !== '');
  if (!firstContactPoint) throw new Error('HERALD_CASSANDRA_CONTACT_POINTS is empty');
  return {
    natsUrl,
    redisUrl,
    cassandraContactPoints,
    elasticsearchUrl,
    endpoints: {
      nats: urlHostPort('HERALD_NATS_URL', natsUrl),
      redis: urlHostPort('HERALD_REDIS_URL', redisUrl),
      cassandra: parseContactPoint(firstContactPoint),
      elasticsearch: urlHostPort('HERALD_ELASTICSEARCH_URL', elasticsearchUrl),
    },
  };
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const done = (err?: Error) => {
      socket.removeAllListeners();
      socket.on('error', () => {}); // a late RST after destroy() must not crash the test run
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`connect timed out after ${timeoutMs} ms`)));
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}

/**
 * Resolves once something accepts TCP connections on host:port; rejects after timeoutMs with
 * the last connection error. Polls every 250 ms (each attempt waits at most 1 s).
 */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  // Always at least one attempt, even with timeoutMs <= 0.
  for (;;) {
    try {
      await tryConnect(host, port, Math.max(100, Math.min(1000, deadline - Date.now())));
      return;
    } catch (err) {
      lastError = err;
    }
    const pause = Math.min(250, deadline - Date.now());
    if (pause <= 0) break;
    await new Promise((r) => setTimeout(r, pause));
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms (${reason}); start the services with \`npm run services:up\``);
}
