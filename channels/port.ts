/**
 * Channel port: the only code that knows a provider. A channel takes a batch of deliveries and
 * answers one classified result per delivery, in the same order. It never throws for a
 * delivery's failure — it classifies it; a thrown error means the whole batch is retried.
 *
 * A channel is built once per process and kept for its life (one provider client, pooled
 * connections), never per send.
 */
import type { ChannelName, Device, Message, User } from '../src/exchange/types.js';

export interface Delivery {
  message: Message;
  recipient: Pick<User, 'uid' | 'email' | 'phone' | 'locale' | 'timezone'>;
  /** The device addressed, for push channels. */
  device?: Device;
  channel: ChannelName;
  /** 1 on the first attempt. */
  attempt: number;
}

/** The outcome of one delivery, as a tagged union. */
export type DeliveryResult =
  | { type: 'sent'; providerId?: string }
  | { type: 'retry'; afterMs: number; reason: string }
  /** The address is gone for good (token unregistered, subscription expired): prune it. */
  | { type: 'invalid-recipient'; reason: string }
  | { type: 'failed'; reason: string };

export interface Channel {
  readonly name: ChannelName;
  deliver(batch: Delivery[]): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}
