/**
 * Start-up recovery: makes "a 202 is never lost" true across crashes, whatever the bus.
 *
 * The stores are the source of truth; the bus only wakes workers up. So at start-up every
 * message still `accepted` (stored, but not fully triaged) is published for triage again, and
 * every delivery still `queued` on a channel — per device for push — is sent again. Triage and
 * delivery are idempotent per (message, recipient, channel, device), so work that did finish
 * before the crash is not done twice.
 */

import { addressesSockets } from '../exchange/channel-traits.js';
import { deliveryRecipient } from '../exchange/recipient.js';
import type { ChannelName, Receipt } from '../exchange/types.js';
import type { QueuedCursor } from '../store/port.js';
import { publishForTriage, SCHEDULED_SEND } from './accept.js';
import { REDELIVER, retryJobId } from './delivery.js';
import type { DeliveryBatch, DeliveryItem } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';
import { recordReceipts } from './receipts.js';

const PAGE = 500;

/** Publishes again every message stored but not fully triaged (the triage role runs this). */
export async function recoverUntriagedMessages(deps: PipelineDeps): Promise<number> {
  let messages = 0;
  let after: string | undefined;
  for (;;) {
    const page = await deps.stores.messages.unfinished(PAGE, after);
    for (const stored of page) await publishForTriage(deps, stored.message);
    messages += page.length;
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.message.id;
  }
  if (messages > 0) deps.log.info({ messages }, 'recovered untriaged messages');
  return messages;
}

/**
 * Sends again every delivery still `queued` on a provider channel (the deliver role runs this),
 * each to the device its receipt names. A delivery is handed to the scheduler as its retry job
 * (one id per delivery, due now): a retry already waiting for it is replaced rather than
 * doubled, so a delivery the crash left waiting for its retry is sent once, just sooner.
 * A push delivery whose device was removed meanwhile fails with `device-removed`.
 */
export async function recoverQueuedDeliveries(deps: PipelineDeps): Promise<number> {
  let deliveries = 0;
  for (const channel of deps.channels.keys()) {
    if (addressesSockets(deps.traits, channel)) continue;
    deliveries += await requeueDeliveries(deps, channel);
  }
  if (deliveries > 0) deps.log.info({ deliveries }, 'recovered queued deliveries');
  return deliveries;
}

async function requeueDeliveries(deps: PipelineDeps, channel: ChannelName): Promise<number> {
  let count = 0;
  let after: QueuedCursor | undefined;
  for (;;) {
    const queued = await deps.stores.receipts.queued(channel, PAGE, after);
    for (const receipt of queued) if (await requeue(deps, channel, receipt)) count += 1;
    if (queued.length < PAGE) return count;
    const last = queued[queued.length - 1];
    after = last ? { messageId: last.messageId, uid: last.uid, ...(last.device ? { device: last.device } : {}) } : undefined;
  }
}

async function requeue(deps: PipelineDeps, channel: ChannelName, receipt: Receipt): Promise<boolean> {
  const [stored, user, devices] = await Promise.all([
    deps.stores.messages.get(receipt.messageId),
    deps.stores.users.get(receipt.uid),
    receipt.device ? deps.stores.devices.listByUser(receipt.uid) : [],
  ]);
  if (!stored) return false;
  const recipient = deliveryRecipient(receipt.uid, user);
  let item: DeliveryItem = { recipient, attempt: 1 };
  if (receipt.device) {
    const device = devices.find((d) => d.id === receipt.device);
    if (!device) {
      const failed: Receipt = { ...receipt, state: 'failed', reason: 'device-removed', at: deps.now() };
      await recordReceipts(deps, [failed], stored.message.urgency);
      return false;
    }
    item = { recipient, device, attempt: 1 };
  }
  const batch: DeliveryBatch = { channel, message: stored.message, items: [item] };
  await deps.scheduler.schedule<DeliveryBatch>({ id: retryJobId(batch, item), kind: REDELIVER, runAt: deps.now(), payload: batch });
  return true;
}

/** When a scheduled message's time comes, it is published for triage like any other. */
export function handleScheduledSends(deps: PipelineDeps): void {
  deps.scheduler.handle<{ messageId: string }>(SCHEDULED_SEND, async (job) => {
    const stored = await deps.stores.messages.get(job.payload.messageId);
    if (stored?.status !== 'scheduled') return;
    await deps.stores.messages.setStatus(stored.message.id, 'accepted');
    await publishForTriage(deps, stored.message);
  });
}
