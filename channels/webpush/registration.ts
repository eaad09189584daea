/** Placeholder registration until the webpush channel lands. */
import type { ChannelRegistration } from '../registration.js';

export const webpushRegistration: ChannelRegistration = {
  name: 'webpush',
  disabledReason: () => 'not available in this version',
  create: () => {
    throw new Error('webpush channel is not available in this version');
  },
};
