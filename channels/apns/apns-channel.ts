/**
 * The APNs channel: iOS alert notifications through Apple's provider API with token (.p8) auth,
 * one `POST /3/device/<hex token>` per delivery over ONE long-lived, multiplexed HTTP/2 session
 * to api.push.apple.com (api.sandbox.push.apple.com unless `production`) for the life of the
 * channel (../http2-session.ts): opened on the first send, replaced when it gets GOAWAY, closes,
 * errors, stalls (a PING unanswered) or was idle for a minute; a request a GOAWAY refused is sent
 * again on the next session, so nothing is lost or sent twice. (@parse/node-apn, used before,
 * never dropped a stalled session, so every later request went to the dead one; it also never
 * read Retry-After and did not re-send requests a GOAWAY refused.)
 *
 * Per delivery, `sendOne`, through the connection's gate (../provider-gate.ts: urgency order, at
 * most `concurrency` in flight, a circuit opened by repeated 5xx or transport failures): the
 * request of its message (./notification.ts: the JSON payload and apns-topic, apns-push-type,
 * apns-priority, apns-expiration, apns-collapse-id; urgency → apns-priority high 10, normal 5,
 * low 5, very-low 1) with an `apns-id` of its own and `authorization: bearer <provider token>`
 * (./provider-token.ts: one ES256 JWT for every request, renewed every 50 minutes). A 403
 * ExpiredProviderToken renews the token (once for all requests that saw it) and sends once more.
 * 200 is sent, with Apple's `apns-id` as the provider id; every other answer and every failure
 * without one is classified (./classify.ts), Retry-After honoured.
 * Without an iOS device a delivery fails `no-device`; a token that is not hex is an invalid
 * recipient; a payload over 4 KB fails `apns-PayloadTooLarge` without a request. A batch that
 * holds one message twice for the same token sends it once; both get its result.
 *
 * Transport. The session goes to Apple's host on 443, or to `host` (proxy, staging, tests) with
 * TLS still naming Apple's host (SNI, certificate check, `:authority`); `ca` replaces the trusted
 * CAs. No other host is ever connected to.
 *
 * Guarantees (Channel port): one classified result per delivery, in batch order, each also
 * reported through `onResult` as soon as it is known; never throws for one delivery's failure;
 * at most `concurrency` requests in flight per batch and across all batches (the session's
 * stream limit). `close()` closes the gate, waits for sends in progress, then closes the session.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { mapLimit } from '../../src/concurrency.js';
import type { Message } from '../../src/exchange/types.js';
import { channelHttp2Options, createHttp2Client, type HostPort, type Http2Reply, parseHostPort } from '../http2-session.js';
import { type Channel, type Delivery, type DeliveryResult, type ProviderStatus, reportingEach } from '../port.js';
import { type CircuitSettings, createProviderGate } from '../provider-gate.js';
import { trackSends } from '../send-tracker.js';
import { type ApnsFailure, classifyFailure, failureOfAnswer } from './classify.js';
import { type ApnsRequest, apnsRequest, apnsWithdrawRequest, MAX_PAYLOAD_BYTES } from './notification.js';
import { loadSigningKey, providerTokens } from './provider-token.js';

export const APNS_PRODUCTION_ORIGIN = 'https://api.push.apple.com';
export const APNS_SANDBOX_ORIGIN = 'https://api.sandbox.push.apple.com';
/** Requests in flight at once when not configured. */
export const DEFAULT_APNS_CONCURRENCY = 100;

export interface ApnsChannelOptions {
  /** The .p8 token-auth key, PEM text. */
  key: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id, sent as apns-topic. */
  topic: string;
  /** api.push.apple.com when true, api.sandbox.push.apple.com when false. */
  production: boolean;
  /** `host[:port]` (or `[v6]:port`) to connect to instead of Apple's host: proxies, staging, tests. */
  host?: string;
  /** Certificate authority to trust instead of the system's (tests). */
  ca?: string | Buffer;
  logger?: Logger;
  /** Requests (HTTP/2 streams) in flight at once. Default 100. */
  concurrency?: number;
  /** A send without an answer this long fails as `retry apns-timeout`. Default 10 s. */
  requestTimeoutMs?: number;
  /** Unanswered stream → PING after this; unanswered PING → session dropped after this. Default 2 s. */
  pingTimeoutMs?: number;
  /** Failures in a row that open the connection's circuit, and how long it stays open first (ms). */
  circuit?: CircuitSettings;
  /** The provider token's clock (tests). */
  now?: () => number;
}

export interface ApnsChannel extends Channel {
  /** HTTP/2 sessions opened so far (tests, benchmarks). */
  readonly sessionsOpened: number;
  /** Provider tokens signed so far (tests). */
  readonly tokensSigned: number;
  providers(): ProviderStatus[];
}

const HEX_TOKEN = /^[0-9a-fA-F]+$/;

export function createApnsChannel(options: ApnsChannelOptions): ApnsChannel {
  const logger = options.logger;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_APNS_CONCURRENCY));
  let target: HostPort | undefined;
  try {
    target = options.host ? parseHostPort(options.host) : undefined;
  } catch (err) {
    throw new Error(`apns: host must be host[:port], got ${JSON.stringify(options.host)}`, { cause: err });
  }
  let key: ReturnType<typeof loadSigningKey>;
  try {
    key = loadSigningKey(options.key);
  } catch (err) {
    throw new Error('apns: cannot sign a provider token with this key (expected the .p8 EC private key, PEM)', { cause: err });
  }
  const tokens = providerTokens({ key, keyId: options.keyId, teamId: options.teamId, ...(options.now ? { now: options.now } : {}) });
  const client = createHttp2Client(channelHttp2Options(options.production ? APNS_PRODUCTION_ORIGIN : APNS_SANDBOX_ORIGIN, concurrency, target, options));
  const sends = trackSends('apns');
  const gate = createProviderGate({
    provider: 'apns',
    concurrency,
    circuit: options.circuit,
    onCircuit: (name, circuit) => logger?.warn({ provider: name, circuit }, 'apns: connection circuit changed'),
  });

  // One request body and header set per message, whatever the number of its deliveries.
  const requests = new WeakMap<Message, ApnsRequest>();
  const requestOf = (message: Message): ApnsRequest => {
    let request = requests.get(message);
    if (request === undefined) {
      request = apnsRequest(message, options.topic);
      requests.set(message, request);
    }
    return request;
  };

  /** One APNs request (and at most one more with a renewed provider token). */
  const sendOne = async (delivery: Delivery, deviceToken: string, request: ApnsRequest): Promise<DeliveryResult> => {
    const context = { messageId: delivery.message.id, uid: delivery.recipient.uid, deviceId: delivery.device?.id };
    const failureContext = { attempt: delivery.attempt, registeredAt: delivery.device?.createdAt };
    const apnsId = randomUUID();
    let failure: ApnsFailure = {};
    for (let send = 1; send <= 2; send++) {
      let bearer: string;
      try {
        bearer = await tokens.get();
      } catch (err) {
        logger?.error({ ...context, err }, 'apns provider token not signed');
        return classifyFailure({ error: err }, failureContext);
      }
      let reply: Http2Reply;
      try {
        reply = await client.request({
          path: `/3/device/${deviceToken}`,
          headers: { ...request.headers, 'apns-id': apnsId, authorization: `bearer ${bearer}` },
          body: request.body,
        });
      } catch (err) {
        const result = classifyFailure({ error: err }, failureContext);
        logger?.warn({ ...context, err: (err as Error).message, result }, 'apns send failed');
        return result;
      }
      if (reply.status === 200) {
        const id = reply.headers['apns-id'];
        return { type: 'sent', providerId: typeof id === 'string' && id !== '' ? id : apnsId };
      }
      failure = failureOfAnswer(reply.status, reply.headers, reply.body);
      // A second refusal is classified (retry later), not answered with yet another token.
      if (send === 2 || reply.status !== 403 || failure.response?.reason !== 'ExpiredProviderToken' || !tokens.refused(bearer)) break;
      logger?.info(context, 'apns provider token expired; sending again with a new one');
    }
    const result = classifyFailure(failure, failureContext);
    logger?.warn({ ...context, status: failure.status, reason: failure.response?.reason, result }, 'apns notification not accepted');
    return result;
  };

  const deliverOne = (delivery: Delivery, shared: Map<string, Promise<DeliveryResult>>): Promise<DeliveryResult> => {
    const device = delivery.device;
    if (device?.kind !== 'ios') return Promise.resolve({ type: 'failed', reason: 'no-device' });
    if (!HEX_TOKEN.test(device.token)) return Promise.resolve({ type: 'invalid-recipient', reason: 'apns-malformed-token' });
    const { message } = delivery;
    const request = delivery.withdraw ? apnsWithdrawRequest(message, options.topic, delivery.withdraw, Date.now()) : requestOf(message);
    if (request.bytes > MAX_PAYLOAD_BYTES) {
      logger?.warn({ messageId: message.id, bytes: request.bytes }, 'apns payload too large');
      return Promise.resolve({ type: 'failed', reason: 'apns-PayloadTooLarge' });
    }
    const key = `${message.id}\n${device.token}${delivery.withdraw ? '\nwithdraw' : ''}`;
    let sending = shared.get(key);
    if (sending === undefined) {
      sending = gate.send(message.urgency, () => sendOne(delivery, device.token, request));
      shared.set(key, sending);
    }
    return sending;
  };

  return {
    name: 'apns',

    get sessionsOpened() {
      return client.sessionsOpened;
    },

    get tokensSigned() {
      return tokens.signed;
    },

    async deliver(batch, onResult) {
      return sends.run(() => {
        const shared = new Map<string, Promise<DeliveryResult>>();
        return mapLimit(
          batch,
          concurrency,
          reportingEach((delivery) => deliverOne(delivery, shared), onResult),
        );
      });
    },

    providers: () => [gate.status()],

    async close() {
      gate.close();
      if (!(await sends.close())) return;
      await client.close();
    },
  };
}
