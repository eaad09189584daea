/**
 * Delivery workers: one consumer per configured channel on `herald.deliver.<channel>`.
 *
 * For each batch: expired messages are not sent (receipt `expired`); recipients already past
 * `queued` on this channel are skipped, so a bus redelivery never sends twice to a provider that
 * accepted it (realtime is exempt: clients dedupe frames by message id); the channel classifies
 * each delivery and the worker acts on the class — `sent` → receipt; `retry` → a scheduled
 * redelivery after the channel's delay, until MAX_ATTEMPTS; `invalid-recipient` → the device
 * token is pruned and the receipt fails; `failed` → the receipt fails with the reason.
 */
import type { Channel, DeliveryResult } from '../../channels/port.js';
import { type Subscription, subjects } from '../bus/port.js';
import { isExpired } from '../exchange/message.js';
import type { Receipt } from '../exchange/types.js';
import { type DeliveryBatch, type DeliveryItem, toDeliveries } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';

export const MAX_ATTEMPTS = 8;
export const REDELIVER = 'redeliver';

const PAST_QUEUED = new Set(['sent', 'delivered', 'read', 'clicked', 'failed', 'expired', 'suppressed']);
/**
 * Batches delivered at once per worker. A realtime batch only emits a signal to the gateways
 * and records `sent` receipts — store round trips, no provider to spare — so many run at once;
 * provider channels keep a few, their own send limits (channels/*) doing the rest.
 */
export const DELIVERY_CONCURRENCY = { realtime: 64, provider: 4 } as const;

export function startDeliveryWorkers(deps: PipelineDeps): Subscription[] {
  deps.scheduler.handle<DeliveryBatch>(REDELIVER, async (job) => deps.bus.publish(subjects.deliver(job.payload.channel), job.payload));
  return [...deps.channels.values()].map((channel) =>
    deps.bus.consume<DeliveryBatch>(subjects.deliver(channel.name), `deliver.${channel.name}`, ({ data }) => deliverBatch(deps, channel, data), {
      concurrency: channel.name === 'realtime' ? DELIVERY_CONCURRENCY.realtime : DELIVERY_CONCURRENCY.provider,
    }),
  );
}

export async function deliverBatch(deps: PipelineDeps, channel: Channel, batch: DeliveryBatch): Promise<void> {
  const { message } = batch;
  const now = deps.now();
  if (isExpired(message, now)) {
    await record(
      deps,
      batch,
      batch.items.map((item) => receipt(batch, item, 'expired', now, 'ttl')),
    );
    return;
  }
  const items = channel.name === 'realtime' ? batch.items : await pendingOnly(deps, batch);
  if (items.length === 0) return;

  const results = await channel.deliver(toDeliveries({ ...batch, items }));
  const receipts: Receipt[] = [];
  for (const [index, item] of items.entries()) {
    const result = results[index] ?? ({ type: 'failed', reason: 'channel returned no result' } satisfies DeliveryResult);
    deps.metrics.deliveries.inc({ channel: channel.name, result: result.type });
    switch (result.type) {
      case 'sent':
        receipts.push(receipt(batch, item, 'sent', now, result.providerId));
        break;
      case 'retry':
        if (item.attempt >= MAX_ATTEMPTS) receipts.push(receipt(batch, item, 'failed', now, `retries exhausted: ${result.reason}`));
        else await scheduleRetry(deps, batch, item, now + result.afterMs);
        break;
      case 'invalid-recipient':
        if (item.device) await deps.stores.devices.removeToken(item.device.kind, item.device.token);
        receipts.push(receipt(batch, item, 'failed', now, `invalid-recipient: ${result.reason}`));
        break;
      case 'failed':
        receipts.push(receipt(batch, item, 'failed', now, result.reason));
        break;
    }
  }
  await record(deps, batch, receipts);
}

async function pendingOnly(deps: PipelineDeps, batch: DeliveryBatch): Promise<DeliveryItem[]> {
  const pending: DeliveryItem[] = [];
  for (const item of batch.items) {
    const current = await deps.stores.receipts.forMessage(batch.message.id, item.recipient.uid);
    const state = current.find((r) => r.channel === batch.channel)?.state;
    if (state === undefined || !PAST_QUEUED.has(state)) pending.push(item);
  }
  return pending;
}

async function scheduleRetry(deps: PipelineDeps, batch: DeliveryBatch, item: DeliveryItem, runAt: number): Promise<void> {
  const key = [batch.channel, batch.message.id, item.recipient.uid, item.device?.id ?? ''].join(':');
  await deps.scheduler.schedule<DeliveryBatch>({
    id: `retry:${key}`,
    kind: REDELIVER,
    runAt,
    payload: { channel: batch.channel, message: batch.message, items: [{ ...item, attempt: item.attempt + 1 }] },
  });
}

const receipt = (batch: DeliveryBatch, item: DeliveryItem, state: Receipt['state'], at: number, reason?: string): Receipt => ({
  messageId: batch.message.id,
  uid: item.recipient.uid,
  channel: batch.channel,
  state,
  at,
  ...(reason !== undefined ? { reason } : {}),
});

async function record(deps: PipelineDeps, batch: DeliveryBatch, receipts: Receipt[]): Promise<void> {
  if (receipts.length === 0) return;
  await deps.stores.receipts.record(receipts);
  for (const r of receipts) deps.metrics.receipts.inc({ channel: r.channel, state: r.state });
  deps.search
    .indexReceipts(receipts.map((r) => ({ ...r, urgency: batch.message.urgency })))
    .catch((error: unknown) => deps.log.warn({ err: error }, 'receipts not indexed'));
}
