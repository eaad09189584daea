/**
 * One typed, validated configuration. Every setting has an environment variable and a default;
 * with none set, Herald runs embedded (SQLite, in-process bus, embedded scheduler, email to an
 * outbox folder). Bad configuration stops start-up with a message naming the variable.
 *
 * The core settings are declared in src/core-settings.ts; each channel declares its own in its
 * folder (channels/<name>/settings.ts) and SETTINGS merges them in, after the core ones on serving and
 * devices and before those on fallbacks, the cluster and limits. The table in README.md is
 * generated from SETTINGS (`npm run docs:config`; see also `herald serve --help`).
 */
import path from 'node:path';
import type { z } from 'zod';
import { CHANNEL_SETTINGS, channelSettingsProblems, configuredChannelKeys } from '../channels/registry.js';
import { CORE_SETTINGS } from './core-settings.js';
import { ConfigError, type ConfigOf, type Setting } from './settings.js';

export type { CoreConfig } from './core-settings.js';
export { ConfigError } from './settings.js';

/** The channels' settings go after this core one in the table. */
const CHANNEL_SETTINGS_AFTER: keyof typeof CORE_SETTINGS = 'maxDevicesPerUser';

/** Every setting, the channels' included, in the order of the table. */
export const SETTINGS = Object.fromEntries(
  Object.entries(CORE_SETTINGS).flatMap(
    ([key, setting]): Array<[string, Setting]> =>
      key === CHANNEL_SETTINGS_AFTER ? [[key, setting], ...Object.entries<Setting>(CHANNEL_SETTINGS)] : [[key, setting]],
  ),
) as typeof CORE_SETTINGS & typeof CHANNEL_SETTINGS;

export type Config = ConfigOf<typeof SETTINGS>;

/** Shortest HS256 secret accepted: the key must be as long as the hash (RFC 7518 §3.2). */
const MIN_HS256_SECRET_BYTES = 32;

/** Reads the configuration from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const raw = env[setting.env];
    const text = raw === undefined || raw === '' ? setting.default : raw;
    const parsed = (setting.schema as z.ZodType).safeParse(text === '' ? undefined : text);
    if (parsed.success) config[key] = parsed.data;
    else problems.push(`${setting.env}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join(', ')}`);
  }
  const result = config as Config;
  if (result.jwtAlgorithm === 'HS256' && result.jwtSecret !== undefined && Buffer.byteLength(result.jwtSecret) < MIN_HS256_SECRET_BYTES) {
    problems.push(
      `HERALD_JWT_SECRET is ${Buffer.byteLength(result.jwtSecret)} bytes: an HS256 secret needs at least ${MIN_HS256_SECRET_BYTES} (e.g. openssl rand -base64 32)`,
    );
  }
  if (result.jwtAlgorithm !== 'HS256' && !result.jwtPublicKey && !result.jwtJwksUrl) {
    problems.push(`HERALD_JWT_ALGORITHM=${result.jwtAlgorithm} needs HERALD_JWT_PUBLIC_KEY or HERALD_JWT_JWKS_URL`);
  }
  problems.push(...channelSettingsProblems(result));
  if (Boolean(result.cassandraContactPoints) !== Boolean(result.elasticsearchUrl)) {
    problems.push('HERALD_CASSANDRA_CONTACT_POINTS and HERALD_ELASTICSEARCH_URL go together: search reads what the distributed stores write');
  }
  if (result.cassandraContactPoints && !result.redisUrl) {
    problems.push('HERALD_CASSANDRA_CONTACT_POINTS needs HERALD_REDIS_URL: the distributed scheduler runs on Redis (BullMQ)');
  }
  if (result.natsUrl && !result.redisUrl) {
    problems.push('HERALD_NATS_URL needs HERALD_REDIS_URL: processes on a shared bus share presence and schedules through Redis');
  }
  if (result.natsUrl && !result.cassandraContactPoints) {
    problems.push('HERALD_NATS_URL needs HERALD_CASSANDRA_CONTACT_POINTS: processes on a shared bus need a shared store (SQLite is one process)');
  }
  if (result.natsUrl) {
    // Every process of a cluster must sign and verify with the same keys: none may be generated per process.
    const shared: Array<[boolean, string]> = [
      [Boolean(result.ticketSecret), 'HERALD_TICKET_SECRET'],
      ...configuredChannelKeys(result),
      [result.jwtAlgorithm !== 'HS256' || Boolean(result.jwtSecret), 'HERALD_JWT_SECRET'],
    ];
    for (const [present, name] of shared) if (!present) problems.push(`HERALD_NATS_URL (a cluster) needs ${name}: processes must share it`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  result.dataDir = path.resolve(result.dataDir);
  return result;
}
