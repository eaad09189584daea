/** Placeholder registration until the sms channel lands. */
import type { ChannelRegistration } from '../registration.js';

export const smsRegistration: ChannelRegistration = {
  name: 'sms',
  disabledReason: () => 'not available in this version',
  create: () => {
    throw new Error('sms channel is not available in this version');
  },
};
