/**
 * One typed, validated configuration. Every setting has an environment variable and a default;
 * with none set, Herald runs embedded (SQLite, in-process bus, embedded scheduler, email to an
 * outbox folder). Bad configuration stops start-up with a message naming the variable.
 *
 * The table in README.md is generated from SETTINGS (see `herald serve --help`).
 */
import path from 'node:path';
import { z } from 'zod';
import { ALWAYS_REFUSED_SCHEMES, SCHEME_NAME } from './exchange/links.js';
import { USER_CONTACTS_POLICIES, USER_SEND_POLICIES } from './exchange/send-policy.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const optionalString = z.string().min(1).optional();

/** Each setting: its variable, default (as the text a user would type), meaning and schema. */
export const SETTINGS = {
  port: { env: 'HERALD_PORT', default: '8080', doc: 'HTTP and WebSocket port (0 picks a free one)', schema: port },
  host: { env: 'HERALD_HOST', default: '0.0.0.0', doc: 'Interface to listen on', schema: z.string().min(1) },
  dataDir: { env: 'HERALD_DATA_DIR', default: './data', doc: 'Embedded data: SQLite database, generated secrets, email outbox', schema: z.string().min(1) },
  logLevel: {
    env: 'HERALD_LOG_LEVEL',
    default: 'info',
    doc: 'pino log level: fatal, error, warn, info, debug, trace, silent',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  },
  bodyLimit: { env: 'HERALD_BODY_LIMIT', default: '65536', doc: 'Largest request body in bytes; larger ones get 413', schema: positiveInt },
  jwtSecret: {
    env: 'HERALD_JWT_SECRET',
    default: '',
    doc: 'HS256 secret for API tokens; generated and kept in the data dir when unset',
    schema: optionalString,
  },
  jwtAlgorithm: { env: 'HERALD_JWT_ALGORITHM', default: 'HS256', doc: 'HS256, RS256 or ES256', schema: z.enum(['HS256', 'RS256', 'ES256']) },
  jwtPublicKey: { env: 'HERALD_JWT_PUBLIC_KEY', default: '', doc: 'RS256/ES256: SPKI PEM public key, or a path to one', schema: optionalString },
  jwtJwksUrl: {
    env: 'HERALD_JWT_JWKS_URL',
    default: '',
    doc: 'RS256/ES256: https URL to fetch verification keys (JWKS) from; while it cannot be reached, requests get 503',
    schema: z.url({ protocol: /^https$/, message: 'must be an https URL' }).optional(),
  },
  jwtIssuer: { env: 'HERALD_JWT_ISSUER', default: '', doc: 'Required `iss` of API tokens, when set', schema: optionalString },
  jwtAudience: { env: 'HERALD_JWT_AUDIENCE', default: '', doc: 'Required `aud` of API tokens, when set', schema: optionalString },
  jwtRequireExp: {
    env: 'HERALD_JWT_REQUIRE_EXP',
    default: 'true',
    doc: 'Refuse API tokens without an `exp` claim (false accepts tokens that never expire)',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  jwtMaxAge: {
    env: 'HERALD_JWT_MAX_AGE',
    default: '',
    doc: 'Refuse API tokens issued (`iat`) more than this many seconds ago, whatever their `exp`; unset: no maximum',
    schema: positiveInt.optional(),
  },
  adminClaim: {
    env: 'HERALD_ADMIN_CLAIM',
    default: 'role=admin',
    doc: 'Claim that makes a token admin, as name=value (the claim may also be an array holding the value)',
    schema: z.string().regex(/^[^=]+=.+$/, 'expected name=value'),
  },
  userSend: {
    env: 'HERALD_USER_SEND',
    default: 'inapp',
    doc: 'What a non-admin token may send (POST /api/v1/send): inapp (inbox, realtime and push at urgency up to normal, never SMS or email), off (admins only) or any (no restriction)',
    schema: z.enum(USER_SEND_POLICIES),
  },
  userContacts: {
    env: 'HERALD_USER_CONTACTS',
    default: 'admin',
    doc: "Who sets a user's email and phone (PUT /api/v1/users/{uid}): admin (admins only) or self (also the user itself)",
    schema: z.enum(USER_CONTACTS_POLICIES),
  },
  linkSchemes: {
    env: 'HERALD_LINK_SCHEMES',
    default: '',
    doc: 'App URL schemes accepted in links (`opts.link`, link-like email vars) besides http and https, comma-separated, e.g. myapp; javascript, data, vbscript and file are always refused',
    schema: z
      .string()
      .optional()
      .transform((v) =>
        (v ?? '')
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(SCHEME_NAME, 'must be URL scheme names such as myapp')
            .refine((s) => !ALWAYS_REFUSED_SCHEMES.has(s), 'javascript, data, vbscript and file links are always refused'),
        ),
      ),
  },
  ticketSecret: {
    env: 'HERALD_TICKET_SECRET',
    default: '',
    doc: 'Key of WebSocket tickets (32+ characters); generated and kept in the data dir when unset; required with HERALD_NATS_URL',
    schema: z.string().min(32).optional(),
  },
  wsTicketTtl: { env: 'HERALD_WS_TICKET_TTL', default: '60', doc: 'Seconds a WebSocket ticket from /api/v1/ws/token stays valid', schema: positiveInt },
  wsMaxBackpressure: {
    env: 'HERALD_WS_MAX_BACKPRESSURE',
    default: '1048576',
    doc: 'Bytes buffered for a socket that does not read before it is closed',
    schema: positiveInt,
  },
  wsIdleTimeout: {
    env: 'HERALD_WS_IDLE_TIMEOUT',
    default: '120',
    doc: 'Seconds without any frame before a socket is closed (clients ping to check in)',
    schema: z.coerce.number().int().min(8).max(960),
  },
  maxSocketsPerUser: {
    env: 'HERALD_MAX_SOCKETS_PER_USER',
    default: '10',
    doc: 'WebSockets one user may hold on one gateway process (a cluster of N gateways allows up to N times this); one more upgrade is refused with 429 HERALD_RATE_LIMITED',
    schema: positiveInt,
  },
  presenceTtl: { env: 'HERALD_PRESENCE_TTL', default: '150', doc: 'Seconds a user stays online after the last check-in of a live socket', schema: positiveInt },
  smtpUrl: {
    env: 'HERALD_SMTP_URL',
    default: '',
    doc: 'SMTP server (smtp:// or smtps://); unset writes .eml files to $HERALD_DATA_DIR/outbox',
    schema: z.string().url().optional(),
  },
  emailFrom: { env: 'HERALD_EMAIL_FROM', default: 'Herald <herald@localhost>', doc: 'From address of emails', schema: z.string().min(3) },
  templatesDir: {
    env: 'HERALD_TEMPLATES_DIR',
    default: '',
    doc: 'Folder of email templates (NAME.html.hbs, NAME.txt.hbs, NAME.subject.hbs); built-in ones are used when unset',
    schema: optionalString,
  },
  vapidPublicKey: {
    env: 'HERALD_VAPID_PUBLIC_KEY',
    default: '',
    doc: 'VAPID public key (base64url); generated and kept in the data dir when unset',
    schema: optionalString,
  },
  vapidPrivateKey: {
    env: 'HERALD_VAPID_PRIVATE_KEY',
    default: '',
    doc: 'VAPID private key (base64url); set together with the public key',
    schema: optionalString,
  },
  vapidSubject: {
    env: 'HERALD_VAPID_SUBJECT',
    default: 'mailto:herald@localhost',
    doc: 'VAPID subject: a mailto: or https: contact',
    schema: z.string().regex(/^(mailto:|https:)/, 'expected mailto: or https:'),
  },
  publicUrl: {
    env: 'HERALD_PUBLIC_URL',
    default: '',
    doc: 'URL at which providers reach this Herald (Twilio status callbacks); unset: no callbacks are requested',
    schema: z.string().url().optional(),
  },
  webpushConcurrency: { env: 'HERALD_WEBPUSH_CONCURRENCY', default: '50', doc: 'Web push requests in flight at once per process', schema: positiveInt },
  webpushAllowPrivate: {
    env: 'HERALD_WEBPUSH_ALLOW_PRIVATE',
    default: 'false',
    doc: 'For development and tests only: web push endpoints may be IP literals and resolve to loopback, private or reserved addresses, and http: to loopback is allowed (push-service emulators)',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  webpushHosts: {
    env: 'HERALD_WEBPUSH_HOSTS',
    default: '',
    doc: 'Comma-separated host suffixes web push endpoints must match (e.g. `fcm.googleapis.com,push.services.mozilla.com`); unset: any public host',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9.,\s-]*$/, 'must be comma-separated host names')
      .optional(),
  },
  maxDevicesPerUser: {
    env: 'HERALD_MAX_DEVICES_PER_USER',
    default: '20',
    doc: 'Devices (push tokens and web push subscriptions) one user may register; one more is 409 HERALD_DEVICE_LIMIT',
    schema: positiveInt,
  },
  apnsKey: {
    env: 'HERALD_APNS_KEY',
    default: '',
    doc: 'APNs token-auth key (.p8): a path, or the PEM text itself; unset disables APNs',
    schema: optionalString,
  },
  apnsKeyId: { env: 'HERALD_APNS_KEY_ID', default: '', doc: 'APNs key id (10 characters)', schema: optionalString },
  apnsTeamId: { env: 'HERALD_APNS_TEAM_ID', default: '', doc: 'Apple developer team id', schema: optionalString },
  apnsTopic: { env: 'HERALD_APNS_TOPIC', default: '', doc: 'App bundle id, sent as apns-topic', schema: optionalString },
  apnsProduction: {
    env: 'HERALD_APNS_PRODUCTION',
    default: 'false',
    doc: 'true: api.push.apple.com; false: the sandbox',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  apnsHost: { env: 'HERALD_APNS_HOST', default: '', doc: 'Override of the APNs host as host[:port] (proxies, staging, tests)', schema: optionalString },
  fcmServiceAccount: {
    env: 'HERALD_FCM_SERVICE_ACCOUNT',
    default: '',
    doc: 'Path to the Firebase service-account JSON; unset disables FCM',
    schema: optionalString,
  },
  fcmHost: { env: 'HERALD_FCM_HOST', default: '', doc: 'Override as host[:port] for the FCM and Google OAuth2 hosts (proxies, tests)', schema: optionalString },
  twilioAccountSid: { env: 'HERALD_TWILIO_ACCOUNT_SID', default: '', doc: 'Twilio account SID; unset disables SMS', schema: optionalString },
  twilioAuthToken: { env: 'HERALD_TWILIO_AUTH_TOKEN', default: '', doc: 'Twilio auth token (also verifies status callbacks)', schema: optionalString },
  twilioFrom: { env: 'HERALD_TWILIO_FROM', default: '', doc: 'Sender number (E.164) or Messaging Service SID (MG…)', schema: optionalString },
  twilioBaseUrl: {
    env: 'HERALD_TWILIO_BASE_URL',
    default: '',
    doc: 'Override of https://api.twilio.com (proxies, tests)',
    schema: z.string().url().optional(),
  },
  fallbackSmsDelay: {
    env: 'HERALD_FALLBACK_SMS_DELAY',
    default: '60',
    doc: 'Seconds an unread high-urgency message waits before the SMS fallback',
    schema: positiveInt,
  },
  fallbackEmailDelay: {
    env: 'HERALD_FALLBACK_EMAIL_DELAY',
    default: '900',
    doc: 'Seconds an unread normal-urgency message waits before the email fallback',
    schema: positiveInt,
  },
  digestInterval: { env: 'HERALD_DIGEST_INTERVAL', default: '3600', doc: 'Seconds between email digests of unread low-urgency messages', schema: positiveInt },
  roles: {
    env: 'HERALD_ROLES',
    default: 'api,gateway,triage,deliver',
    doc: 'What this process does, comma-separated: api (REST), gateway (WebSockets), triage, deliver',
    schema: z
      .string()
      .transform((v) => v.split(',').map((r) => r.trim()))
      .pipe(z.array(z.enum(['api', 'gateway', 'triage', 'deliver'])).min(1)),
  },
  clusterName: {
    env: 'HERALD_CLUSTER_NAME',
    default: 'herald',
    doc: 'Namespace of this cluster on shared servers: JetStream streams, BullMQ queues, presence keys',
    schema: z.string().regex(/^[a-z][a-z0-9_]{0,23}$/, 'expected a short lower-case name'),
  },
  natsUrl: {
    env: 'HERALD_NATS_URL',
    default: '',
    doc: 'NATS with JetStream (nats://host:4222, comma-separated for a cluster): the bus; unset: in-process bus',
    schema: optionalString,
  },
  redisUrl: {
    env: 'HERALD_REDIS_URL',
    default: '',
    doc: 'Redis (redis://host:6379): BullMQ scheduler and presence; unset: embedded scheduler and in-process presence',
    schema: z.string().url().optional(),
  },
  cassandraContactPoints: {
    env: 'HERALD_CASSANDRA_CONTACT_POINTS',
    default: '',
    doc: 'Cassandra contact points (host:port, comma-separated): the stores; unset: SQLite',
    schema: optionalString,
  },
  cassandraKeyspace: {
    env: 'HERALD_CASSANDRA_KEYSPACE',
    default: 'herald',
    doc: 'Cassandra keyspace',
    schema: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'expected a lower-case CQL identifier'),
  },
  cassandraLocalDc: { env: 'HERALD_CASSANDRA_LOCAL_DC', default: 'datacenter1', doc: 'Cassandra local data center', schema: z.string().min(1) },
  cassandraConsistency: {
    env: 'HERALD_CASSANDRA_CONSISTENCY',
    default: 'LOCAL_QUORUM',
    doc: 'Consistency of reads and writes: LOCAL_QUORUM, QUORUM, LOCAL_ONE or ONE',
    schema: z.enum(['LOCAL_QUORUM', 'QUORUM', 'LOCAL_ONE', 'ONE']),
  },
  cassandraReplicationFactor: {
    env: 'HERALD_CASSANDRA_REPLICATION_FACTOR',
    default: '1',
    doc: 'Replication factor `herald migrate` gives a new keyspace (3 in production)',
    schema: positiveInt,
  },
  elasticsearchUrl: {
    env: 'HERALD_ELASTICSEARCH_URL',
    default: '',
    doc: 'Elasticsearch (http://host:9200): search, audiences, reports; required with Cassandra',
    schema: z.string().url().optional(),
  },
  elasticsearchIndexPrefix: {
    env: 'HERALD_ELASTICSEARCH_INDEX_PREFIX',
    default: 'herald',
    doc: 'Prefix of Herald’s index names and templates',
    schema: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected a lower-case index prefix'),
  },
  elasticsearchReplicas: {
    env: 'HERALD_ELASTICSEARCH_REPLICAS',
    default: '1',
    doc: 'Replicas per index (0 on a single node)',
    schema: z.coerce.number().int().min(0).max(10),
  },
  elasticsearchCompat7: {
    env: 'HERALD_ELASTICSEARCH_COMPAT',
    default: 'false',
    doc: 'true against Elasticsearch 8.x: the 7.17 client sends compatible-with=7 media types (7.x needs none; 9.x is not supported)',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  metricsToken: {
    env: 'HERALD_METRICS_TOKEN',
    default: '',
    doc: 'Bearer token GET /metrics requires; unset: /metrics is open (then keep it off the public interface)',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
  },
  trustProxy: {
    env: 'HERALD_TRUST_PROXY',
    default: 'false',
    doc: 'true behind a reverse proxy: the client address (per-address rate limit) is the last X-Forwarded-For entry',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  rateSend: {
    env: 'HERALD_RATE_SEND',
    default: '60',
    doc: 'Sends per minute per non-admin sender (POST /api/v1/send); over it: 429 with Retry-After. Counted in Redis, cluster-wide, when HERALD_REDIS_URL is set; 0: off',
    schema: nonNegativeInt,
  },
  rateSendBurst: {
    env: 'HERALD_RATE_SEND_BURST',
    default: '20',
    doc: 'Sends in a row per non-admin sender: at most this many within 60×burst/HERALD_RATE_SEND seconds (20 s by default); 0: no burst limit',
    schema: nonNegativeInt,
  },
  rateRecipient: {
    env: 'HERALD_RATE_RECIPIENT',
    default: '30',
    doc: 'Sends per minute to one recipient from non-admin senders, all senders together; 0: off',
    schema: nonNegativeInt,
  },
  rateWsTicket: {
    env: 'HERALD_RATE_WS_TICKET',
    default: '30',
    doc: 'WebSocket tickets (POST /api/v1/ws/token) per minute per user; 0: off',
    schema: nonNegativeInt,
  },
  rateUnauthenticated: {
    env: 'HERALD_RATE_UNAUTHENTICATED',
    default: '120',
    doc: 'Requests per minute per client address that carry no valid token (public routes included, /healthz and /metrics excepted); 0: off',
    schema: nonNegativeInt,
  },
  rateAdmins: {
    env: 'HERALD_RATE_ADMINS',
    default: 'false',
    doc: 'true: admin tokens are counted by the send, recipient and ticket limits too (false: admins are unlimited)',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  shutdownGrace: { env: 'HERALD_SHUTDOWN_GRACE', default: '10', doc: 'Seconds SIGTERM waits for in-flight work to drain', schema: positiveInt },
} as const;

type Settings = typeof SETTINGS;
export type Config = { -readonly [K in keyof Settings]: z.output<Settings[K]['schema']> };

/** Shortest HS256 secret accepted: the key must be as long as the hash (RFC 7518 §3.2). */
const MIN_HS256_SECRET_BYTES = 32;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

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
  const groups: Array<[string, Array<keyof Config>]> = [
    ['APNs', ['apnsKey', 'apnsKeyId', 'apnsTeamId', 'apnsTopic']],
    ['Twilio', ['twilioAccountSid', 'twilioAuthToken', 'twilioFrom']],
  ];
  for (const [provider, keys] of groups) {
    const set = keys.filter((k) => result[k] !== undefined);
    if (set.length > 0 && set.length < keys.length) {
      const missing = keys.filter((k) => result[k] === undefined).map((k) => SETTINGS[k].env);
      problems.push(`${provider} is partly configured: also set ${missing.join(', ')}`);
    }
  }
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
      [Boolean(result.vapidPublicKey), 'HERALD_VAPID_PUBLIC_KEY and HERALD_VAPID_PRIVATE_KEY'],
      [result.jwtAlgorithm !== 'HS256' || Boolean(result.jwtSecret), 'HERALD_JWT_SECRET'],
    ];
    for (const [present, name] of shared) if (!present) problems.push(`HERALD_NATS_URL (a cluster) needs ${name}: processes must share it`);
  }
  if (Boolean(result.vapidPublicKey) !== Boolean(result.vapidPrivateKey)) {
    problems.push('HERALD_VAPID_PUBLIC_KEY and HERALD_VAPID_PRIVATE_KEY must be set together');
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  result.dataDir = path.resolve(result.dataDir);
  return result;
}
