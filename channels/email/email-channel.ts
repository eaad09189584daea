/**
 * The email channel: renders each delivery with a Handlebars template and sends it through SMTP
 * (pooled, when `smtpUrl` is set) or into an outbox folder of `.eml` files (when it is not).
 * Guarantees (Channel port): one classified result per delivery, in batch order; never throws
 * for one delivery's failure; at most `concurrency` sends at once; built once per process.
 * `close()` waits for sends in progress, then releases the SMTP pool.
 */
import type { Logger } from 'pino';
import { mapLimit } from '../../src/concurrency.js';
import { type Channel, type Delivery, type DeliveryResult, reportingEach } from '../port.js';
import { trackSends } from '../send-tracker.js';
import { classifySendError } from './classify.js';
import { composeEmail } from './compose.js';
import { createOutbox, outboxFileName } from './outbox.js';
import type { Sender } from './senders.js';
import { createOutboxSender, createSmtpSender } from './senders.js';
import { builtInTemplatesDir, loadTemplates } from './templates.js';

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587` or `smtps://…`; unset writes `.eml` files to `outboxDir`. */
  smtpUrl?: string;
  outboxDir: string;
  /** The From address, e.g. `Herald <noreply@example.com>`. */
  from: string;
  /** Templates that add to or replace the built-in ones (by NAME). */
  templatesDir?: string;
  logger?: Logger;
  /** Sends in flight at once (and SMTP connections). Default 8. */
  concurrency?: number;
}

export interface EmailChannel extends Channel {
  /** True when a template of this name exists (the API may check `email.template` with it). */
  hasTemplate(name: string): boolean;
}

export function createEmailChannel(options: EmailChannelOptions): EmailChannel {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const logger = options.logger;
  const templates = loadTemplates(options.templatesDir ? [builtInTemplatesDir(), options.templatesDir] : [builtInTemplatesDir()]);
  const sender: Sender = options.smtpUrl ? createSmtpSender(options.smtpUrl, concurrency) : createOutboxSender(createOutbox(options.outboxDir));
  const sends = trackSends('email');

  const deliverOne = async (delivery: Delivery): Promise<DeliveryResult> => {
    const composed = composeEmail(delivery, templates, options.from);
    if (!composed.ok) {
      logger?.warn({ messageId: delivery.message.id, uid: delivery.recipient.uid, reason: composed.result }, 'email not sent');
      return composed.result;
    }
    try {
      const sent = await sender.send(composed.mail, outboxFileName(delivery.message.id, delivery.recipient.uid));
      logger?.debug({ messageId: delivery.message.id, uid: delivery.recipient.uid, ...sent }, 'email sent');
      return { type: 'sent', providerId: sent.providerId };
    } catch (err) {
      const result = classifySendError(err, delivery.attempt);
      logger?.warn({ err, messageId: delivery.message.id, uid: delivery.recipient.uid, result }, 'email send failed');
      return result;
    }
  };

  return {
    name: 'email',
    hasTemplate: (name) => templates.has(name),

    async deliver(batch, onResult) {
      return sends.run(() => mapLimit(batch, concurrency, reportingEach(deliverOne, onResult)));
    },

    async close() {
      if (!(await sends.close())) return;
      await sender.close();
    },
  };
}
