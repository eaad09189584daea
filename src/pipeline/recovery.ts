/**
 * Start-up recovery: makes "a 202 is never lost" true across crashes, whatever the bus.
 *
 * The stores are the source of truth; the bus only wakes workers up. So at start-up every
 * message still `accepted` (stored, but not fully triaged) is published for triage again, and
 * every delivery still `queued` on a channel is published again. Triage and delivery are
 * idempotent, so work that did finish before the crash is not done twice.
 */
import { subjects } from '../bus/port.js';
import type { ChannelName } from '../exchange/types.js';
import { publishForTriage, SCHEDULED_SEND } from './accept.js';
import type { DeliveryBatch } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';

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

/** Publishes again every delivery still `queued` on a provider channel (the deliver role runs this). */
export async function recoverQueuedDeliveries(deps: PipelineDeps): Promise<number> {
  let deliveries = 0;
  for (const channel of deps.channels.keys()) {
    if (channel === 'realtime') continue;
    deliveries += await requeueDeliveries(deps, channel);
  }
  if (deliveries > 0) deps.log.info({ deliveries }, 'recovered queued deliveries');
  return deliveries;
}

async function requeueDeliveries(deps: PipelineDeps, channel: ChannelName): Promise<number> {
  let count = 0;
  let after: { messageId: string; uid: string } | undefined;
  for (;;) {
    const queued = await deps.stores.receipts.queued(channel, PAGE, after);
    for (const receipt of queued) {
      const [stored, user] = await Promise.all([deps.stores.messages.get(receipt.messageId), deps.stores.users.get(receipt.uid)]);
      if (!stored) continue;
      const batch: DeliveryBatch = {
        channel,
        message: stored.message,
        items: [{ recipient: { uid: receipt.uid, email: user?.email, phone: user?.phone, locale: user?.locale, timezone: user?.timezone }, attempt: 1 }],
      };
      await deps.bus.publish(subjects.deliver(channel), batch);
      count += 1;
    }
    if (queued.length < PAGE) return count;
    const last = queued[queued.length - 1];
    after = last ? { messageId: last.messageId, uid: last.uid } : undefined;
  }
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
