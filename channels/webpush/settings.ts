/** The web push channel's settings (merged into the configuration table by src/config.ts). */
import { z } from 'zod';
import { booleanFlag, optionalString, positiveInt } from '../../src/settings.js';

export const WEBPUSH_SETTINGS = {
  vapidPublicKey: {
    env: 'HERALD_VAPID_PUBLIC_KEY',
    default: '',
    doc: 'VAPID public key (base64url); generated and kept in the data dir when unset',
    schema: optionalString,
  },
  vapidPrivateKey: {
    env: 'HERALD_VAPID_PRIVATE_KEY',
    default: '',
    doc: 'VAPID private key (base64url); set together with the public key',
    schema: optionalString,
  },
  vapidSubject: {
    env: 'HERALD_VAPID_SUBJECT',
    default: 'mailto:herald@localhost',
    doc: 'VAPID subject: a mailto: or https: contact',
    schema: z.string().regex(/^(mailto:|https:)/, 'expected mailto: or https:'),
  },
  webpushConcurrency: { env: 'HERALD_WEBPUSH_CONCURRENCY', default: '50', doc: 'Web push requests in flight at once per process', schema: positiveInt },
  webpushAllowPrivate: {
    env: 'HERALD_WEBPUSH_ALLOW_PRIVATE',
    default: 'false',
    doc: 'For development and tests only: web push endpoints may be IP literals and resolve to loopback, private or reserved addresses, and http: to loopback is allowed (push-service emulators)',
    schema: booleanFlag,
  },
  webpushHosts: {
    env: 'HERALD_WEBPUSH_HOSTS',
    default: '',
    doc: 'Comma-separated host suffixes web push endpoints must match (e.g. `fcm.googleapis.com,push.services.mozilla.com`); unset: any public host',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9.,\s-]*$/, 'must be comma-separated host names')
      .optional(),
  },
} as const;
