import type { ChannelRegistration } from '../registration.js';
import { createRealtimeChannel } from './realtime-channel.js';

export const realtimeRegistration: ChannelRegistration = {
  name: 'realtime',
  disabledReason: () => undefined,
  create: ({ bus }) => createRealtimeChannel(bus),
};
