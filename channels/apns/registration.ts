/** Placeholder registration until the apns channel lands. */
import type { ChannelRegistration } from '../registration.js';

export const apnsRegistration: ChannelRegistration = {
  name: 'apns',
  disabledReason: () => 'not available in this version',
  create: () => {
    throw new Error('apns channel is not available in this version');
  },
};
