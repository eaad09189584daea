/**
 * The APNs channel: iOS alert notifications through @parse/node-apn with token (.p8) auth.
 * Guarantees (Channel port): one classified result per delivery, in batch order; never throws
 * for one delivery's failure; built once per process with ONE `apn.Provider`, i.e. one
 * multiplexed HTTP/2 connection (re-opened by the library when it drops) and one ES256
 * provider token that the library renews before Apple's hour is up.
 *
 * A batch is grouped by message: each message becomes one notification (notification.ts, which
 * also documents urgency → apns-priority: high 10, normal 5, low 5, very-low 1) sent with
 * `provider.send(note, tokens)` to its distinct device tokens, at most `maxStreams` at once;
 * the library's `{sent, failed}` is mapped back to the deliveries by token (classify.ts).
 * Without an iOS device a delivery fails `no-device`; a token that is not hex is an
 * invalid recipient; a payload over 4 KB fails `apns-PayloadTooLarge` without a request.
 *
 * The library re-sends 408/429/5xx at once, Retry-After unread; `immediateRetries` (default 1)
 * keeps that to one re-send — enough for its expired-provider-token renewal — and Herald's own
 * backoff does the rest. `close()` waits for sends in flight, then shuts the provider down.
 */
import apn from '@parse/node-apn';
import type { Logger } from 'pino';
import type { Message } from '../../src/exchange/types.js';
import { providerBackoff } from '../../src/retry.js';
import type { Channel, Delivery, DeliveryResult, ProviderStatus } from '../port.js';
import { createProviderGate, ProviderDeferredError } from '../provider-gate.js';
import { trackSends } from '../send-tracker.js';
import { type ApnsFailure, classifyFailure, signalOfFailures } from './classify.js';
import { buildNotification, MAX_PAYLOAD_BYTES } from './notification.js';

export interface ApnsChannelOptions {
  /** The .p8 token-auth key, PEM text. */
  key: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id, sent as apns-topic. */
  topic: string;
  /** api.push.apple.com when true, api.sandbox.push.apple.com when false. */
  production: boolean;
  /** `host[:port]` (or `[v6]:port`) instead of Apple's host: proxies, staging, tests. */
  host?: string;
  /** Certificate authority to trust instead of the system's (tests). */
  ca?: string | Buffer;
  logger?: Logger;
  /** Device tokens in flight at once per `provider.send` (HTTP/2 streams). Default 100. */
  maxStreams?: number;
  /** Immediate re-sends the library makes for 408/429/5xx. Default 1. */
  immediateRetries?: number;
  /** How long one request may take before it counts as a connection failure. Default 10 s. */
  requestTimeoutMs?: number;
  /** `provider.send` calls in flight at once (each up to `maxStreams` tokens). Default 4. */
  concurrency?: number;
  /** Failures in a row that open the connection's circuit, and how long it stays open first (ms). */
  circuit?: { failures: number; openMs: number };
}

/** Splits `host[:port]` / `[v6][:port]` into the library's `address` and `port`. */
export function parseHost(host: string): { address: string; port?: number } {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!match?.[1]) throw new Error(`apns: host must be host[:port], got ${JSON.stringify(host)}`);
  const port = match[2] !== undefined ? Number(match[2]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`apns: port out of range in ${JSON.stringify(host)}`);
  return port === undefined ? { address: match[1] } : { address: match[1], port };
}

const HEX_TOKEN = /^[0-9a-fA-F]+$/;
const SHUTDOWN_WAIT_MS = 2_000;

type SendOutcome = { sent: true; apnsId?: string } | { sent: false; failure: ApnsFailure } | { sent: false; deferred: ProviderDeferredError };

interface Group {
  message: Message;
  /** Indices into the batch. */
  indices: number[];
}

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

export interface ApnsChannel extends Channel {
  providers(): ProviderStatus[];
}

export function createApnsChannel(options: ApnsChannelOptions): ApnsChannel {
  const logger = options.logger;
  const maxStreams = Math.max(1, options.maxStreams ?? 100);
  const providerOptions: apn.ProviderOptions = {
    token: { key: options.key, keyId: options.keyId, teamId: options.teamId },
    production: options.production,
    connectionRetryLimit: Math.max(0, options.immediateRetries ?? 1),
    requestTimeout: options.requestTimeoutMs ?? 10_000,
  };
  if (options.host) Object.assign(providerOptions, parseHost(options.host));
  if (options.ca !== undefined) providerOptions.ca = [options.ca];

  let provider: apn.Provider;
  try {
    provider = new apn.Provider(providerOptions);
  } catch (err) {
    throw new Error('apns: cannot sign a provider token with this key (expected the .p8 EC private key, PEM)', { cause: err });
  }

  const sends = trackSends('apns');
  const gate = createProviderGate({
    provider: 'apns',
    concurrency: Math.max(1, options.concurrency ?? 4),
    ...(options.circuit ? { failureThreshold: options.circuit.failures, openMs: options.circuit.openMs } : {}),
    onCircuit: (name, circuit) => logger?.warn({ provider: name, circuit }, 'apns: connection circuit changed'),
  });

  /** Sends `note` to each token once; every token gets an outcome. */
  const sendTo = async (note: apn.Notification, tokens: string[], message: Message): Promise<Map<string, SendOutcome>> => {
    const messageId = message.id;
    const outcomes = new Map<string, SendOutcome>();
    for (const part of chunks(tokens, maxStreams)) {
      try {
        const { sent, failed } = await gate.run(
          message.urgency,
          () => provider.send(note, part),
          (answer) => signalOfFailures(answer.failed as ApnsFailure[]),
        );
        for (const entry of sent) {
          const apnsId = (entry as apn.ResponseSent & { 'apns-id'?: unknown })['apns-id'];
          outcomes.set(entry.device, typeof apnsId === 'string' ? { sent: true, apnsId } : { sent: true });
        }
        for (const entry of failed as ApnsFailure[]) if (typeof entry.device === 'string') outcomes.set(entry.device, { sent: false, failure: entry });
      } catch (error) {
        if (error instanceof ProviderDeferredError) {
          for (const token of part) outcomes.set(token, { sent: false, deferred: error });
          continue;
        }
        // provider.send settles every token itself: this is the gate closing, or a defect.
        logger?.error({ err: error, messageId }, 'apns send threw');
        for (const token of part) outcomes.set(token, { sent: false, failure: { error } });
      }
    }
    return outcomes;
  };

  const deliverGroup = async (batch: Delivery[], group: Group, results: DeliveryResult[]): Promise<void> => {
    const { message } = group;
    const { note, bytes } = buildNotification(message, options.topic);
    if (bytes > MAX_PAYLOAD_BYTES) {
      logger?.warn({ messageId: message.id, bytes }, 'apns payload too large');
      for (const i of group.indices) results[i] = { type: 'failed', reason: 'apns-PayloadTooLarge' };
      return;
    }
    const tokenOf = (i: number): string => batch[i]?.device?.token ?? '';
    const tokens = [...new Set(group.indices.map(tokenOf))];
    const outcomes = await sendTo(note, tokens, message);

    for (const i of group.indices) {
      const delivery = batch[i] as Delivery;
      const outcome = outcomes.get(tokenOf(i));
      if (outcome === undefined) {
        results[i] = { type: 'retry', afterMs: providerBackoff(delivery.attempt), reason: 'apns-no-answer' };
      } else if (outcome.sent) {
        results[i] = outcome.apnsId !== undefined ? { type: 'sent', providerId: outcome.apnsId } : { type: 'sent' };
      } else if ('deferred' in outcome) {
        results[i] = { type: 'deferred', untilMs: outcome.deferred.untilMs, reason: outcome.deferred.reason };
      } else {
        const result = classifyFailure(outcome.failure, { attempt: delivery.attempt, registeredAt: delivery.device?.createdAt });
        results[i] = result;
        const { status, response } = outcome.failure;
        logger?.warn({ messageId: message.id, uid: delivery.recipient.uid, status, reason: response?.reason, result }, 'apns notification not accepted');
      }
    }
  };

  const deliverAll = async (batch: Delivery[]): Promise<DeliveryResult[]> => {
    const results = new Array<DeliveryResult>(batch.length);
    const groups = new Map<string, Group>();
    for (const [i, delivery] of batch.entries()) {
      const device = delivery.device;
      if (device?.kind !== 'ios') {
        results[i] = { type: 'failed', reason: 'no-device' };
      } else if (!HEX_TOKEN.test(device.token)) {
        results[i] = { type: 'invalid-recipient', reason: 'apns-malformed-token' };
      } else {
        const group = groups.get(delivery.message.id) ?? { message: delivery.message, indices: [] };
        group.indices.push(i);
        groups.set(delivery.message.id, group);
      }
    }
    for (const group of groups.values()) await deliverGroup(batch, group, results);
    return results;
  };

  return {
    name: 'apns',

    async deliver(batch) {
      return sends.run(() => deliverAll(batch));
    },

    providers: () => [gate.status()],

    async close() {
      gate.close();
      if (!(await sends.close())) return;
      // The library's shutdown never calls back when its session died of an error (it waits
      // for a destroyed session to close), so the wait is bounded.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => provider.shutdown(() => resolve())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
