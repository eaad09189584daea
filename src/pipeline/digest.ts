/**
 * The digest: one email per user per period listing that period's unread low-urgency messages,
 * and those a cap held back from push and SMS whatever their urgency (a `cap` receipt:
 * src/exchange/caps.ts), never an in-app-only one (a user's message), at most
 * DIGEST_ITEMS_LIMIT, newest first. A digest with nothing unread left sends nothing.
 *
 * A digest is a message and a delivery like every other. `sendDigest` stores the digest message
 * (status `triaged`: Herald's own, never in an inbox), records its `queued` receipt on the email
 * channel, then publishes the delivery on that channel's subject (delivery.ts). So it gets the
 * worker's dedupe, retry schedule and early recording, and a crash before it is sent leaves a
 * `queued` receipt that start-up recovery sends again (recovery.ts). Its id is derived from
 * (uid, bucket), so a digest job that runs again never sends a second email: the worker finds
 * the first one's receipt past `queued` (and the receipt store never moves a state back).
 * The digest message lists what it digests (`Message.digestOf`); with the digest's own receipt,
 * `digestedReceipts` gives theirs on email: `sent` with reason `digest:<digest id>`, or `failed`
 * with reason `digest: <why>`.
 */
import { subjects } from '../bus/port.js';
import { isCapReceipt } from '../exchange/caps.js';
import { channelsAddressing } from '../exchange/channel-traits.js';
import { deliveryRecipient } from '../exchange/recipient.js';
import type { ChannelName, InboxItem, Message, Receipt } from '../exchange/types.js';
import { derivedId } from '../ids.js';
import type { DeliveryBatch } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';
import { recordReceipts } from './receipts.js';

const DIGEST_ITEMS_LIMIT = 50;

export interface DigestPayload {
  uid: string;
  bucket: number;
  /** The email channel the step chose (src/exchange/fallback.ts); jobs stored before it named none: the first email channel. */
  channel?: ChannelName;
}

/** The id of `uid`'s digest of period `bucket`: the same whenever it is computed. */
export const digestMessageId = (uid: string, bucket: number): string => derivedId(JSON.stringify(['digest', uid, bucket]));

export async function sendDigest(deps: PipelineDeps, payload: DigestPayload): Promise<void> {
  const { uid, bucket } = payload;
  const channel = payload.channel ?? channelsAddressing(deps.traits, 'email')[0];
  if (channel === undefined) return;
  const [user, preferences] = await Promise.all([deps.stores.users.get(uid), deps.stores.users.getPreferences(uid)]);
  if (!deps.channels.has(channel) || !user?.email || preferences.channels[channel] === false) return;
  const from = bucket * deps.policy.digestIntervalMs;
  const to = from + deps.policy.digestIntervalMs;
  const items = await unreadDigestedIn(deps, uid, from, to);
  if (items.length === 0) return;
  const now = deps.now();

  const digest: Message = {
    id: digestMessageId(uid, bucket),
    sender: 'herald',
    target: { kind: 'user', uid },
    msg: items.length === 1 ? 'You have 1 unread notification.' : `You have ${items.length} unread notifications.`,
    title: 'Your unread notifications',
    urgency: 'low',
    // The period's end, not the wall clock: a job that runs again builds the same message, so
    // storing it again is a no-op on every store (Cassandra writes at the message's own time).
    createdAt: to,
    digestOf: items.map(({ message }) => message.id),
    email: {
      template: 'digest',
      vars: {
        items: items.map(({ message }) => ({
          title: message.title,
          msg: message.msg,
          link: message.link,
          createdAt: new Date(message.createdAt).toISOString(),
        })),
      },
    },
  };
  await deps.stores.messages.insert({ message: digest, status: 'triaged' });
  await recordReceipts(deps, [{ messageId: digest.id, uid, channel, state: 'queued', reason: 'digest', at: now }], digest.urgency);
  const batch: DeliveryBatch = { channel, message: digest, items: [{ recipient: deliveryRecipient(uid, user), attempt: 1 }] };
  await deps.bus.publish(subjects.deliver(channel, batch.message.urgency), batch);
}

/** The digested messages' receipts on the digest's channel that follow from the digest's own receipt (none for a state in between). */
export function digestedReceipts(digestOf: readonly string[], own: Receipt): Receipt[] {
  if (own.state !== 'sent' && own.state !== 'failed') return [];
  const reason = own.state === 'sent' ? `digest:${own.messageId}` : `digest: ${own.reason ?? 'not sent'}`;
  return digestOf.map((messageId) => ({ messageId, uid: own.uid, channel: own.channel, state: own.state, reason, at: own.at }));
}

/**
 * Unread inbox entries created in [from, to) that may be emailed and are low-urgency or were
 * capped, newest first, at most DIGEST_ITEMS_LIMIT. Whether a message below `high` was capped is
 * read from its receipts for `uid` (a page's at once).
 */
async function unreadDigestedIn(deps: PipelineDeps, uid: string, from: number, to: number): Promise<InboxItem[]> {
  const found: InboxItem[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await deps.stores.inbox.list(uid, { limit: 200, unreadOnly: true, ...(before ? { before } : {}) });
    const capped = await cappedAmong(
      deps,
      uid,
      page.filter(({ message }) => mayBeCapped(message, from, to)),
    );
    for (const item of page) {
      if (item.message.createdAt >= to || item.message.inAppOnly) continue;
      if (item.message.createdAt < from) return found;
      if (item.message.urgency !== 'low' && !capped.has(item.message.id)) continue;
      found.push(item);
      if (found.length === DIGEST_ITEMS_LIMIT) return found;
    }
    if (page.length < 200) return found;
    before = page[page.length - 1]?.message.id;
  }
}

/** Whether the digest of [from, to) would list `message` if a cap held it back (low ones it lists anyway). */
const mayBeCapped = (message: Message, from: number, to: number): boolean =>
  message.urgency !== 'low' && message.urgency !== 'high' && !message.inAppOnly && message.createdAt >= from && message.createdAt < to;

/** The ids of `items` a cap held back for `uid`. */
async function cappedAmong(deps: PipelineDeps, uid: string, items: InboxItem[]): Promise<Set<string>> {
  const receipts = await Promise.all(items.map(({ message }) => deps.stores.receipts.forMessage(message.id, uid)));
  return new Set(items.filter((_, i) => receipts[i]?.some(isCapReceipt)).map(({ message }) => message.id));
}
