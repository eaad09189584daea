/** The email channel's settings (merged into the configuration table by src/config.ts). */
import { z } from 'zod';
import { optionalString } from '../../src/settings.js';

export const EMAIL_SETTINGS = {
  smtpUrl: {
    env: 'HERALD_SMTP_URL',
    default: '',
    doc: 'SMTP server (smtp:// or smtps://); unset writes .eml files to $HERALD_DATA_DIR/outbox',
    schema: z.string().url().optional(),
  },
  emailFrom: { env: 'HERALD_EMAIL_FROM', default: 'Herald <herald@localhost>', doc: 'From address of emails', schema: z.string().min(3) },
  templatesDir: {
    env: 'HERALD_TEMPLATES_DIR',
    default: '',
    doc: 'Folder of email templates (NAME.html.hbs, NAME.txt.hbs, NAME.subject.hbs); built-in ones are used when unset',
    schema: optionalString,
  },
} as const;
