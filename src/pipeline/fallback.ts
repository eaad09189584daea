/**
 * Fallback steps (src/exchange/fallback.ts) as scheduled jobs.
 *
 * - `fallback` jobs deliver one message on one nearline channel. They are cancelled when the
 *   recipient reads the message (client-receipts.ts), and re-checked when they fire: a message
 *   read or expired meanwhile is not sent, and preferences and quiet hours are applied as of then.
 * - `digest` jobs send one email per user per period listing that period's unread low-urgency
 *   messages and those a cap held back (src/exchange/caps.ts), never an in-app-only one (a
 *   user's message), through the delivery worker like every delivery (digest.ts); a digest with
 *   nothing unread left sends nothing.
 * A fallback's receipt is written when it fires, not when it is planned, so start-up recovery
 * (which re-sends `queued` receipts) never sends a fallback before its time.
 */

import { subjects } from '../bus/port.js';
import { digestJobId, type FallbackStep, fallbackJobId } from '../exchange/fallback.js';
import { isExpired } from '../exchange/message.js';
import { planRecipient } from '../exchange/plan.js';
import { deliveryRecipient } from '../exchange/recipient.js';
import type { ChannelName, Message, Receipt } from '../exchange/types.js';
import type { DeliveryBatch } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';
import { type DigestPayload, sendDigest } from './digest.js';
import { recordReceipts } from './receipts.js';

export const FALLBACK = 'fallback';
export const DIGEST = 'digest';

interface FallbackPayload {
  messageId: string;
  uid: string;
  channel: ChannelName;
}

export async function scheduleFallback(deps: PipelineDeps, message: Message, uid: string, step: FallbackStep): Promise<void> {
  if (step.kind === 'digest') {
    await deps.scheduler.schedule<DigestPayload>({
      id: digestJobId(uid, step.bucket),
      kind: DIGEST,
      runAt: step.runAt,
      payload: { uid, bucket: step.bucket, channel: step.channel },
    });
  } else {
    await deps.scheduler.schedule<FallbackPayload>({
      id: fallbackJobId(message.id, uid),
      kind: FALLBACK,
      runAt: step.runAt,
      payload: { messageId: message.id, uid, channel: step.channel },
    });
  }
}

export function handleFallbacks(deps: PipelineDeps): void {
  deps.scheduler.handle<FallbackPayload>(FALLBACK, (job) => fireFallback(deps, job.payload));
  deps.scheduler.handle<DigestPayload>(DIGEST, (job) => sendDigest(deps, job.payload));
}

async function fireFallback(deps: PipelineDeps, { messageId, uid, channel }: FallbackPayload): Promise<void> {
  const item = await deps.stores.inbox.get(uid, messageId);
  if (!item || item.readAt !== null) return;
  const now = deps.now();
  const message = item.message;
  const receipts: Receipt[] = [];
  if (isExpired(message, now)) {
    receipts.push({ messageId, uid, channel, state: 'expired', reason: 'ttl', at: now });
  } else {
    const [user, preferences] = await Promise.all([deps.stores.users.get(uid), deps.stores.users.getPreferences(uid)]);
    const plan = planRecipient(
      { ...message, channels: [channel] },
      { uid, user, preferences, online: false, devices: [] },
      { now, available: new Set(deps.channels.keys()), traits: deps.traits },
    );
    for (const skip of plan.skipped) receipts.push({ messageId, uid, channel: skip.channel, state: skip.state, reason: skip.reason, at: now });
    if (plan.deliver.length > 0) {
      receipts.push({ messageId, uid, channel, state: 'queued', reason: 'fallback', at: now });
      await recordReceipts(deps, receipts.splice(0), message.urgency);
      const recipient = deliveryRecipient(uid, user);
      await deps.bus.publish(subjects.deliver(channel, message.urgency), { channel, message, items: [{ recipient, attempt: 1 }] } satisfies DeliveryBatch);
    }
  }
  await recordReceipts(deps, receipts, message.urgency);
}
