/**
 * The realtime channel: hands a frame to whichever gateway holds the recipient's sockets, by a
 * signal on the recipient's bus subject. "sent" means handed to the gateways; "delivered" comes
 * later, from the client's `ack`.
 */
import { type Bus, subjects } from '../../src/bus/port.js';
import { messageFrame } from '../../src/exchange/message.js';
import type { Channel, DeliveryResult } from '../port.js';

export function createRealtimeChannel(bus: Bus): Channel {
  return {
    name: 'realtime',
    async deliver(batch) {
      const frame = batch[0] ? messageFrame(batch[0].message) : undefined;
      return batch.map((delivery): DeliveryResult => {
        const shared = delivery.message === batch[0]?.message && delivery.replaces === undefined;
        bus.emit(subjects.userFrames(delivery.recipient.uid), shared ? frame : messageFrame(delivery.message, delivery.replaces));
        return { type: 'sent' };
      });
    },
    async close() {},
  };
}
