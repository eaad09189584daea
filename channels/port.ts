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

/** Called with a delivery's index in the batch and its result as soon as the provider answered. */
export type OnDeliveryResult = (index: number, result: DeliveryResult) => void;

export interface Channel {
  readonly name: ChannelName;
  /**
   * Delivers the batch. A channel may also report each result early through `onResult` (the
   * worker records it at once, so a crash later in the batch never repeats that delivery);
   * the answer still holds every result.
   */
  deliver(batch: Delivery[], onResult?: OnDeliveryResult): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}

/** Wraps a one-delivery function so that each result is also reported early (see Channel.deliver). */
export const reportingEach =
  (deliverOne: (delivery: Delivery) => Promise<DeliveryResult>, onResult: OnDeliveryResult | undefined) =>
  async (delivery: Delivery, index: number): Promise<DeliveryResult> => {
    const result = await deliverOne(delivery);
    onResult?.(index, result);
    return result;
  };
