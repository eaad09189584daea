/**
 * Registers the SMS channel (Twilio): enabled when HERALD_TWILIO_ACCOUNT_SID, _AUTH_TOKEN and
 * _FROM are set (config.ts refuses a partial set). Status callbacks are requested only when
 * HERALD_PUBLIC_URL says where Twilio can reach this Herald.
 */
import { ConfigError } from '../../src/config.js';
import type { ChannelRegistration } from '../registration.js';
import { twilioWebhookUrl } from './callback.js';
import { createSmsChannel } from './sms-channel.js';

export const smsRegistration: ChannelRegistration = {
  name: 'sms',
  disabledReason: (config) =>
    config.twilioAccountSid && config.twilioAuthToken && config.twilioFrom
      ? undefined
      : 'missing credentials: set HERALD_TWILIO_ACCOUNT_SID, HERALD_TWILIO_AUTH_TOKEN, HERALD_TWILIO_FROM',
  create: ({ config, log }) => {
    const { twilioAccountSid: accountSid, twilioAuthToken: authToken, twilioFrom: from } = config;
    if (!accountSid || !authToken || !from) throw new ConfigError('sms channel created without Twilio credentials');
    // The SDK throws on this at construction; say which variable is wrong instead.
    if (!accountSid.startsWith('AC')) throw new ConfigError(`HERALD_TWILIO_ACCOUNT_SID must start with AC (an API key SID is not supported)`);
    return createSmsChannel({
      accountSid,
      authToken,
      from,
      logger: log.child({ channel: 'sms' }),
      ...(config.twilioBaseUrl ? { baseUrl: config.twilioBaseUrl } : {}),
      ...(config.publicUrl ? { statusCallbackUrl: twilioWebhookUrl(config.publicUrl) } : {}),
    });
  },
};
