/** The realtime channel: frames to the user's live sockets, through the bus to every gateway. Always enabled. */
import type { ChannelDescriptor } from '../port.js';
import { createRealtimeChannel } from './realtime-channel.js';

export const realtimeDescriptor: ChannelDescriptor<Record<never, never>> = {
  name: 'realtime',
  address: 'socket',
  intrusive: false,
  inApp: true,
  settings: {},
  disabledReason: () => undefined,
  create: ({ bus }) => createRealtimeChannel(bus),
};
