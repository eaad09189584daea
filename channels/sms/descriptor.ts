/**
 * The SMS channel (Twilio): enabled when HERALD_TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _FROM are set
 * (`requiredTogether` refuses a partial set). HERALD_TWILIO_FALLBACK_* name a second account, tried
 * when the first is unavailable (sms-channel.ts). Status callbacks are requested only when
 * HERALD_PUBLIC_URL says where Twilio can reach this Herald; their hook (status-hook.ts) is
 * mounted either way, and refuses callbacks while they are not configured.
 */
import { ConfigError } from '../../src/settings.js';
import type { ChannelDescriptor } from '../port.js';
import { twilioWebhookUrl } from './callback.js';
import { SMS_SETTINGS } from './settings.js';
import { createSmsChannel } from './sms-channel.js';
import { twilioStatusHook } from './status-hook.js';

export const smsDescriptor: ChannelDescriptor<typeof SMS_SETTINGS> = {
  name: 'sms',
  address: 'phone',
  intrusive: true,
  inApp: false,
  settings: SMS_SETTINGS,
  requiredTogether: [
    { label: 'Twilio', keys: ['twilioAccountSid', 'twilioAuthToken', 'twilioFrom'] },
    { label: 'The second Twilio account', keys: ['twilioFallbackAccountSid', 'twilioFallbackAuthToken', 'twilioFallbackFrom'] },
  ],
  disabledReason: (config) =>
    config.twilioAccountSid && config.twilioAuthToken && config.twilioFrom
      ? undefined
      : 'missing credentials: set HERALD_TWILIO_ACCOUNT_SID, HERALD_TWILIO_AUTH_TOKEN, HERALD_TWILIO_FROM',
  create: ({ config, log }) => {
    const { twilioAccountSid: accountSid, twilioAuthToken: authToken, twilioFrom: from } = config;
    if (!accountSid || !authToken || !from) throw new ConfigError('sms channel created without Twilio credentials');
    // The SDK throws on this at construction; say which variable is wrong instead.
    if (!accountSid.startsWith('AC')) throw new ConfigError(`HERALD_TWILIO_ACCOUNT_SID must start with AC (an API key SID is not supported)`);
    const fallback = config.twilioFallbackAccountSid;
    if (fallback && !fallback.startsWith('AC'))
      throw new ConfigError(`HERALD_TWILIO_FALLBACK_ACCOUNT_SID must start with AC (an API key SID is not supported)`);
    return createSmsChannel({
      accounts: [
        { accountSid, authToken, from },
        ...(fallback && config.twilioFallbackAuthToken && config.twilioFallbackFrom
          ? [{ accountSid: fallback, authToken: config.twilioFallbackAuthToken, from: config.twilioFallbackFrom }]
          : []),
      ],
      logger: log.child({ channel: 'sms' }),
      circuit: { failures: config.circuitFailures, openMs: config.circuitOpenMs },
      ...(config.twilioBaseUrl ? { baseUrl: config.twilioBaseUrl } : {}),
      ...(config.publicUrl ? { statusCallbackUrl: twilioWebhookUrl(config.publicUrl) } : {}),
    });
  },
  inbound: ({ config }) => [
    twilioStatusHook({
      authTokens: [config.twilioAuthToken, config.twilioFallbackAuthToken].filter((t): t is string => Boolean(t)),
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    }),
  ],
};
