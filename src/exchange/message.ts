/** Builds an accepted Message from a validated request: defaults resolved, times made absolute. */
import type { ChannelName, EmailOptions, Message, Target, Urgency } from './types.js';

/**
 * What a sender may ask of one message (the `opts` of a send), already validated: the API's
 * schema (messageOptions in src/api/schemas.ts) yields exactly these fields, checked at compile time.
 */
export interface MessageOptions {
  data?: Record<string, unknown>;
  title?: string;
  urgency?: Urgency;
  channels?: ChannelName[];
  /** Seconds the message stays worth delivering, from when it becomes due. */
  ttl?: number;
  /** ISO 8601 date-time with offset: a scheduled send. Not with `delay`. */
  at?: string;
  /** Seconds from now: a scheduled send. Not with `at`. */
  delay?: number;
  topic?: string;
  link?: string;
  category?: string;
  idempotencyKey?: string;
  email?: EmailOptions;
  sms?: { text: string };
}

export function buildMessage(input: {
  id: string;
  sender: string;
  /** Whether the sender's token was an admin's (recipients see `sender` only when not). */
  senderAdmin?: boolean;
  /** Confines the message to in-app channels (src/exchange/send-policy.ts). */
  inAppOnly?: boolean;
  target: Target;
  msg: string;
  opts: MessageOptions | undefined;
  now: number;
}): Message {
  const opts = input.opts ?? {};
  const scheduledFor = opts.at !== undefined ? Date.parse(opts.at) : opts.delay !== undefined ? input.now + opts.delay * 1000 : undefined;
  const notBefore = scheduledFor !== undefined && scheduledFor > input.now ? scheduledFor : undefined;
  const message: Message = {
    id: input.id,
    sender: input.sender,
    target: input.target,
    msg: input.msg,
    urgency: opts.urgency ?? 'normal',
    createdAt: input.now,
  };
  if (input.senderAdmin !== undefined) message.senderAdmin = input.senderAdmin;
  if (input.inAppOnly) message.inAppOnly = true;
  if (opts.title !== undefined) message.title = opts.title;
  if (opts.data !== undefined) message.data = opts.data;
  if (opts.channels !== undefined) message.channels = opts.channels;
  if (opts.topic !== undefined) message.topic = opts.topic;
  if (opts.link !== undefined) message.link = opts.link;
  if (opts.category !== undefined) message.category = opts.category;
  if (opts.email !== undefined) message.email = opts.email;
  if (opts.sms !== undefined) message.sms = opts.sms;
  if (notBefore !== undefined) message.notBefore = notBefore;
  if (opts.ttl !== undefined) message.expiresAt = (notBefore ?? input.now) + opts.ttl * 1000;
  return message;
}

export const isExpired = (message: Message, now: number): boolean => message.expiresAt !== undefined && now >= message.expiresAt;

/**
 * The sender a recipient is shown: the sending uid when a non-admin token sent the message;
 * undefined for admin and service sends (their sender is an operator's account, not a person
 * the recipient knows), and for messages accepted before senders were recorded.
 */
export const visibleSender = (message: Message): string | undefined => (message.senderAdmin === false ? message.sender : undefined);

/**
 * The frame a realtime client receives for a message (docs/api.md, "Server → client frames");
 * `sender` only as visibleSender says; `topic` when the message has one, and `replaces` the id
 * of the older message of that topic it replaced in this recipient's inbox (topic collapse).
 */
export function messageFrame(message: Message, replaces?: string) {
  const sender = visibleSender(message);
  return {
    type: 'message' as const,
    id: message.id,
    msg: message.msg,
    title: message.title ?? null,
    data: message.data ?? null,
    urgency: message.urgency,
    link: message.link ?? null,
    createdAt: new Date(message.createdAt).toISOString(),
    ...(sender !== undefined ? { sender } : {}),
    ...(message.topic !== undefined ? { topic: message.topic } : {}),
    ...(replaces !== undefined ? { replaces } : {}),
  };
}
