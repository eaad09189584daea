/**
 * The one place channels are registered. A channel that cannot run with the configuration
 * (missing credentials) is reported at start-up and in /healthz, and triage skips it
 * (suppressed, `channel-not-configured`, when a message asks for it by name).
 */
import type { ChannelName } from '../src/exchange/types.js';
import { apnsRegistration } from './apns/registration.js';
import type { EmailChannel } from './email/email-channel.js';
import { emailRegistration } from './email/registration.js';
import { fcmRegistration } from './fcm/registration.js';
import type { Channel } from './port.js';
import { realtimeRegistration } from './realtime/registration.js';
import type { ChannelContext, ChannelRegistration } from './registration.js';
import { smsRegistration } from './sms/registration.js';
import { webpushRegistration } from './webpush/registration.js';

export const CHANNEL_REGISTRY: readonly ChannelRegistration[] = [
  realtimeRegistration,
  webpushRegistration,
  apnsRegistration,
  fcmRegistration,
  emailRegistration,
  smsRegistration,
];

export interface ChannelSet {
  enabled: Map<ChannelName, Channel>;
  /** Why each registered but disabled channel is off. */
  disabled: Map<ChannelName, string>;
  email: EmailChannel;
}

export function createChannels(context: ChannelContext, registry: readonly ChannelRegistration[] = CHANNEL_REGISTRY): ChannelSet {
  const enabled = new Map<ChannelName, Channel>();
  const disabled = new Map<ChannelName, string>();
  for (const registration of registry) {
    const reason = registration.disabledReason(context.config);
    if (reason === undefined) enabled.set(registration.name, registration.create(context));
    else disabled.set(registration.name, reason);
  }
  return { enabled, disabled, email: enabled.get('email') as EmailChannel };
}
