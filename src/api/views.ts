/**
 * How stored records look in API responses (times as ISO 8601, absent values as null). Each view
 * returns the type of its response schema (src/api/responses.ts), so a view and the document
 * cannot disagree on a field's name or type.
 */
import type { z } from 'zod';
import { visibleSender } from '../exchange/message.js';
import { publicReason, sentVia } from '../exchange/receipt-reasons.js';
import type { Device, InboxItem, Message, Preferences, Receipt, ReceiptTally, User } from '../exchange/types.js';
import type { ThreadMembership } from '../store/port.js';
import type { deviceItem, inboxItemBody, messageBody, preferences, receiptBody, tallyBody, threadMembership, userBody } from './responses.js';

function iso(ms: number): string;
function iso(ms: number | null | undefined): string | null;
function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** A message as its recipients see it; `sender` only when a non-admin sent it (visibleSender). */
export const messageView = (message: Message): z.output<typeof messageBody> => ({
  id: message.id,
  ...(visibleSender(message) !== undefined ? { sender: message.sender } : {}),
  msg: message.msg,
  title: message.title ?? null,
  data: message.data ?? null,
  urgency: message.urgency,
  link: message.link ?? null,
  topic: message.topic ?? null,
  category: message.category ?? null,
  createdAt: iso(message.createdAt),
  ...(message.notBefore !== undefined ? { scheduledFor: iso(message.notBefore) } : {}),
  ...(message.expiresAt !== undefined ? { expiresAt: iso(message.expiresAt) } : {}),
});

export const inboxView = (item: InboxItem): z.output<typeof inboxItemBody> => ({
  ...messageView(item.message),
  state: { delivered: iso(item.deliveredAt), read: iso(item.readAt), archived: iso(item.archivedAt) },
});

/**
 * A receipt: `reason` is always a stable code (../exchange/receipt-reasons.ts), never a
 * provider's text; the admin view adds `detail`, the stored reason (provider id, status, error),
 * and `provider` when the channel has several and the receipt names the one that sent it.
 */
const providerOf = (receipt: Receipt): { provider?: string } => {
  const provider = sentVia(receipt);
  return provider === undefined ? {} : { provider };
};

export const receiptView = (receipt: Receipt, audience: { admin: boolean } = { admin: false }): z.output<typeof receiptBody> => ({
  uid: receipt.uid,
  channel: receipt.channel,
  /** The device of a push delivery; null for a channel-wide receipt. */
  device: receipt.device ?? null,
  state: receipt.state,
  reason: publicReason(receipt),
  ...(audience.admin ? { detail: receipt.reason ?? null, ...providerOf(receipt) } : {}),
  at: iso(receipt.at),
});

export const tallyView = (tally: Omit<ReceiptTally, 'source'>): z.output<typeof tallyBody> => ({
  channel: tally.channel,
  state: tally.state,
  count: tally.count,
  at: iso(tally.at),
});

export const userView = (user: User): z.output<typeof userBody> => ({
  uid: user.uid,
  email: user.email ?? null,
  phone: user.phone ?? null,
  locale: user.locale ?? null,
  timezone: user.timezone ?? null,
  attributes: user.attributes,
  createdAt: iso(user.createdAt),
  updatedAt: iso(user.updatedAt),
});

/** The origin of a web push endpoint; undefined when it does not parse (the egress policy admitted it, so it does). */
function originOf(endpoint: string): string | undefined {
  try {
    return new URL(endpoint).origin;
  } catch {
    return undefined;
  }
}

/**
 * A device as its owner sees it: what it is and since when. Never the token, the endpoint (its
 * path is the push credential) or the keys; for web push only the push service's origin.
 */
export const deviceView = (device: Device): z.output<typeof deviceItem> => {
  const origin = device.kind === 'web' ? originOf(device.token) : undefined;
  return { id: device.id, kind: device.kind, createdAt: iso(device.createdAt), ...(origin !== undefined ? { origin } : {}) };
};

/** Preferences as stored, with no quiet hours as null. */
export const preferencesView = (p: Preferences): z.output<typeof preferences> => ({
  channels: p.channels,
  categories: p.categories,
  quietHours: p.quietHours ?? null,
});

export const membershipView = (membership: ThreadMembership): z.output<typeof threadMembership> => ({
  thread: membership.thread,
  uid: membership.uid,
  joinedAt: iso(membership.joinedAt),
});
