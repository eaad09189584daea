/**
 * The vocabulary of the exchange: messages, recipients, urgency, channels, receipts.
 * Pure data — nothing here performs I/O or knows an adapter.
 */

/** RFC 8030 §5.3 urgency, lowest first. */
export const URGENCIES = ['very-low', 'low', 'normal', 'high'] as const;
export type Urgency = (typeof URGENCIES)[number];

/**
 * A registered channel's name (channels/registry.ts lists them; the API accepts only those). The
 * domain knows channels only by name and by their traits (channel-traits.ts), never by behaviour.
 */
export type ChannelName = string;

export type DeviceKind = 'ios' | 'android' | 'web';

/** Who a message is for. `everyone` and `audience` are expanded page by page, never all at once. */
export type Target =
  | { kind: 'user'; uid: string }
  | { kind: 'users'; uids: string[] }
  | { kind: 'audience'; audience: Audience }
  | { kind: 'everyone' }
  | { kind: 'thread'; thread: string }
  /**
   * An audience among a thread's members (an audience naming a thread): written to each
   * selected member's inbox, like any audience. A kind of its own, not an `audience` with a
   * `thread`: a Herald that predates it fails on it rather than drop the condition it does not
   * know (which would select everyone).
   */
  | { kind: 'members'; thread: string; audience: Omit<Audience, 'thread'> };

/** Selects users by what Herald knows of them; every given condition must hold. */
export interface Audience {
  where?: Record<string, string | number | boolean | Array<string | number | boolean>>;
  has?: DeviceKind | 'email' | 'phone';
  online?: boolean;
  /** Members of this thread now (TimelineStore.members). */
  thread?: string;
}

export interface EmailOptions {
  subject?: string;
  template?: string;
  vars?: Record<string, unknown>;
}

/** A message as accepted: the request's content with defaults resolved and times made absolute. */
export interface Message {
  id: string;
  /** uid of the sender (the token's `sub`). */
  sender: string;
  /**
   * Whether the sender's token was an admin's. Recipients are shown `sender` only when false.
   * Absent on messages accepted before v1.1 and on Herald's own (digests).
   */
  senderAdmin?: boolean;
  /**
   * Deliverable only in app (inbox, realtime, push): a non-admin's message under
   * HERALD_USER_SEND=inapp (src/exchange/send-policy.ts). Never routed or escalated to SMS or email.
   */
  inAppOnly?: true;
  target: Target;
  msg: string;
  title?: string;
  data?: Record<string, unknown>;
  urgency: Urgency;
  /** Restricts delivery to these channels; absent means "as the policy chooses". */
  channels?: ChannelName[];
  topic?: string;
  link?: string;
  category?: string;
  email?: EmailOptions;
  sms?: { text: string };
  /** Herald's own digests only (src/pipeline/digest.ts): the ids of the messages it lists. */
  digestOf?: string[];
  /** Epoch milliseconds. */
  createdAt: number;
  /** Not to be triaged before this time (scheduled send). */
  notBefore?: number;
  /** Not worth delivering after this time (from `ttl`). */
  expiresAt?: number;
}

export interface User {
  uid: string;
  email?: string;
  phone?: string;
  locale?: string;
  timezone?: string;
  attributes: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface Preferences {
  channels: Partial<Record<ChannelName, boolean>>;
  categories: Record<string, { enabled: boolean }>;
  quietHours?: { start: string; end: string };
}

export const EMPTY_PREFERENCES: Preferences = Object.freeze({ channels: {}, categories: {} }) as Preferences;

export type Device =
  | { id: string; uid: string; kind: 'ios' | 'android'; token: string; createdAt: number }
  | {
      id: string;
      uid: string;
      kind: 'web';
      /** The push service endpoint is the token of a web push subscription. */
      token: string;
      keys: { p256dh: string; auth: string };
      expirationTime: number | null;
      createdAt: number;
    };

export const RECEIPT_STATES = ['queued', 'sent', 'delivered', 'read', 'clicked', 'failed', 'expired', 'suppressed'] as const;
export type ReceiptState = (typeof RECEIPT_STATES)[number];

/**
 * What happened to one message for one recipient on one channel — and, for a push channel,
 * on one device: receipts are keyed by (messageId, uid, channel, device).
 */
export interface Receipt {
  messageId: string;
  uid: string;
  channel: ChannelName | 'inbox';
  /** The device id a push delivery went to; absent for channel-wide receipts (inbox, realtime, email, SMS, skips). */
  device?: string;
  state: ReceiptState;
  /** Why, for failed / suppressed / expired; the provider's id for sent. */
  reason?: string;
  at: number;
}

/**
 * A count standing in for receipts that are not written one per user: how many of a timeline
 * message's deliveries one `source` made on a channel, in a state — the sockets a gateway's
 * publish of a broadcast or thread message reached. A source sets its own count (writing it
 * again replaces it), so the total is the sum over sources, however often each is written.
 */
export interface ReceiptTally {
  messageId: string;
  channel: ChannelName;
  state: ReceiptState;
  /** Who counted: a gateway's holder id. */
  source: string;
  count: number;
  at: number;
}

/** An inbox entry: the message as its recipient sees it, with its read state. */
export interface InboxItem {
  message: Message;
  uid: string;
  deliveredAt: number | null;
  readAt: number | null;
  /** When the user archived it (it is no longer listed). */
  archivedAt: number | null;
}
