/**
 * The core settings: everything but the channels' own (channels/<name>/settings.ts), which
 * src/config.ts merges in. Each setting: its variable, default (as the text a user would type),
 * meaning and schema (src/settings.ts).
 */
import { z } from 'zod';
import { parseCorsOrigins } from './cors.js';
import { ALWAYS_REFUSED_SCHEMES, SCHEME_NAME } from './exchange/links.js';
import { USER_CONTACTS_POLICIES, USER_SEND_POLICIES } from './exchange/send-policy.js';
import { booleanFlag, type ConfigOf, commaList, nonNegativeInt, optionalString, portNumber as port, positiveInt } from './settings.js';

export const CORE_SETTINGS = {
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
    schema: booleanFlag,
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
  threadsSelfJoin: {
    env: 'HERALD_THREADS_SELF_JOIN',
    default: '',
    doc: 'Threads a user may join by itself (PUT /api/v1/threads/{thread}/members/{its uid}), comma-separated names, each exact or a prefix ending in * (e.g. public.*); empty: only admins add members',
    schema: commaList.pipe(z.array(z.string().regex(/^[A-Za-z0-9._~:-]{0,128}\*?$/, 'must be thread names, or prefixes ending in *'))),
  },
  linkSchemes: {
    env: 'HERALD_LINK_SCHEMES',
    default: '',
    doc: 'App URL schemes accepted in links (`opts.link`, link-like email vars) besides http and https, comma-separated, e.g. myapp; javascript, data, vbscript and file are always refused',
    schema: commaList
      .transform((schemes) => schemes.map((scheme) => scheme.toLowerCase()))
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
  publicUrl: {
    env: 'HERALD_PUBLIC_URL',
    default: '',
    doc: 'URL at which providers and email readers reach this Herald: Twilio status callbacks, and the base of the one-click List-Unsubscribe link of every email (https, or http on a loopback host); unset: no callbacks are requested and emails carry no List-Unsubscribe',
    schema: z.string().url().optional(),
  },
  maxDevicesPerUser: {
    env: 'HERALD_MAX_DEVICES_PER_USER',
    default: '20',
    doc: 'Devices (push tokens and web push subscriptions) one user may register; one more is 409 HERALD_DEVICE_LIMIT',
    schema: positiveInt,
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
  capPerHour: {
    env: 'HERALD_CAP_PER_HOUR',
    default: '0',
    doc: 'Messages below high urgency one user may get per hour on intrusive channels (push, SMS); past it they stay in the inbox and join the next email digest (receipt suppressed, reason cap); high always passes; 0: no cap',
    schema: nonNegativeInt,
  },
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
    schema: booleanFlag,
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
    schema: booleanFlag,
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
    doc: 'Requests per minute per client address that carry no valid token (public routes included; /healthz, /metrics, /sdk/herald.js, /sdk/herald-sw.js and provider callbacks excepted); 0: off',
    schema: nonNegativeInt,
  },
  rateAdmins: {
    env: 'HERALD_RATE_ADMINS',
    default: 'false',
    doc: 'true: admin tokens are counted by the send, recipient and ticket limits too (false: admins are unlimited)',
    schema: booleanFlag,
  },
  corsOrigins: {
    env: 'HERALD_CORS_ORIGINS',
    default: '',
    doc: 'Web origins whose pages may call the API and open the socket (comma-separated, e.g. https://app.example), or * for any; unset: none (no CORS headers, the socket does not check Origin)',
    schema: z
      .string()
      .optional()
      .transform((text, ctx) => {
        const entries = (text ?? '')
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== '');
        try {
          return parseCorsOrigins(entries);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
  },
  circuitFailures: {
    env: 'HERALD_CIRCUIT_FAILURES',
    default: '5',
    doc: 'Provider failures in a row (5xx, network, TLS) that open its circuit: nothing is sent to it until a probe succeeds',
    schema: positiveInt,
  },
  circuitOpenMs: {
    env: 'HERALD_CIRCUIT_OPEN_MS',
    default: '5000',
    doc: 'Milliseconds an open circuit waits before its first probe (doubling after each failed probe, at most 60 s)',
    schema: positiveInt,
  },
  shutdownGrace: { env: 'HERALD_SHUTDOWN_GRACE', default: '10', doc: 'Seconds SIGTERM waits for in-flight work to drain', schema: positiveInt },
} as const;

/** The core configuration: what every part of Herald, channels included, may read. */
export type CoreConfig = ConfigOf<typeof CORE_SETTINGS>;
