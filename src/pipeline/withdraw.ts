/**
 * "Read once, quiet everywhere": when a user read or clicked a message on one channel or device
 * (reason `read`), or its sender recalled it (reason `recall`), its copies already delivered
 * elsewhere are withdrawn where the platform allows:
 *  - `read` only: a `{"type":"read","ids":[...]}` frame to the user's sockets, on every gateway
 *    (the user's bus subject), except the socket that reported the read (`source.socket`);
 *    a recall sends its own `recall` frame (the recall route's business).
 *  - every push device of the user that holds a copy — a receipt of the message on a device
 *    channel in state sent, delivered, read or clicked — except the device that reported
 *    (`source.device`) and devices the user no longer holds: one withdrawal each, queued as a
 *    DeliveryBatch with `withdraw` on the channel's normal delivery subject, so it passes the same
 *    provider gates, urgency order, retries and egress checks as a delivery
 *    (src/pipeline/delivery.ts deliverWithdrawals). What each channel sends is its own:
 *    a `close` push to the service worker (web push), a background update with the same
 *    collapse id (APNs, FCM).
 * A withdrawal records no receipt: reports count the message once. Cost: one receipt read per
 * message and one device read per call, then one withdrawal per device that holds a copy.
 * Messages not stored (or not the user's) are skipped: nothing is withdrawn, nothing is thrown.
 */
import type { WithdrawReason } from '../../channels/port.js';
import { subjects } from '../bus/port.js';
import { addressesDevices } from '../exchange/channel-traits.js';
import { deliveryRecipient } from '../exchange/recipient.js';
import type { ChannelName, Device, Message } from '../exchange/types.js';
import type { DeliveryBatch, DeliveryItem } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';

export type { WithdrawReason };

/** Who reported the read: their own copy is not withdrawn. */
export interface WithdrawSource {
  /** The device id that reported (a receipt capability's device). */
  device?: string;
  /** The gateway socket that reported (a `read` frame): spared the `read` frame. */
  socket?: string;
}

/** The `read` frame sent to the user's other sockets, as the user's bus subject carries it (`except`: a socket id the gateway skips). */
export interface ReadSignal {
  type: 'read';
  ids: string[];
  except?: string;
}

const HOLDS_COPY = new Set(['sent', 'delivered', 'read', 'clicked']);

export type WithdrawDeps = Pick<PipelineDeps, 'stores' | 'bus' | 'log' | 'traits' | 'channels'>;

export async function withdrawCopies(
  deps: WithdrawDeps,
  uid: string,
  messageIds: readonly string[],
  reason: WithdrawReason,
  source: WithdrawSource = {},
): Promise<void> {
  const ids = [...new Set(messageIds)];
  if (ids.length === 0) return;
  if (reason === 'read') {
    const signal: ReadSignal = { type: 'read', ids, ...(source.socket !== undefined ? { except: source.socket } : {}) };
    deps.bus.emit(subjects.userFrames(uid), signal);
  }
  const deviceChannels = [...deps.channels.keys()].filter((name) => addressesDevices(deps.traits, [name]));
  if (deviceChannels.length === 0) return;
  let devices: Map<string, Device> | undefined;
  for (const id of ids) {
    const copies = (await deps.stores.receipts.forMessage(id, uid)).filter(
      (r) => r.device !== undefined && r.device !== source.device && deviceChannels.includes(r.channel) && HOLDS_COPY.has(r.state),
    );
    if (copies.length === 0) continue;
    const stored = await deps.stores.messages.get(id);
    if (!stored) continue;
    devices ??= new Map((await deps.stores.devices.listByUser(uid)).map((d) => [d.id, d]));
    const byChannel = new Map<ChannelName, DeliveryItem[]>();
    for (const copy of copies) {
      const device = copy.device !== undefined ? devices.get(copy.device) : undefined;
      if (!device) continue;
      const items = byChannel.get(copy.channel) ?? [];
      items.push({ recipient: deliveryRecipient(uid, undefined), device, attempt: 1 });
      byChannel.set(copy.channel, items);
    }
    for (const [channel, items] of byChannel) await publish(deps, channel, stored.message, items, reason);
  }
}

async function publish(deps: WithdrawDeps, channel: ChannelName, message: Message, items: DeliveryItem[], reason: WithdrawReason): Promise<void> {
  const batch: DeliveryBatch = { channel, message, items, withdraw: reason };
  try {
    await deps.bus.publish(subjects.deliver(channel, message.urgency), batch);
  } catch (error) {
    // The read is recorded already: a bus outage loses the withdrawal (the notification stays), never the receipt.
    deps.log.warn({ err: error, messageId: message.id, channel, devices: items.length }, 'withdrawal not queued');
  }
}
