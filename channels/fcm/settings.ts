/** The FCM channel's settings (merged into the configuration table by src/config.ts). */
import { optionalString } from '../../src/settings.js';

export const FCM_SETTINGS = {
  fcmServiceAccount: {
    env: 'HERALD_FCM_SERVICE_ACCOUNT',
    default: '',
    doc: 'Path to the Firebase service-account JSON; unset disables FCM',
    schema: optionalString,
  },
  fcmHost: { env: 'HERALD_FCM_HOST', default: '', doc: 'Override as host[:port] for the FCM and Google OAuth2 hosts (proxies, tests)', schema: optionalString },
} as const;
