/**
 * The email channel: renders each delivery with a Handlebars template and sends it through SMTP
 * (pooled, when `smtpUrls` are given) or into an outbox folder of `.eml` files (when none is).
 * Guarantees (Channel port): one classified result per delivery, in batch order; never throws
 * for one delivery's failure; at most `concurrency` sends at once; built once per process.
 * `close()` waits for sends in progress, then releases the SMTP pools.
 *
 * Several SMTP servers are an ordered failover list (../failover.ts): each behind its own gate
 * (../provider-gate.ts: urgency order, circuit breaker), named `smtp-1`, `smtp-2`… in receipts,
 * /healthz and /metrics (never by URL: it may hold credentials). A send goes to the first server
 * whose circuit is not open and moves to the next when one answers a retryable failure.
 */
import type { Logger } from 'pino';
import { mapLimit } from '../../src/concurrency.js';
import { createFailover, type Failover } from '../failover.js';
import { type Channel, type Delivery, type DeliveryResult, type ProviderStatus, reportingEach } from '../port.js';
import { type CircuitSettings, createProviderGate } from '../provider-gate.js';
import { trackSends } from '../send-tracker.js';
import { classifySendError } from './classify.js';
import { composeEmail } from './compose.js';
import { createOutbox, outboxFileName } from './outbox.js';
import type { Sender } from './senders.js';
import { createOutboxSender, createSmtpSender } from './senders.js';
import { builtInTemplatesDir, loadTemplates } from './templates.js';

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587` or `smtps://…`, in failover order; none writes `.eml` files to `outboxDir`. */
  smtpUrls?: readonly string[];
  outboxDir: string;
  /** The From address, e.g. `Herald <noreply@example.com>`. */
  from: string;
  /** Templates that add to or replace the built-in ones (by NAME). */
  templatesDir?: string;
  logger?: Logger;
  /** Sends in flight at once (and SMTP connections per server). Default 8. */
  concurrency?: number;
  /** Failures in a row that open a server's circuit, and how long it stays open first (ms). */
  circuit?: CircuitSettings;
}

export interface EmailChannel extends Channel {
  /** True when a template of this name exists (the API may check `email.template` with it). */
  hasTemplate(name: string): boolean;
  providers(): ProviderStatus[];
}

export function createEmailChannel(options: EmailChannelOptions): EmailChannel {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const logger = options.logger;
  const templates = loadTemplates(options.templatesDir ? [builtInTemplatesDir(), options.templatesDir] : [builtInTemplatesDir()]);
  const smtpSenders = (options.smtpUrls ?? []).map((url) => createSmtpSender(url, concurrency));
  const smtp: Failover<Sender> | undefined =
    smtpSenders.length > 0
      ? createFailover(
          smtpSenders.map((client, i) => ({
            client,
            gate: createProviderGate({
              provider: `smtp-${i + 1}`,
              concurrency,
              circuit: options.circuit,
              onCircuit: (provider, circuit) => logger?.warn({ provider, circuit }, 'email: SMTP server circuit changed'),
            }),
          })),
        )
      : undefined;
  const outbox: Sender | undefined = smtp ? undefined : createOutboxSender(createOutbox(options.outboxDir));
  const senders: Sender[] = outbox ? [outbox] : smtpSenders;
  const sends = trackSends('email');

  const deliverOne = async (delivery: Delivery): Promise<DeliveryResult> => {
    const composed = composeEmail(delivery, templates, options.from);
    if (!composed.ok) {
      logger?.warn({ messageId: delivery.message.id, uid: delivery.recipient.uid, reason: composed.result }, 'email not sent');
      return composed.result;
    }
    const fileName = outboxFileName(delivery.message.id, delivery.recipient.uid);
    const sendVia = async (sender: Sender): Promise<DeliveryResult> => {
      try {
        const sent = await sender.send(composed.mail, fileName);
        logger?.debug({ messageId: delivery.message.id, uid: delivery.recipient.uid, ...sent }, 'email sent');
        return { type: 'sent', providerId: sent.providerId };
      } catch (err) {
        const result = classifySendError(err, delivery.attempt);
        logger?.warn({ err, messageId: delivery.message.id, uid: delivery.recipient.uid, result }, 'email send failed');
        return result;
      }
    };
    return smtp ? smtp.send(delivery.message.urgency, sendVia) : sendVia(outbox as Sender);
  };

  return {
    name: 'email',
    hasTemplate: (name) => templates.has(name),

    async deliver(batch, onResult) {
      return sends.run(() => mapLimit(batch, concurrency, reportingEach(deliverOne, onResult)));
    },

    providers: () => smtp?.statuses() ?? [],

    async close() {
      smtp?.close();
      if (!(await sends.close())) return;
      await Promise.all(senders.map((sender) => sender.close()));
    },
  };
}
