/**
 * The web push channel: encrypts each delivery for its browser subscription (aes128gcm) and
 * POSTs it to the subscription's push service (the request built by web-push), with a VAPID
 * header signed once per push service origin (vapid.ts). Guarantees (Channel port): one
 * classified result per delivery, in batch order; never throws for one delivery's failure
 * (classify.ts judges it); every request goes through the gate of its push service origin
 * (../provider-gate.ts): urgency order, at most `concurrency` in flight per origin (adaptive), a
 * 429's Retry-After pausing only that origin, a circuit opened by repeated 5xx/network failures;
 * only endpoints the egress policy allows are called, checked before each request and
 * again at connect time (transport.ts, src/egress) — else `failed endpoint-refused`; one
 * keep-alive agent for the channel's life (with `ca` when given; otherwise the process's trust
 * store, which NODE_EXTRA_CA_CERTS extends). Bad VAPID keys fail at creation, not at send time.
 * `close()` waits for sends in progress, then closes the agent's sockets.
 */
import type { Logger } from 'pino';
import webpush from 'web-push';
import { mapLimit } from '../../src/concurrency.js';
import type { Resolver } from '../../src/egress/lookup.js';
import { type EgressPolicy, STRICT_EGRESS } from '../../src/egress/policy.js';
import { type Channel, type Delivery, type DeliveryResult, reportingEach } from '../port.js';
import type { CircuitSettings, CircuitState, ProviderStatus } from '../provider-gate.js';
import { createProviderGates } from '../provider-gates.js';
import { trackSends } from '../send-tracker.js';
import { classifyPushError } from './classify.js';
import { messagePayloadMembers, preparePush } from './request.js';
import { createPushTransport } from './transport.js';
import { createVapidSigner, type VapidKeys } from './vapid.js';

export interface WebPushChannelOptions {
  vapid: VapidKeys;
  /** Requests in flight at once per push service origin, across all batches. */
  concurrency: number;
  /** Failures in a row that open an origin's circuit, and how long it stays open first (ms). */
  circuit?: CircuitSettings;
  /** Extra CA(s) to trust for push services (tests); production uses NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer;
  /** Socket idle timeout of one request, in ms. Default 15 s. */
  timeoutMs?: number;
  /** Which endpoints may be called (src/egress); default: public https hosts only. */
  egress?: EgressPolicy;
  /** Tests: resolve push service names through this instead of the system resolver. */
  resolver?: Resolver;
  logger?: Logger;
}

const DEFAULT_TIMEOUT_MS = 15_000;

const locationOf = (headers: Record<string, unknown> | undefined): string | undefined => {
  const value = headers?.location;
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === 'string' && text !== '' ? text : undefined;
};

export interface WebPushChannel extends Channel {
  providers(): ProviderStatus[];
}

export function createWebPushChannel(options: WebPushChannelOptions): WebPushChannel {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const logger = options.logger;
  // Validates subject and keys now (throws), so a misconfiguration stops start-up.
  const vapid = createVapidSigner(options.vapid);
  // The members common to a message's payloads serialised once, whatever the number of its deliveries.
  const members = new WeakMap<Delivery['message'], string>();
  const membersOf = (message: Delivery['message']): string => {
    let text = members.get(message);
    if (text === undefined) {
      text = messagePayloadMembers(message);
      members.set(message, text);
    }
    return text;
  };

  const transport = createPushTransport({
    egress: options.egress ?? STRICT_EGRESS,
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.resolver !== undefined ? { resolver: options.resolver } : {}),
  });
  const gates = createProviderGates({
    concurrency,
    circuit: options.circuit,
    onCircuit: (provider: string, circuit: CircuitState) => logger?.warn({ provider, circuit }, 'web push: push service circuit changed'),
  });
  const sends = trackSends('webpush');

  const deliverOne = async (delivery: Delivery): Promise<DeliveryResult> => {
    const prepared = preparePush(delivery, Date.now(), membersOf);
    const context = { messageId: delivery.message.id, uid: delivery.recipient.uid, deviceId: delivery.device?.id };
    if (!prepared.ok) {
      logger?.warn({ ...context, result: prepared.result }, 'web push not sent');
      return prepared.result;
    }
    const { subscription, origin, payload, TTL, urgency, topic } = prepared.request;
    const refusal = transport.refusal(subscription.endpoint);
    if (refusal !== undefined) {
      logger?.warn({ ...context, refusal }, 'web push not sent: endpoint refused by the egress policy');
      return { type: 'failed', reason: 'endpoint-refused' };
    }
    const request = async (): Promise<DeliveryResult> => {
      try {
        const response = await transport.send(
          webpush.generateRequestDetails(subscription, payload, {
            // Our own cached VAPID header; null (not undefined) keeps web-push from signing again
            // with keys that webpush.setVapidDetails may have set globally.
            vapidDetails: null as unknown as undefined,
            headers: { Authorization: vapid.authorization(origin) },
            TTL,
            urgency,
            ...(topic !== undefined ? { topic } : {}),
          }),
          timeout,
        );
        const providerId = locationOf(response.headers);
        logger?.debug({ ...context, status: response.statusCode, providerId }, 'web push sent');
        return providerId !== undefined ? { type: 'sent', providerId } : { type: 'sent' };
      } catch (err) {
        const result = classifyPushError(err, delivery.attempt);
        logger?.warn(
          { ...context, status: (err as { statusCode?: unknown }).statusCode, code: (err as { code?: unknown }).code, result },
          'web push send failed',
        );
        return result;
      }
    };
    return gates.of(origin).send(delivery.message.urgency, request);
  };

  return {
    name: 'webpush',

    async deliver(batch, onResult) {
      return sends.run(() => mapLimit(batch, concurrency, reportingEach(deliverOne, onResult)));
    },

    providers: () => gates.statuses(),

    async close() {
      gates.close();
      if (!(await sends.close())) return;
      transport.destroy();
    },
  };
}
