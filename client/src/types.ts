/**
 * What the Herald API sends and takes, as the SDK exposes it (docs/api.md: the message frame,
 * GET /api/v1/messages, POST /api/v1/native/subscribe).
 */

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** A `message` frame of the WebSocket: a message for the user, live or replayed after `since`. */
export interface HeraldMessage {
  type: 'message';
  /** UUIDv7: sorting ids sorts messages by creation. */
  id: string;
  msg: string;
  title: string | null;
  data: Record<string, unknown> | null;
  urgency: Urgency;
  link: string | null;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** The sending uid, only on a message a non-admin token sent. */
  sender?: string;
  /** The message's `opts.topic`, when it has one. */
  topic?: string;
  /** The older message of the same topic that this one replaces (topic collapse): it left the inbox. */
  replaces?: string;
}

/** An inbox entry of GET /api/v1/messages. */
export interface InboxMessage {
  id: string;
  msg: string;
  title: string | null;
  data: Record<string, unknown> | null;
  urgency: Urgency;
  link: string | null;
  topic: string | null;
  category: string | null;
  createdAt: string;
  sender?: string;
  scheduledFor?: string;
  expiresAt?: string;
  state: { delivered: string | null; read: string | null };
}

/** One page of the inbox, newest first; pass `next` back as `cursor` for the older page (`null`: the last). */
export interface InboxPage {
  messages: InboxMessage[];
  next: string | null;
  /** Taken from this browser's cache, because Herald could not be reached. */
  cached?: boolean;
}

/** What a receipt call did: `sent` (Herald accepted it) or `queued` (Herald could not be reached: it is sent when it can be). */
export type ActionResult = 'sent' | 'queued';

export interface MessagesQuery {
  /** 1–200 (the API's default: 50). */
  limit?: number;
  /** `unread` keeps unread messages only (default `all`). */
  state?: 'unread' | 'all';
  /** The previous page's `next`. */
  cursor?: string;
  /** Only messages newer than this id. */
  since?: string;
}

/** The connection: `connecting` (first attempt), `open`, `reconnecting` (lost, retrying with backoff), `closed`. */
export type HeraldStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface HeraldEvents {
  /** A message, at most once per id. */
  message: HeraldMessage;
  status: HeraldStatus;
  /** The unread count (as GET /api/v1/messages/count?state=unread counts), whenever it changes. */
  unread: number;
  /** The cached inbox, newest first: from the cache at connect(), fresh from Herald on each open, and after every change. */
  inbox: InboxMessage[];
  /** Messages read here, in another tab or elsewhere (`all`: a mark-all-read; `ids` then are the cached ones it changed). */
  read: { ids: string[]; all: boolean };
  /** Messages archived (here or in another tab). */
  archive: string[];
  /** A message its sender recalled: it left the inbox. */
  recall: string;
  /** Something that failed in the background: a reconnect refused for good, a count that could not be fetched. */
  error: Error;
}
