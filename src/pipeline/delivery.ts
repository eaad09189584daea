/**
 * Delivery workers: one consumer per configured channel and urgency on `herald.deliver.<channel>.<urgency>`.
 *
 * For each batch: recalled messages are not sent (receipt `suppressed: recalled`); expired
 * messages are not sent (receipt `expired`); deliveries already past
 * `queued` — per (message, recipient, channel, device) — are skipped, so a bus redelivery or a
 * recovery never sends twice to a device whose provider accepted it, and a delivery this process
 * is sending right now is not sent again alongside (realtime is exempt from both: clients dedupe
 * frames by message id); the channel classifies
 * each delivery and the worker acts on the class — `sent` → receipt; `retry` → a scheduled
 * redelivery after the channel's delay, until MAX_ATTEMPTS; `deferred` (the provider's gate
 * was paused or its circuit open, so nothing was tried) → the same attempt again when the gate
 * expects to reopen, until the message expires; `invalid-recipient` → the device
 * token is pruned and the receipt fails; `failed` → the receipt fails with the reason.
 * A delivery to a device its recipient no longer holds (removed by the user, pruned, moved to
 * another user) while it waited on the bus or for its retry fails `device-removed` unsent.
 * A digest batch (digest.ts) also records the receipts of the messages it lists.
 * Triage sends the socket deliveries it plans itself (`deliverPlannedToSockets`); the realtime
 * consumers here take the batches published before that, and any other producer's.
 */
import type { Channel, DeliveryResult } from '../../channels/port.js';
import { unsubscribeScopeOf } from '../auth/unsubscribe.js';
import { type Subscription, subjects } from '../bus/port.js';
import { addressesSockets } from '../exchange/channel-traits.js';
import { isExpired } from '../exchange/message.js';
import { sentReason } from '../exchange/receipt-reasons.js';
import { type Receipt, URGENCIES } from '../exchange/types.js';
import { type DeliveryBatch, type DeliveryItem, toDeliveries } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';
import { digestedReceipts } from './digest.js';
import { notErasedSince } from './erasure.js';
import { recordReceipts } from './receipts.js';

export const MAX_ATTEMPTS = 8;
export const REDELIVER = 'redeliver';

const PAST_QUEUED = new Set(['sent', 'delivered', 'read', 'clicked', 'failed', 'expired', 'suppressed']);
/**
 * Batches delivered at once per worker and urgency. A realtime batch only emits a signal to the
 * gateways and records `sent` receipts — store round trips, no provider to spare — so many run
 * at once; provider channels keep a few per urgency, their providers' gates (channels/
 * provider-gate.ts) ordering the requests of every batch by urgency and sharing each provider's
 * concurrency between them.
 */
export const DELIVERY_CONCURRENCY = { realtime: 64, provider: 4 } as const;

/**
 * One consumer per (channel, urgency) subject: a high batch is taken at once however many low
 * ones wait on the bus, and a retry goes back to its own urgency's subject. The subject of
 * deliveries published before subjects carried an urgency is drained too.
 */
export function startDeliveryWorkers(deps: PipelineDeps): Subscription[] {
  deps.scheduler.handle<DeliveryBatch>(REDELIVER, async (job) =>
    deps.bus.publish(subjects.deliver(job.payload.channel, job.payload.message.urgency), job.payload),
  );
  return [...deps.channels.values()].flatMap((channel) => {
    const concurrency = addressesSockets(deps.traits, channel.name) ? DELIVERY_CONCURRENCY.realtime : DELIVERY_CONCURRENCY.provider;
    const consume = (subject: string): Subscription =>
      deps.bus.consume<DeliveryBatch>(subject, `deliver.${channel.name}`, ({ data }) => deliverBatch(deps, channel, data), { concurrency });
    return [...URGENCIES.map((urgency) => consume(subjects.deliver(channel.name, urgency))), consume(subjects.legacyDeliver(channel.name))];
  });
}

export async function deliverBatch(deps: PipelineDeps, channel: Channel, planned: DeliveryBatch): Promise<void> {
  const { message } = planned;
  const now = deps.now();
  // Both checks below read the store: at once, so a delivery waits for one round trip, not two.
  const recalled = planned.withdraw ? undefined : deps.stores.messages.get(message.id).then((stored) => stored?.status === 'recalled');
  // Awaited below unless the batch ends first; until then, a failure must not count as unhandled.
  recalled?.catch(() => undefined);
  // A recipient erased since (src/pipeline/erasure.ts) gets nothing more, and no receipt is recorded for it.
  const kept = new Set(await notErasedSince(deps, message, [...new Set(planned.items.map((item) => item.recipient.uid))]));
  const batch = kept.size === planned.items.length ? planned : { ...planned, items: planned.items.filter((item) => kept.has(item.recipient.uid)) };
  if (batch.items.length === 0) return;
  if (batch.withdraw) return deliverWithdrawals(deps, channel, batch, now);
  // Recalled while the batch waited (src/pipeline/recall.ts): nothing goes out. A provider
  // delivery's queued receipt ends `suppressed: recalled`; a socket one has none to end.
  if (await recalled) {
    if (!addressesSockets(deps.traits, channel.name)) {
      await record(
        deps,
        batch,
        batch.items.map((item) => receipt(batch, item, 'suppressed', now, 'recalled')),
      );
    }
    return;
  }
  if (isExpired(message, now)) {
    await record(
      deps,
      batch,
      batch.items.map((item) => receipt(batch, item, 'expired', now, 'ttl')),
    );
    return;
  }
  if (addressesSockets(deps.traits, channel.name)) {
    await deliverItems(deps, channel, batch, batch.items, now);
    return;
  }
  const items = (await pendingOnly(deps, batch)).filter((item) => !sending.has(deliveryKey(batch, item)));
  if (items.length === 0) return;
  const keys = items.map((item) => deliveryKey(batch, item));
  for (const key of keys) sending.add(key);
  try {
    const held = await heldDevicesOnly(deps, batch, items, now);
    if (held.length > 0) await deliverItems(deps, channel, batch, held, now);
  } finally {
    for (const key of keys) sending.delete(key);
  }
}

/**
 * Delivers, in triage's own process, a batch triage planned a moment ago for a channel addressed
 * to sockets: the checks `deliverBatch` makes of a batch that waited on the bus (recalled,
 * expired, recipients erased since) are the ones triage has just made, so the frames go out with
 * no bus hop and no store read, and the `sent` receipts are the one write. `alongside` (triage's
 * move to `triaged`) starts once the frames are out, with that write.
 */
export async function deliverPlannedToSockets(deps: PipelineDeps, channel: Channel, batch: DeliveryBatch, alongside?: () => Promise<void>): Promise<void> {
  const now = deps.now();
  const results = await channel.deliver(toDeliveries(batch));
  const receipts = await actOnResults(deps, batch, batch.items, results, now);
  await Promise.all([record(deps, batch, receipts), alongside?.()]);
}

/** Provider deliveries this process is sending now, by deliveryKey. */
const sending = new Set<string>();

/** (channel, message, recipient, device): what receipts, retries and dedupe are keyed by. */
const deliveryKey = (batch: DeliveryBatch, item: DeliveryItem): string =>
  [batch.channel, batch.message.id, item.recipient.uid, item.device?.id ?? ''].join(':');

/** The retry job of a delivery (or of a withdrawal): one per delivery key, so scheduling it again replaces it. */
export const retryJobId = (batch: DeliveryBatch, item: DeliveryItem): string => `${batch.withdraw ? 'retry-withdraw' : 'retry'}:${deliveryKey(batch, item)}`;

/**
 * Sends `items` and acts on each result. A result the channel reports early (`onResult`, as
 * soon as its provider answered) is recorded at once, so a crash later in the batch never
 * sends it again; the results not reported early are recorded together at the end.
 */
async function deliverItems(deps: PipelineDeps, channel: Channel, batch: DeliveryBatch, items: DeliveryItem[], now: number): Promise<void> {
  const early = new Set<number>();
  const recording: Array<Promise<void>> = [];
  const onResult = (index: number, result: DeliveryResult): void => {
    const item = items[index];
    if (!item || early.has(index)) return;
    early.add(index);
    const done = actOn(deps, batch, item, result, now).then((r) => record(deps, batch, r ? [r] : []));
    // Awaited below; until then a failure must not count as unhandled.
    done.catch(() => undefined);
    recording.push(done);
  };
  const signed = await withUnsubscribeLinks(deps, batch, await withCapabilities(deps, batch, items));
  const results = await channel.deliver(toDeliveries({ ...batch, items: signed }), onResult);
  await Promise.all(recording);
  await record(deps, batch, await actOnResults(deps, batch, items, results, now, early));
}

/** Acts on the result of each of `items` (the same index in `results`) but those in `skip`; returns the receipts to record. */
async function actOnResults(
  deps: PipelineDeps,
  batch: DeliveryBatch,
  items: DeliveryItem[],
  results: DeliveryResult[],
  now: number,
  skip: ReadonlySet<number> = new Set(),
): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  for (const [index, item] of items.entries()) {
    if (skip.has(index)) continue;
    const result = results[index] ?? ({ type: 'failed', reason: 'channel returned no result' } satisfies DeliveryResult);
    const r = await actOn(deps, batch, item, result, now);
    if (r) receipts.push(r);
  }
  return receipts;
}

/**
 * Signs, for each delivery to a web push device, the capabilities its push carries to the
 * service worker (src/auth/capabilities.ts): a receipt capability for this message, user and
 * device, and a renewal capability for the device. Signed at send time, never put on the bus.
 */
async function withCapabilities(deps: PipelineDeps, batch: DeliveryBatch, items: DeliveryItem[]): Promise<DeliveryItem[]> {
  const capabilities = deps.capabilities;
  if (!capabilities) return items;
  return Promise.all(
    items.map(async (item) => {
      const device = item.device;
      if (device?.kind !== 'web') return item;
      const grant = { uid: item.recipient.uid, messageId: batch.message.id, deviceId: device.id, channel: batch.channel };
      const [receipt, renew] = await Promise.all([
        capabilities.receipt(grant, batch.message.expiresAt),
        capabilities.renewal(grant.uid, device.id, device.token),
      ]);
      return { ...item, capabilities: { receipt, renew } };
    }),
  );
}

/**
 * Signs, for each delivery of a channel addressed to email addresses, the one-click unsubscribe
 * link its List-Unsubscribe header carries (src/auth/unsubscribe.ts): for this recipient and the
 * message's category, or the email channel when it has none. Signed at send time, never put on
 * the bus; none without a usable HERALD_PUBLIC_URL.
 */
async function withUnsubscribeLinks(deps: PipelineDeps, batch: DeliveryBatch, items: DeliveryItem[]): Promise<DeliveryItem[]> {
  const links = deps.unsubscribe;
  if (!links || deps.traits.get(batch.channel)?.address !== 'email') return items;
  const scope = unsubscribeScopeOf(batch.message.category);
  return Promise.all(items.map(async (item) => ({ ...item, unsubscribe: await links.link(item.recipient.uid, scope) })));
}

/**
 * A batch of withdrawals (src/pipeline/withdraw.ts): the same channel, provider gates and
 * urgency subjects as the message's deliveries, but nothing of it is a receipt — the message
 * was delivered once, its withdrawal is not a second delivery — and it is sent even after the
 * message expired (the notification may still be on screen). Devices their user no longer holds
 * are skipped; a retry or a paused provider sends it again later, like a delivery; a gone token
 * is pruned; anything else is counted (herald_withdrawals_total) and logged.
 */
async function deliverWithdrawals(deps: PipelineDeps, channel: Channel, batch: DeliveryBatch, now: number): Promise<void> {
  const { kept: items } = await byHeldDevice(deps, batch.items);
  if (items.length === 0) return;
  const results = await channel.deliver(toDeliveries({ ...batch, items }));
  for (const [index, item] of items.entries()) {
    const result = results[index] ?? ({ type: 'failed', reason: 'channel returned no result' } satisfies DeliveryResult);
    deps.metrics.withdrawals.inc({ channel: batch.channel, result: result.type });
    const context = { messageId: batch.message.id, uid: item.recipient.uid, device: item.device?.id, channel: batch.channel };
    switch (result.type) {
      case 'sent':
        break;
      case 'retry':
        if (item.attempt >= MAX_ATTEMPTS) deps.log.warn({ ...context, reason: result.reason }, 'withdrawal not sent: retries exhausted');
        else await scheduleRetry(deps, batch, item, now + result.afterMs);
        break;
      case 'deferred':
        await scheduleRetry(deps, batch, item, Math.max(now, result.untilMs), { sameAttempt: true });
        break;
      case 'invalid-recipient':
        if (item.device) await deps.stores.devices.removeToken(item.device.kind, item.device.token);
        break;
      case 'failed':
        deps.log.warn({ ...context, reason: result.reason }, 'withdrawal not sent');
        break;
    }
  }
}

/** Acts on one result (a retry is scheduled, a gone token pruned); returns the receipt to record, if any. */
async function actOn(deps: PipelineDeps, batch: DeliveryBatch, item: DeliveryItem, result: DeliveryResult, now: number): Promise<Receipt | undefined> {
  deps.metrics.deliveries.inc({ channel: batch.channel, result: result.type });
  switch (result.type) {
    case 'sent':
      return receipt(batch, item, 'sent', now, sentReason(result.providerId, result.provider));
    case 'retry':
      if (item.attempt >= MAX_ATTEMPTS) return receipt(batch, item, 'failed', now, `retries exhausted: ${result.reason}`);
      await scheduleRetry(deps, batch, item, now + result.afterMs);
      return undefined;
    case 'deferred':
      // Never tried (the provider is paused or its circuit open): the same attempt, later.
      await scheduleRetry(deps, batch, item, Math.max(now, result.untilMs), { sameAttempt: true });
      return undefined;
    case 'invalid-recipient':
      if (item.device) await deps.stores.devices.removeToken(item.device.kind, item.device.token);
      return receipt(batch, item, 'failed', now, `invalid-recipient: ${result.reason}`);
    case 'failed':
      return receipt(batch, item, 'failed', now, result.reason);
  }
}

async function pendingOnly(deps: PipelineDeps, batch: DeliveryBatch): Promise<DeliveryItem[]> {
  const pending: DeliveryItem[] = [];
  for (const item of batch.items) {
    const current = await deps.stores.receipts.forMessage(batch.message.id, item.recipient.uid);
    const device = item.device?.id;
    const state = current.find((r) => r.channel === batch.channel && r.device === device)?.state;
    if (state === undefined || !PAST_QUEUED.has(state)) pending.push(item);
  }
  return pending;
}

/**
 * The items whose device its recipient still holds; the others fail `device-removed` (as
 * recovery fails them, recovery.ts), so a delivery waiting on the bus, for its retry or for a
 * paused push service is never sent to a token its user took back. One read of the devices
 * of the batch's recipients (devices.listByUsers), only when an item names a device.
 */
async function heldDevicesOnly(deps: PipelineDeps, batch: DeliveryBatch, items: DeliveryItem[], now: number): Promise<DeliveryItem[]> {
  const { kept, gone } = await byHeldDevice(deps, items);
  if (gone.length > 0)
    await record(
      deps,
      batch,
      gone.map((item) => receipt(batch, item, 'failed', now, 'device-removed')),
    );
  return kept;
}

/** Splits `items` into those addressing no device or one their recipient still holds (`kept`), and the others. One device read for all. */
async function byHeldDevice(deps: PipelineDeps, items: DeliveryItem[]): Promise<{ kept: DeliveryItem[]; gone: DeliveryItem[] }> {
  const uids = [...new Set(items.filter((item) => item.device).map((item) => item.recipient.uid))];
  if (uids.length === 0) return { kept: items, gone: [] };
  const held = await deps.stores.devices.listByUsers(uids);
  const kept: DeliveryItem[] = [];
  const gone: DeliveryItem[] = [];
  for (const item of items) {
    const device = item.device?.id;
    if (device === undefined || held.get(item.recipient.uid)?.some((d) => d.id === device)) kept.push(item);
    else gone.push(item);
  }
  return { kept, gone };
}

async function scheduleRetry(deps: PipelineDeps, batch: DeliveryBatch, item: DeliveryItem, runAt: number, options = { sameAttempt: false }): Promise<void> {
  await deps.scheduler.schedule<DeliveryBatch>({
    id: retryJobId(batch, item),
    kind: REDELIVER,
    runAt,
    // Capabilities are signed again when the retry is sent: none is kept in a job.
    payload: { ...batch, items: [{ ...withoutCapabilities(item), attempt: options.sameAttempt ? item.attempt : item.attempt + 1 }] },
  });
}

const withoutCapabilities = ({ capabilities: _signed, unsubscribe: _link, ...item }: DeliveryItem): DeliveryItem => item;

const receipt = (batch: DeliveryBatch, item: DeliveryItem, state: Receipt['state'], at: number, reason?: string): Receipt => ({
  messageId: batch.message.id,
  uid: item.recipient.uid,
  channel: batch.channel,
  ...(item.device ? { device: item.device.id } : {}),
  state,
  at,
  ...(reason !== undefined ? { reason } : {}),
});

async function record(deps: PipelineDeps, batch: DeliveryBatch, receipts: Receipt[]): Promise<void> {
  // A digest's receipt and those of the messages it lists are one write: never the digest's
  // (which dedupes it) without theirs. Digests list low-urgency messages only, like their own.
  const { digestOf } = batch.message;
  const listed = digestOf ? receipts.flatMap((r) => digestedReceipts(digestOf, r)) : [];
  // Socket deliveries are never queued (triage queues provider deliveries only): the store may
  // record their `sent` without the compare-and-set a queued receipt's move needs.
  const neverQueued = addressesSockets(deps.traits, batch.channel) && listed.length === 0;
  await recordReceipts(deps, [...receipts, ...listed], batch.message.urgency, { neverQueued });
}
