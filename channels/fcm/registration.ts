/** Placeholder registration until the fcm channel lands. */
import type { ChannelRegistration } from '../registration.js';

export const fcmRegistration: ChannelRegistration = {
  name: 'fcm',
  disabledReason: () => 'not available in this version',
  create: () => {
    throw new Error('fcm channel is not available in this version');
  },
};
