import path from 'node:path';
import type { ChannelRegistration } from '../registration.js';
import { createEmailChannel, type EmailChannel } from './email-channel.js';

/** Always enabled: SMTP when HERALD_SMTP_URL is set, else .eml files in the outbox folder. */
export const emailRegistration: ChannelRegistration<EmailChannel> = {
  name: 'email',
  disabledReason: () => undefined,
  create: ({ config, log }) =>
    createEmailChannel({
      outboxDir: path.join(config.dataDir, 'outbox'),
      from: config.emailFrom,
      logger: log.child({ channel: 'email' }),
      ...(config.smtpUrl ? { smtpUrl: config.smtpUrl } : {}),
      ...(config.templatesDir ? { templatesDir: config.templatesDir } : {}),
    }),
};
