/**
 * Registers the web push channel. Always enabled: Herald always has VAPID keys (configured, or
 * generated and kept in the data dir). Push services are trusted through the process's trust
 * store (NODE_EXTRA_CA_CERTS adds a private CA), so no `ca` is passed here.
 */

import { webPushEgressOf } from '../../src/egress/settings.js';
import type { ChannelRegistration } from '../registration.js';
import { createWebPushChannel } from './webpush-channel.js';

export const webpushRegistration: ChannelRegistration = {
  name: 'webpush',
  disabledReason: () => undefined,
  create: ({ config, log, vapid }) =>
    createWebPushChannel({
      vapid,
      concurrency: config.webpushConcurrency,
      egress: webPushEgressOf(config),
      logger: log.child({ channel: 'webpush' }),
    }),
};
