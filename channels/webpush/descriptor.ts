/**
 * The web push channel (browsers). Always enabled: Herald always has VAPID keys (configured, or
 * generated through `keys` and kept in the data dir; `herald vapid-keys` prints a new pair). Push
 * services are trusted through the process's trust store (NODE_EXTRA_CA_CERTS adds a private
 * CA), so no `ca` is passed here.
 */
import webpush from 'web-push';
import { webPushEgressOf } from '../../src/egress/settings.js';
import { ConfigError } from '../../src/settings.js';
import type { ChannelDescriptor } from '../port.js';
import { WEBPUSH_SETTINGS } from './settings.js';
import { createWebPushChannel } from './webpush-channel.js';

export const webpushDescriptor: ChannelDescriptor<typeof WEBPUSH_SETTINGS> = {
  name: 'webpush',
  address: 'device:web',
  intrusive: true,
  inApp: true,
  settings: WEBPUSH_SETTINGS,
  disabledReason: () => undefined,
  create: ({ config, log, keys }) => {
    if (!keys?.publicKey || !keys.privateKey) throw new ConfigError('webpush channel created without VAPID keys');
    return createWebPushChannel({
      vapid: { publicKey: keys.publicKey, privateKey: keys.privateKey, subject: config.vapidSubject },
      concurrency: config.webpushConcurrency,
      circuit: { failures: config.circuitFailures, openMs: config.circuitOpenMs },
      egress: webPushEgressOf(config),
      logger: log.child({ channel: 'webpush' }),
    });
  },
  keys: {
    secretsEntry: 'vapid',
    settings: { publicKey: 'vapidPublicKey', privateKey: 'vapidPrivateKey' },
    generate: () => ({ ...webpush.generateVAPIDKeys() }),
    command: {
      name: 'vapid-keys',
      summary: 'print a new VAPID key pair for web push',
      help: `Usage: herald vapid-keys

Prints a new VAPID key pair as HERALD_VAPID_PUBLIC_KEY / HERALD_VAPID_PRIVATE_KEY lines.
Without them Herald generates a pair on first start and keeps it in the data dir.`,
    },
  },
};
