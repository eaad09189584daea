/** The SMS channel's settings (Twilio; merged into the configuration table by src/config.ts). */
import { z } from 'zod';
import { optionalString } from '../../src/settings.js';

export const SMS_SETTINGS = {
  twilioAccountSid: { env: 'HERALD_TWILIO_ACCOUNT_SID', default: '', doc: 'Twilio account SID; unset disables SMS', schema: optionalString },
  twilioAuthToken: { env: 'HERALD_TWILIO_AUTH_TOKEN', default: '', doc: 'Twilio auth token (also verifies status callbacks)', schema: optionalString },
  twilioFrom: { env: 'HERALD_TWILIO_FROM', default: '', doc: 'Sender number (E.164) or Messaging Service SID (MG…)', schema: optionalString },
  twilioFallbackAccountSid: {
    env: 'HERALD_TWILIO_FALLBACK_ACCOUNT_SID',
    default: '',
    doc: 'A second Twilio account (SID), tried when the first one is unavailable (circuit open, 429, 5xx, network); unset: none',
    schema: optionalString,
  },
  twilioFallbackAuthToken: {
    env: 'HERALD_TWILIO_FALLBACK_AUTH_TOKEN',
    default: '',
    doc: "The second account's auth token (also verifies the status callbacks of the SMS it sent)",
    schema: optionalString,
  },
  twilioFallbackFrom: {
    env: 'HERALD_TWILIO_FALLBACK_FROM',
    default: '',
    doc: "The second account's sender number (E.164) or Messaging Service SID (MG…)",
    schema: optionalString,
  },
  twilioBaseUrl: {
    env: 'HERALD_TWILIO_BASE_URL',
    default: '',
    doc: 'Override of https://api.twilio.com (proxies, tests)',
    schema: z.string().url().optional(),
  },
} as const;
