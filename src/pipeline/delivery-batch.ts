/** The unit of delivery work on `herald.deliver.<channel>`: one message, many recipients. */
import type { Delivery, DeviceCapabilities, WithdrawReason } from '../../channels/port.js';
import type { ChannelName, Device, Message } from '../exchange/types.js';

export interface DeliveryItem {
  recipient: Delivery['recipient'];
  device?: Device;
  attempt: number;
  /** Signed when the batch is sent (never on the bus): src/auth/capabilities.ts. */
  capabilities?: DeviceCapabilities;
  /** The email's one-click unsubscribe link, signed when the batch is sent (never on the bus): src/auth/unsubscribe.ts. */
  unsubscribe?: string;
  /** The older message of the same topic this one replaced in the recipient's inbox (topic collapse). */
  replaces?: string;
}

export interface DeliveryBatch {
  channel: ChannelName;
  message: Message;
  items: DeliveryItem[];
  /** A batch of withdrawals of the message's copies (src/pipeline/withdraw.ts), not of the message. */
  withdraw?: WithdrawReason;
}

/** Deliveries per bus message: large enough to amortise, small enough to retry cheaply. */
export const DELIVERY_BATCH_SIZE = 100;

export const toDeliveries = (batch: DeliveryBatch): Delivery[] =>
  batch.items.map((item) => ({
    message: batch.message,
    recipient: item.recipient,
    device: item.device,
    channel: batch.channel,
    attempt: item.attempt,
    ...(batch.withdraw ? { withdraw: batch.withdraw } : {}),
    ...(item.capabilities ? { capabilities: item.capabilities } : {}),
    ...(item.unsubscribe ? { unsubscribe: item.unsubscribe } : {}),
    ...(item.replaces ? { replaces: item.replaces } : {}),
  }));
