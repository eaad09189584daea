/**
 * How Herald's records become Elasticsearch documents.
 *
 * Attributes are stored as typed terms (`name\u0000s:pro`, `name\u0000n:41`, `name\u0000b:true`)
 * in one keyword field: equality keeps the value's type ("41" is not 41), a list attribute
 * matches any of its elements, and users with differently typed values of the same attribute
 * never cause a mapping conflict (dynamic mappings would).
 */
import type { Audience, DeviceKind, Message, Receipt, ReceiptTally, User } from '../../exchange/types.js';

type Scalar = string | number | boolean;

const typed = (value: Scalar): string => `${typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'b'}:${String(value)}`;
export const attributeTerm = (name: string, value: Scalar): string => `${name}\u0000${typed(value)}`;

const isScalar = (value: unknown): value is Scalar => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

export function attributeTerms(attributes: Record<string, unknown>): string[] {
  const terms: string[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    for (const item of Array.isArray(value) ? value : [value]) if (isScalar(item)) terms.push(attributeTerm(name, item));
  }
  return terms;
}

export interface MessageDocument {
  id: string;
  text: string;
  title: string;
  createdAt: number;
  /** Recipients of `user` / `users` targets, for the `uid` filter. */
  recipients: string[];
  /** The message as stored, returned as is (not indexed). */
  message: Message;
}

export function messageDocument(message: Message): MessageDocument {
  const target = message.target;
  return {
    id: message.id,
    text: message.msg,
    title: message.title ?? '',
    createdAt: message.createdAt,
    recipients: target.kind === 'user' ? [target.uid] : target.kind === 'users' ? target.uids : [],
    message,
  };
}

export interface UserDocument {
  uid: string;
  attributes: string[];
  /** Device kinds and contacts the user has: ios, android, web, email, phone. */
  has: string[];
}

export function userDocument(user: User, deviceKinds: DeviceKind[]): UserDocument {
  const has: string[] = [...deviceKinds];
  if (user.email) has.push('email');
  if (user.phone) has.push('phone');
  return { uid: user.uid, attributes: attributeTerms(user.attributes), has };
}

export interface ReceiptDocument {
  messageId: string;
  uid: string;
  channel: string;
  state: string;
  urgency: string;
  at: number;
}

/**
 * One document per (message, uid, channel, device, state): indexing the same change twice
 * counts once, and each device a push reached counts. A channel-wide receipt keeps the id
 * without a device part.
 */
export const receiptDocumentId = (r: Pick<Receipt, 'messageId' | 'uid' | 'channel' | 'device' | 'state'>) =>
  r.device ? `${r.messageId}|${r.uid}|${r.channel}|${r.state}|${r.device}` : `${r.messageId}|${r.uid}|${r.channel}|${r.state}`;

/** One document per tally key and source: a source's later tally replaces its document. */
export const tallyDocumentId = (t: Pick<ReceiptTally, 'messageId' | 'channel' | 'state' | 'source'>) =>
  `tally|${t.messageId}|${t.channel}|${t.state}|${t.source}`;

/** The filters of an audience (ignoring `online` and `thread`, which the pipeline applies itself). */
export function audienceFilters(audience: Audience): object[] {
  const filters: object[] = [];
  for (const [name, value] of Object.entries(audience.where ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    filters.push({ terms: { attributes: values.map((v) => attributeTerm(name, v)) } });
  }
  if (audience.has) filters.push({ term: { has: audience.has } });
  return filters;
}
