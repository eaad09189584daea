/**
 * The FCM channel (Android devices), enabled by HERALD_FCM_SERVICE_ACCOUNT (path to the service-account JSON); HERALD_FCM_HOST
 * routes its connections elsewhere (proxy, tests); HERALD_FCM_CONCURRENCY bounds its requests in
 * flight. A file that cannot be read or is not a service account stops start-up with a
 * ConfigError naming the variable.
 */
import { ConfigError } from '../../src/settings.js';
import { parseHostPort } from '../http2-session.js';
import type { ChannelDescriptor } from '../port.js';
import { createFcmChannel } from './fcm-channel.js';
import { FCM_SETTINGS } from './settings.js';

export const fcmDescriptor: ChannelDescriptor<typeof FCM_SETTINGS> = {
  name: 'fcm',
  address: 'device:android',
  intrusive: true,
  inApp: true,
  settings: FCM_SETTINGS,
  disabledReason: (config) => (config.fcmServiceAccount ? undefined : 'missing credentials: set HERALD_FCM_SERVICE_ACCOUNT'),
  create: ({ config, log }) => {
    const serviceAccountPath = config.fcmServiceAccount;
    if (!serviceAccountPath) throw new ConfigError('HERALD_FCM_SERVICE_ACCOUNT is not set');
    if (config.fcmHost) {
      try {
        parseHostPort(config.fcmHost);
      } catch (err) {
        throw new ConfigError(`HERALD_FCM_HOST: ${(err as Error).message}`);
      }
    }
    try {
      return createFcmChannel({
        serviceAccountPath,
        logger: log.child({ channel: 'fcm' }),
        concurrency: config.fcmConcurrency,
        circuit: { failures: config.circuitFailures, openMs: config.circuitOpenMs },
        ...(config.fcmHost ? { host: config.fcmHost } : {}),
      });
    } catch (err) {
      throw new ConfigError(`HERALD_FCM_SERVICE_ACCOUNT: ${(err as Error).message}`);
    }
  },
};
