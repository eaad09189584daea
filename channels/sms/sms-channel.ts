/**
 * The SMS channel: sends each delivery as one Twilio message to the recipient's phone number
 * (User.phone, E.164), from a number or through a Messaging Service (`from` = MG…), asking Twilio
 * for status callbacks when Herald has a public URL. `sent` carries the Message SID.
 *
 * Guarantees (Channel port): one classified result per delivery, in batch order; never throws
 * for one delivery's failure; at most `concurrency` sends at once; one twilio client with one
 * keep-alive connection pool for the process's life. Every send goes through its account's gate
 * (../provider-gate.ts): urgency order, a 429 pausing the account for its Retry-After, a circuit
 * opened by repeated 5xx or transport failures. Several accounts are a failover list
 * (../failover.ts), named `twilio-1`, `twilio-2` in receipts, /healthz and /metrics: a send moves
 * to the next account when one is unavailable or answers a retryable failure. `close()` waits for
 * sends in progress, then closes the pool.
 *
 * Twilio's Messages API has no idempotency key: a send that timed out after Twilio accepted it
 * is retried like any transport failure and may reach the phone twice.
 */
import type { Logger } from 'pino';
import twilio from 'twilio';
import { mapLimit } from '../../src/concurrency.js';
import { parseRetryAfter } from '../../src/retry.js';
import { createFailover } from '../failover.js';
import { type Channel, type Delivery, type DeliveryResult, type ProviderStatus, reportingEach } from '../port.js';
import { type CircuitSettings, createProviderGate } from '../provider-gate.js';
import { trackSends } from '../send-tracker.js';
import { withDeliveryRef } from './callback.js';
import { classifyTwilioError } from './classify.js';
import { smsBody } from './compose.js';
import { HeraldTwilioHttpClient } from './http-client.js';

export interface TwilioAccount {
  /** AC… */
  accountSid: string;
  authToken: string;
  /** Sender: an E.164 number (or short code / alphanumeric id), or a Messaging Service SID (MG + 32 hex). */
  from: string;
  /** This account's API host instead of the channel's `baseUrl` (an account in another region, tests). */
  baseUrl?: string;
}

export interface SmsChannelOptions {
  /** The accounts, in failover order (at least one). */
  accounts: readonly TwilioAccount[];
  /** Instead of https://api.twilio.com (proxies, tests). */
  baseUrl?: string;
  /** Where Twilio posts delivery status; each message adds its delivery reference to the query. Unset: no callbacks. */
  statusCallbackUrl?: string;
  /** Extra CA to trust (tests); production trusts private CAs through NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer;
  /** Sends in flight at once (and pooled connections). Default 8. */
  concurrency?: number;
  /** Per-request timeout. Default 30 s (the SDK's). */
  timeoutMs?: number;
  /** Failures in a row that open the account's circuit, and how long it stays open first (ms). */
  circuit?: CircuitSettings;
  logger?: Logger;
}

const MESSAGING_SERVICE_SID = /^MG[0-9a-f]{32}$/i;

/** Sends go `From` a number, or through a Messaging Service when `from` is a Messaging Service SID. */
export const senderParams = (from: string): { from: string } | { messagingServiceSid: string } =>
  MESSAGING_SERVICE_SID.test(from) ? { messagingServiceSid: from } : { from };

export interface SmsChannel extends Channel {
  providers(): ProviderStatus[];
}

export function createSmsChannel(options: SmsChannelOptions): SmsChannel {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const logger = options.logger;
  const httpClientFor = (baseUrl: string | undefined): HeraldTwilioHttpClient =>
    new HeraldTwilioHttpClient({
      maxSockets: concurrency,
      ...(baseUrl ? { baseUrl } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  const clients = options.accounts.map((account) => {
    const httpClient = httpClientFor(account.baseUrl ?? options.baseUrl);
    return { twilio: twilio(account.accountSid, account.authToken, { httpClient, autoRetry: false }), httpClient, sender: senderParams(account.from) };
  });
  const accounts = createFailover(
    clients.map((client, i) => ({
      client,
      gate: createProviderGate({
        provider: `twilio-${i + 1}`,
        concurrency,
        circuit: options.circuit,
        onCircuit: (provider, circuit) => logger?.warn({ provider, circuit }, 'sms: Twilio account circuit changed'),
      }),
    })),
  );
  const sends = trackSends('sms');

  const deliverOne = async (delivery: Delivery): Promise<DeliveryResult> => {
    const { message, recipient } = delivery;
    const log = { messageId: message.id, uid: recipient.uid, attempt: delivery.attempt };
    const phone = recipient.phone;
    if (!phone) {
      logger?.debug(log, 'sms not sent: no phone number');
      return { type: 'failed', reason: 'no-phone-number' };
    }
    const statusCallback = options.statusCallbackUrl ? withDeliveryRef(options.statusCallbackUrl, { messageId: message.id, uid: recipient.uid }) : undefined;
    return accounts.send(message.urgency, async ({ twilio: client, httpClient, sender }) => {
      const outcome = await httpClient.capture(() =>
        client.messages.create({
          to: phone,
          body: smsBody(message),
          ...sender,
          ...(statusCallback ? { statusCallback } : {}),
        }),
      );
      if (outcome.ok) {
        logger?.debug({ ...log, sid: outcome.value.sid }, 'sms sent');
        return { type: 'sent', providerId: outcome.value.sid };
      }
      const result = classifyTwilioError(outcome.error, delivery.attempt, parseRetryAfter(outcome.capture.retryAfter));
      logger?.warn({ ...log, error: safeFields(outcome.error), result }, 'sms send failed');
      return result;
    });
  };

  return {
    name: 'sms',

    async deliver(batch, onResult) {
      return sends.run(() => mapLimit(batch, concurrency, reportingEach(deliverOne, onResult)));
    },

    providers: () => accounts.statuses(),

    async close() {
      accounts.close();
      if (!(await sends.close())) return;
      for (const { httpClient } of clients) httpClient.destroy();
    },
  };
}

/**
 * What of a send error is safe to log. Never the error itself: a transport error is an AxiosError
 * whose `config` holds the request headers, Basic credentials included.
 */
function safeFields(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const { name, message, status, code, moreInfo } = error as Record<string, unknown>;
  return Object.fromEntries(Object.entries({ name, message, status, code, moreInfo }).filter(([, value]) => value !== undefined));
}
