/** The email channel's settings (merged into the configuration table by src/config.ts). */
import { z } from 'zod';
import { optionalString } from '../../src/settings.js';

/** One SMTP URL or several separated by commas (a URL's own commas must be percent-encoded). */
const smtpUrlList = z
  .string()
  .optional()
  .transform((text) =>
    (text ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
  )
  .pipe(z.array(z.url({ protocol: /^smtps?$/, message: 'each SMTP URL must be smtp:// or smtps://' })));

export const EMAIL_SETTINGS = {
  smtpUrls: {
    env: 'HERALD_SMTP_URL',
    default: '',
    doc: 'SMTP server (smtp:// or smtps://), or several separated by commas: a failover list, tried in order; unset writes .eml files to $HERALD_DATA_DIR/outbox',
    schema: smtpUrlList,
  },
  emailFrom: { env: 'HERALD_EMAIL_FROM', default: 'Herald <herald@localhost>', doc: 'From address of emails', schema: z.string().min(3) },
  templatesDir: {
    env: 'HERALD_TEMPLATES_DIR',
    default: '',
    doc: 'Folder of email templates (NAME.html.hbs, NAME.txt.hbs, NAME.subject.hbs); built-in ones are used when unset',
    schema: optionalString,
  },
} as const;
