/** The APNs channel's settings (merged into the configuration table by src/config.ts). */
import { booleanFlag, optionalString, positiveInt } from '../../src/settings.js';

export const APNS_SETTINGS = {
  apnsKey: {
    env: 'HERALD_APNS_KEY',
    default: '',
    doc: 'APNs token-auth key (.p8): a path, or the PEM text itself; unset disables APNs',
    schema: optionalString,
  },
  apnsKeyId: { env: 'HERALD_APNS_KEY_ID', default: '', doc: 'APNs key id (10 characters)', schema: optionalString },
  apnsTeamId: { env: 'HERALD_APNS_TEAM_ID', default: '', doc: 'Apple developer team id', schema: optionalString },
  apnsTopic: { env: 'HERALD_APNS_TOPIC', default: '', doc: 'App bundle id, sent as apns-topic', schema: optionalString },
  apnsProduction: {
    env: 'HERALD_APNS_PRODUCTION',
    default: 'false',
    doc: 'true: api.push.apple.com; false: the sandbox',
    schema: booleanFlag,
  },
  apnsHost: { env: 'HERALD_APNS_HOST', default: '', doc: 'Override of the APNs host as host[:port] (proxies, staging, tests)', schema: optionalString },
  apnsConcurrency: {
    env: 'HERALD_APNS_CONCURRENCY',
    default: '100',
    doc: 'APNs requests (HTTP/2 streams on the one session) in flight at once per process',
    schema: positiveInt,
  },
} as const;
