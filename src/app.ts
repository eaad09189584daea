/**
 * Builds one Herald process from its configuration: the adapters (chosen in src/adapters.ts,
 * the only file that picks one), the channels (channels/registry.ts), the HTTP routes, the
 * WebSocket gateway and the pipeline workers of the process's roles, wired together; and its
 * graceful stop. Everything below this file receives ports.
 */

import uWS from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { CHANNEL_TRAITS, channelKeySources, channelProviders, createChannels, inboundHooks } from '../channels/registry.js';
import { createAdapters } from './adapters.js';
import type { ApiDeps } from './api/deps.js';
import { mountHttpRoutes } from './api/http-server.js';
import { operationOf } from './api/openapi.js';
import { createRateLimits } from './api/rate-limits.js';
import type { ResponseMismatch } from './api/response-check.js';
import type { Route } from './api/route.js';
import { adminRoutes } from './api/routes/admin.js';
import { consoleRoutes } from './api/routes/console.js';
import { demoRoutes } from './api/routes/demo.js';
import { deviceRoutes } from './api/routes/devices.js';
import { inboundRoutes } from './api/routes/inbound.js';
import { messageRoutes } from './api/routes/messages.js';
import { operationRoutes } from './api/routes/operations.js';
import { renewalRoutes } from './api/routes/renewal.js';
import { sdkRoutes } from './api/routes/sdk.js';
import { sendingRoutes } from './api/routes/sending.js';
import { threadRoutes } from './api/routes/threads.js';
import { unsubscribeRoutes } from './api/routes/unsubscribe.js';
import { userRoutes } from './api/routes/users.js';
import { createCapabilities } from './auth/capabilities.js';
import { loadSecrets } from './auth/secrets.js';
import { createTickets } from './auth/tickets.js';
import { createTokenVerifier } from './auth/tokens.js';
import { createUnsubscribeLinks, createUnsubscribeTokens, unsubscribeBase } from './auth/unsubscribe.js';
import { type Bus, type Subscription, subjects } from './bus/port.js';
import { type Config, ConfigError } from './config.js';
import { createCorsPolicy } from './cors.js';
import { lockDataDir, prepareDataDir } from './data-dir.js';
import { webPushEgressOf } from './egress/settings.js';
import { mountGateway } from './gateway/gateway.js';
import { wsOperation } from './gateway/ws-endpoint.js';
import { createLimiterStore } from './limits/limiter-store.js';
import { listenWhenFree } from './listen.js';
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics } from './observability/metrics.js';
import { createCaps } from './pipeline/caps.js';
import { recordClientReceipts } from './pipeline/client-receipts.js';
import { startDeliveryWorkers } from './pipeline/delivery.js';
import type { PipelineDeps } from './pipeline/deps.js';
import { handleFallbacks } from './pipeline/fallback.js';
import { handleRecallSweeps } from './pipeline/recall.js';
import { recordTallies } from './pipeline/receipts.js';
import { createRecentErasures, type UserErased } from './pipeline/recent-erasures.js';
import { CLUSTER_CLOCK_SKEW_MS, createRecentRecalls, type MessageRecalled } from './pipeline/recent-recalls.js';
import { handleScheduledSends, recoverQueuedDeliveries, recoverUntriagedMessages } from './pipeline/recovery.js';
import { startTriage } from './pipeline/triage.js';
import { MIN_WORKER_STOP_MS, shutdownStep } from './shutdown.js';
import type { Stores } from './store/port.js';

export interface Herald {
  /** The port actually listened on (useful with HERALD_PORT=0). */
  port: number;
  /** A URL this machine reaches Herald at (loopback when it listens on every interface). */
  url: string;
  /** What it listens on, as host:port (`0.0.0.0:8080` is every IPv4 interface). */
  listening: string;
  log: Logger;
  /** Graceful stop: refuse new requests, drain in-flight ones, close sockets with 1001, stop workers. */
  stop(): Promise<void>;
  /** The REST routes this process mounted: GET /openapi.json documents them (with /ws on a gateway). */
  routes: readonly Route[];
  /** The process's stores and bus, for tests that drive it from within (test/e2e/thread-topics.test.ts). */
  stores: Stores;
  bus: Bus;
}

export interface StartOptions {
  log?: Logger;
  /**
   * Tests only: check every REST answer against the route's document (src/api/response-check.ts)
   * and report each one that breaks it here; it is answered as a 500 naming the mismatch.
   */
  onResponseMismatch?: (mismatch: ResponseMismatch) => void;
}

/** Users seen by this process: `ensure` is written once per user, not once per request. */
const KNOWN_USERS_LIMIT = 100_000;

export async function startHerald(config: Config, options: StartOptions = {}): Promise<Herald> {
  const log = options.log ?? createLogger(config.logLevel);
  const roles = new Set(config.roles);
  prepareDataDir(config.dataDir);
  const dataDirLock = lockDataDir(config.dataDir);
  const secrets = loadSecrets(
    config.dataDir,
    {
      ...(config.jwtSecret ? { jwtSecret: config.jwtSecret } : {}),
      ...(config.ticketSecret ? { ticketSecret: config.ticketSecret } : {}),
    },
    channelKeySources(config),
  );

  const adapters = await createAdapters(config, log);
  const { stores, search, scheduler, bus, presence } = adapters;
  const metrics = createMetrics();
  const channels = createChannels({ config, bus, log, keys: secrets.channelKeys });
  for (const [name, reason] of channels.disabled) log.info({ channel: name, reason }, 'channel disabled');

  const policy = {
    phoneDelayMs: config.fallbackSmsDelay * 1000,
    emailDelayMs: config.fallbackEmailDelay * 1000,
    digestIntervalMs: config.digestInterval * 1000,
  };
  // One limiter store (this process, or Redis when set) counts the rate limits and the caps.
  const limiterStore = await createLimiterStore({
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    prefix: config.clusterName,
    log: log.child({ component: 'limits' }),
  });
  const caps = createCaps(limiterStore, config.capPerHour, stores.receipts);
  const capabilities = createCapabilities(secrets.ticketSecret, { ledger: adapters.ticketLedger });
  // List-Unsubscribe links need a public https URL (src/auth/unsubscribe.ts); without one, emails carry none.
  const unsubscribeTokens = createUnsubscribeTokens(secrets.ticketSecret);
  const unsubscribeLinksBase = unsubscribeBase(config.publicUrl);
  if (!unsubscribeLinksBase)
    log.info({ publicUrl: config.publicUrl ?? null }, 'emails carry no List-Unsubscribe header: HERALD_PUBLIC_URL is unset or not https');
  const deps: PipelineDeps = {
    stores,
    bus,
    search,
    scheduler,
    presence,
    channels: channels.enabled,
    traits: CHANNEL_TRAITS,
    log,
    metrics,
    policy,
    ...(caps ? { caps } : {}),
    capabilities,
    ...(unsubscribeLinksBase ? { unsubscribe: createUnsubscribeLinks(unsubscribeTokens, unsubscribeLinksBase) } : {}),
    erasures: createRecentErasures(),
    // On a bus between machines another process's clock may run a little ahead of this one's.
    ...(roles.has('triage') ? { recalls: createRecentRecalls({ clockSkewMs: config.natsUrl ? CLUSTER_CLOCK_SKEW_MS : 0 }) } : {}),
    now: Date.now,
  };
  const tickets = createTickets(secrets.ticketSecret, config.wsTicketTtl, adapters.ticketLedger);
  // Closing the rate limits closes the limiter store they share with the caps.
  const rateLimits = createRateLimits(limiterStore, {
    send: config.rateSend,
    sendBurst: config.rateSendBurst,
    recipient: config.rateRecipient,
    wsTicket: config.rateWsTicket,
    unauthenticated: config.rateUnauthenticated,
    admins: config.rateAdmins,
  });
  const apiDeps: ApiDeps = {
    ...deps,
    tickets,
    capabilities,
    rateLimits,
    vapidPublicKey: secrets.channelKeys.get('webpush')?.publicKey ?? '',
    webPushEgress: webPushEgressOf(config),
    maxDevicesPerUser: config.maxDevicesPerUser,
    hasEmailTemplate: (name) => channels.email.hasTemplate(name),
    async health() {
      const checks: Record<string, string> = {
        store: (await stores.healthy()) ? 'ok' : 'unavailable',
        bus: (await bus.healthy()) ? 'ok' : 'unavailable',
        search: (await search.healthy()) ? 'ok' : 'unavailable',
      };
      for (const name of channels.enabled.keys()) checks[`channel:${name}`] = 'ok';
      for (const name of channels.disabled.keys()) checks[`channel:${name}`] = 'disabled';
      return checks;
    },
    providers: () => channelProviders(channels.enabled),
  };

  const app = uWS.App();
  const knownUsers = new Set<string>();
  const cors = createCorsPolicy(config.corsOrigins);
  const http = mountHttpRoutes(app, {
    cors,
    routes: [
      ...operationRoutes(apiDeps, { metricsToken: config.metricsToken, operations: () => documented }),
      ...(roles.has('api')
        ? [
            ...sendingRoutes(apiDeps, { userSend: config.userSend, linkSchemes: config.linkSchemes }),
            ...deviceRoutes(apiDeps),
            ...renewalRoutes(apiDeps),
            ...userRoutes(apiDeps, { userContacts: config.userContacts }),
            ...threadRoutes(apiDeps, { selfJoin: config.threadsSelfJoin }),
            ...adminRoutes(apiDeps),
            ...messageRoutes(apiDeps),
            ...inboundRoutes(apiDeps, inboundHooks(config, log)),
            ...sdkRoutes(),
            ...unsubscribeRoutes(apiDeps, unsubscribeTokens),
            ...demoRoutes(),
            ...consoleRoutes(),
          ]
        : []),
    ],
    verifier: await createTokenVerifier(config, secrets.jwtSecret),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    limitUnauthenticated: (ip) => rateLimits.unauthenticated(ip),
    log,
    metrics,
    ...(options.onResponseMismatch ? { onResponseMismatch: options.onResponseMismatch } : {}),
    async onCaller(caller) {
      if (knownUsers.has(caller.uid)) return;
      await stores.users.ensure(caller.uid, Date.now());
      if (knownUsers.size >= KNOWN_USERS_LIMIT) knownUsers.clear();
      knownUsers.add(caller.uid);
    },
  });
  const holderId = randomUUID();
  const gateway = roles.has('gateway')
    ? mountGateway({
        app,
        holderId,
        tickets,
        bus,
        presence,
        stores,
        log,
        metrics,
        maxBackpressure: config.wsMaxBackpressure,
        idleTimeoutSeconds: config.wsIdleTimeout,
        maxSocketsPerUser: config.maxSocketsPerUser,
        presenceTtlMs: config.presenceTtl * 1000,
        cors,
        onReceipts: async (uid, ids, state, socket) => {
          await recordClientReceipts(deps, uid, ids, state, 'realtime', Date.now(), { socket });
        },
        onPublished: (messageId, sockets) =>
          recordTallies(deps, [{ messageId, channel: 'realtime', state: 'sent', source: holderId, count: sockets, at: Date.now() }]),
      })
    : undefined;
  /** What GET /openapi.json documents: the routes mounted, and /ws on a gateway. */
  const documented = [...http.routes.map(operationOf), ...(gateway ? [wsOperation] : [])];
  metrics.observe({
    queueDepths: () => adapters.queueDepths(),
    liveSockets: () => gateway?.liveSockets() ?? 0,
    scheduledJobs: () => scheduler.pending(),
    providers: () => channelProviders(channels.enabled),
  });

  const workers: Subscription[] = [];
  // Every role records receipts (client receipts, webhooks, deliveries): each hears of erasures.
  // An erased user is unknown again: its next authenticated request creates it anew (ensure).
  workers.push(
    bus.subscribe<UserErased>(subjects.userErased, (erased) => {
      deps.erasures?.note(erased);
      knownUsers.delete(erased.uid);
    }),
  );
  if (roles.has('triage')) {
    // Heard before triage starts, so that triage may trust the message its event carries (triage.ts).
    workers.push(bus.subscribe<MessageRecalled>(subjects.messageRecalled, (recalled) => deps.recalls?.note(recalled), { onGap: () => deps.recalls?.gap() }));
    deps.recalls?.gap();
    workers.push(...startTriage(deps));
    handleScheduledSends(deps);
    handleFallbacks(deps);
    handleRecallSweeps(deps);
    await recoverUntriagedMessages(deps);
  }
  if (roles.has('deliver')) {
    workers.push(...startDeliveryWorkers(deps));
    await recoverQueuedDeliveries(deps);
  }
  if (roles.has('triage') || roles.has('deliver')) await scheduler.start();

  // Exclusive: a second process on the same port fails here instead of sharing the port's traffic;
  // sockets a killed predecessor left behind are waited for (src/listen.ts).
  const listened = await listenWhenFree({
    port: config.port,
    waitMs: PORT_LINGER_WAIT_MS,
    tryListen: () => new Promise<uWS.us_listen_socket | false>((resolve) => listenExclusive(app, config.host, config.port, resolve)),
    onWait: () =>
      log.warn(
        { port: config.port, waitMs: PORT_LINGER_WAIT_MS },
        'port held by closed connections of a previous process (TIME_WAIT after a crash): waiting for the kernel to release it',
      ),
  });
  if (listened === false) {
    throw new ConfigError(`cannot listen on ${config.host}:${config.port}: the port is in use or not allowed (HERALD_HOST / HERALD_PORT)`);
  }
  const listenSocket = listened;
  const port = uWS.us_socket_local_port(listenSocket);
  const url = `http://${localHostOf(config.host)}:${port}`;
  const listening = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ port, mode: adapters.mode, roles: [...roles], channels: [...channels.enabled.keys()] }, 'herald listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      http.stopAccepting();
      uWS.us_listen_socket_close(listenSocket);
      // Draining and the workers share the grace period; every step runs, bounded (src/shutdown.ts).
      const deadline = Date.now() + config.shutdownGrace * 1000;
      await shutdownStep(log, 'drain requests', () => http.drained(), deadline - Date.now());
      await shutdownStep(log, 'close sockets and workers', () => {
        gateway?.close();
        for (const worker of workers) worker.unsubscribe();
      });
      await shutdownStep(log, 'bus and scheduler', () => Promise.all([bus.close(), scheduler.stop()]), Math.max(deadline - Date.now(), MIN_WORKER_STOP_MS));
      for (const channel of channels.enabled.values()) await shutdownStep(log, `channel ${channel.name}`, () => channel.close());
      await shutdownStep(log, 'presence', () => presence.close());
      await shutdownStep(log, 'rate limits', () => rateLimits.close());
      await shutdownStep(log, 'search', () => search.close());
      await shutdownStep(log, 'stores', () => stores.close());
      await shutdownStep(log, 'adapters', () => adapters.release());
      dataDirLock.release();
      log.info('herald stopped');
    })());
  return { port, url, listening, log, stop, routes: http.routes, stores, bus };
}

/** The host this machine dials to reach a listener on `host`: loopback for the any-address. */
function localHostOf(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** uWS's ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (declared in its types, not exported at run time). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
/** Longer than Linux's TIME_WAIT and default tcp_fin_timeout (60 s each), which bound how long such sockets linger. */
const PORT_LINGER_WAIT_MS = 90_000;

/** `app.listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb)`: uWS takes the options argument with a host too; its types list it only without. */
function listenExclusive(app: uWS.TemplatedApp, host: string, port: number, cb: (socket: uWS.us_listen_socket | false) => void): void {
  const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (socket: uWS.us_listen_socket | false) => void) => void;
  listen.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb);
}
