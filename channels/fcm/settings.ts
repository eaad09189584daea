/** The FCM channel's settings (merged into the configuration table by src/config.ts). */
import { optionalString, positiveInt } from '../../src/settings.js';

export const FCM_SETTINGS = {
  fcmServiceAccount: {
    env: 'HERALD_FCM_SERVICE_ACCOUNT',
    default: '',
    doc: 'Path to the Firebase service-account JSON; unset disables FCM',
    schema: optionalString,
  },
  fcmConcurrency: {
    env: 'HERALD_FCM_CONCURRENCY',
    default: '100',
    doc: 'FCM requests (HTTP/2 streams on the one session) in flight at once per process',
    schema: positiveInt,
  },
  fcmHost: { env: 'HERALD_FCM_HOST', default: '', doc: 'Override as host[:port] for the FCM and Google OAuth2 hosts (proxies, tests)', schema: optionalString },
} as const;
