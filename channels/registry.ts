/**
 * The one place channels are registered: each entry says when it is enabled and how it is
 * built. A channel that is not enabled is reported at start-up and in /healthz, and triage
 * skips it (suppressed, `channel-not-configured`, when a message asks for it by name).
 */
import path from 'node:path';
import type { Bus } from '../src/bus/port.js';
import type { Config } from '../src/config.js';
import type { ChannelName } from '../src/exchange/types.js';
import type { Logger } from '../src/observability/log.js';
import { createEmailChannel, type EmailChannel } from './email/email-channel.js';
import type { Channel } from './port.js';
import { createRealtimeChannel } from './realtime/realtime-channel.js';

export interface ChannelSet {
  enabled: Map<ChannelName, Channel>;
  /** Why each registered-but-disabled channel is off. */
  disabled: Map<ChannelName, string>;
  email: EmailChannel;
}

export function createChannels(config: Config, bus: Bus, log: Logger): ChannelSet {
  const email = createEmailChannel({
    outboxDir: path.join(config.dataDir, 'outbox'),
    from: config.emailFrom,
    logger: log.child({ channel: 'email' }),
    ...(config.smtpUrl ? { smtpUrl: config.smtpUrl } : {}),
    ...(config.templatesDir ? { templatesDir: config.templatesDir } : {}),
  });
  const enabled = new Map<ChannelName, Channel>([
    ['realtime', createRealtimeChannel(bus)],
    ['email', email],
  ]);
  const disabled = new Map<ChannelName, string>([
    ['webpush', 'not available in this version'],
    ['apns', 'not available in this version'],
    ['fcm', 'not available in this version'],
    ['sms', 'not available in this version'],
  ]);
  return { enabled, disabled, email };
}
