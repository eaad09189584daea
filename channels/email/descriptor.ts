/** The email channel. Always enabled: SMTP when HERALD_SMTP_URL names one or more servers, else .eml files in the outbox folder. */
import path from 'node:path';
import type { ChannelDescriptor } from '../port.js';
import { createEmailChannel, type EmailChannel } from './email-channel.js';
import { EMAIL_SETTINGS } from './settings.js';

export const emailDescriptor: ChannelDescriptor<typeof EMAIL_SETTINGS, EmailChannel> = {
  name: 'email',
  address: 'email',
  intrusive: false,
  inApp: false,
  settings: EMAIL_SETTINGS,
  disabledReason: () => undefined,
  create: ({ config, log }) =>
    createEmailChannel({
      outboxDir: path.join(config.dataDir, 'outbox'),
      from: config.emailFrom,
      logger: log.child({ channel: 'email' }),
      smtpUrls: config.smtpUrls,
      circuit: { failures: config.circuitFailures, openMs: config.circuitOpenMs },
      ...(config.templatesDir ? { templatesDir: config.templatesDir } : {}),
    }),
};
