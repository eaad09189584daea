/**
 * Store ports: where Herald keeps what must survive a crash.
 *
 * Contract shared by every adapter (checked by test/contract/stores.contract.ts):
 *  - A promise that resolves means the write is durable (survives `kill -9` of the process).
 *  - Writes keyed by an identity are idempotent: inserting the same inbox entry, receipt or
 *    device twice leaves one. Herald's bus is at-least-once; the stores absorb redelivery.
 *  - Lists are newest first and paged by keyset (ids are time-ordered UUIDv7), never by offset,
 *    so a page costs the same at any depth. Nothing returns an unbounded list.
 *  - `StoreUnavailableError` means "try later" (the API answers 503); other errors are bugs.
 */
import type { Contact } from '../exchange/recipient.js';
import type { ChannelName, Device, DeviceKind, InboxItem, Message, Preferences, Receipt, ReceiptTally, User } from '../exchange/types.js';

/**
 * Progress of a message through the pipeline, for recovery after a crash. `recalled` is final:
 * once `recall` was called, `get` answers it whatever `setStatus` writes afterwards (a triage
 * still running when the message was recalled cannot bring it back).
 */
export type MessageStatus = 'scheduled' | 'accepted' | 'triaged' | 'recalled';

export interface StoredMessage {
  message: Message;
  status: MessageStatus;
  /** For paged expansions (broadcast, audience): the last uid planned, so a restart resumes there. */
  cursor?: string;
}

export interface MessageStore {
  /**
   * Stores a new message. With an idempotency key, a second insert by the same sender with the
   * same key within the retention window stores nothing and returns the first message's id and
   * body hash, so the caller can tell a replay (same hash) from a conflict.
   */
  insert(
    stored: StoredMessage,
    idempotency?: { key: string; bodyHash: string; ttlMs: number },
  ): Promise<{ inserted: true } | { inserted: false; existingId: string; bodyHash: string }>;
  get(id: string): Promise<StoredMessage | undefined>;
  /**
   * Tells the store that message `id` is stored (its insert resolved: the caller got it from
   * the publish that follows the insert). An adapter that reads before a write only to learn
   * whether the message exists (setStatus of an unknown id is ignored) may skip that read.
   */
  remember?(id: string): void;
  setStatus(id: string, status: Exclude<MessageStatus, 'recalled'>, cursor?: string): Promise<void>;
  /**
   * Recalls the message (its sender or an admin took it back): from now on `get` answers status
   * `recalled`, `unfinished` no longer lists it, and no inbox lists, counts or gets it. Idempotent;
   * the first time is kept.
   */
  recall(id: string, at: number): Promise<void>;
  /** Messages accepted but not yet fully triaged, oldest first, after the id `after`: recovery at start-up. */
  unfinished(limit: number, after?: string): Promise<StoredMessage[]>;
  /** Messages still waiting for their time (status 'scheduled'), newest id first, older than the id `before`: the admin console's list. */
  scheduled(limit: number, before?: string): Promise<StoredMessage[]>;
}

export interface InboxQuery {
  limit: number;
  /** Only entries newer than this message id. */
  since?: string;
  /** Only entries older than this message id (the `next` cursor of the previous page). */
  before?: string;
  unreadOnly?: boolean;
}

/**
 * A timeline: messages written once and read by many (fan-out on read). `everyone` holds the
 * broadcasts; `thread:<name>` the messages of one thread.
 */
export type TimelineId = 'everyone' | `thread:${string}`;

export const threadTimeline = (thread: string): TimelineId => `thread:${thread}`;

/** A membership of a thread: since `joinedAt`, until the user leaves. */
export interface ThreadMembership {
  thread: string;
  uid: string;
  joinedAt: number;
}

/** What a post to a timeline did: when the message was (first) posted, and what it replaced there. */
export interface TimelinePost {
  postedAt: number;
  replaces?: string;
}

/**
 * Timelines and thread membership. A user *sees* a timeline message when it was posted while
 * the user belonged to that timeline: `everyone` from the user's `createdAt` on (a user created
 * after a broadcast does not see it; an erased user is gone from it, and a uid created again
 * starts anew), a thread in every period from a `join` until the next `leave`. What a user sees
 * is part of their inbox (InboxStore): listed, counted, got and marked like their own entries.
 */
export interface TimelineStore {
  /**
   * Writes the message to the timeline once, posted at `at` (idempotent per timeline and
   * message id: a repeated post keeps the first time, and answers it as `postedAt`). For a
   * message with a topic, `replaces` is the id of the newest older message of that topic in the
   * timeline — the one it replaces there (the same answer when the post is repeated); a newer
   * one of the topic already posted replaces this one instead.
   */
  post(timeline: TimelineId, message: Message, at: number): Promise<TimelinePost>;
  /** Whether the message was posted to the timeline. */
  posted(timeline: TimelineId, messageId: string): Promise<boolean>;
  /**
   * Collapses `topic` in the timeline again once a message of it was recalled, as
   * InboxStore.restoreTopic does in an inbox: the newest entry not recalled is listed again, the
   * older ones are replaced by it (from when the first newer one not recalled was posted). Idempotent.
   */
  restoreTopic(timeline: TimelineId, topic: string): Promise<void>;
  /** Makes `uid` a member of the thread from `at` on; false (and no change) when it already is one. */
  join(thread: string, uid: string, at: number): Promise<boolean>;
  /** Ends `uid`'s membership of the thread at `at`; false when it was not a member. */
  leave(thread: string, uid: string, at: number): Promise<boolean>;
  /** The threads `uid` is a member of now, by thread name, after the name `after`, at most `limit`. */
  threadsOf(uid: string, limit: number, after?: string): Promise<ThreadMembership[]>;
  /** The members of the thread now, by uid, after the uid `after`, at most `limit`: thread expansion. */
  members(thread: string, limit: number, after?: string): Promise<ThreadMembership[]>;
}

/**
 * A user's inbox: the user's own entries (sends and multicasts, written per recipient by
 * `add`) merged by id with the timeline messages the user sees (TimelineStore). Per-user state
 * of a timeline message (delivered, read, archived) is stored only once `mark` sets it, so a
 * broadcast costs one write however many users see it. An entry is *listed* (by `list`, and counted by `countUnread` when unread)
 * unless one of these hides it:
 *  - it was archived (`mark(…, 'archived')`);
 *  - it was replaced: a message with the same `topic` and a greater id is in the same source —
 *    the user's own entries, or one timeline while the user sees it (topic collapse: only the
 *    newest of a topic is listed, whatever order they were added in);
 *  - its message was recalled (MessageStore.recall).
 * `get` answers archived and replaced entries too (they are still the user's messages), never
 * those of a recalled message.
 */
export interface InboxStore {
  /**
   * Adds entries (idempotent per uid + message id). For a message with a topic, returns, per uid
   * whose inbox held an older entry of that topic, the id of the newest such entry: the one this
   * message replaces there (the same answer when the add is repeated).
   */
  add(uids: string[], message: Message): Promise<Map<string, string>>;
  list(uid: string, query: InboxQuery): Promise<InboxItem[]>;
  get(uid: string, messageId: string): Promise<InboxItem | undefined>;
  /**
   * Marks entries of `uid` delivered, read (a read implies delivered) or archived. Ids that are
   * not in that user's inbox are ignored; returns the ids that were found.
   */
  mark(uid: string, messageIds: string[], state: 'delivered' | 'read' | 'archived', at: number): Promise<string[]>;
  /**
   * How many listed entries of `uid` are unread: exactly the entries paging `list(uid, {
   * unreadOnly: true })` to its end returns. Costs a read of that user's inbox (bounded by its
   * size, as a user's inbox is), not of anyone else's.
   */
  countUnread(uid: string): Promise<number>;
  /**
   * Collapses `topic` in `uid`'s inbox again once a message of it was recalled: recalled entries
   * no longer count as the topic's, so the newest entry whose message is not recalled is listed
   * (as before the recalled one came) and the older ones are replaced by it. Idempotent.
   */
  restoreTopic(uid: string, topic: string): Promise<void>;
}

/** Where `ReceiptStore.queued` resumes: the last receipt of the previous page. */
export interface QueuedCursor {
  messageId: string;
  uid: string;
  device?: string;
}

/** What the caller of `ReceiptStore.record` knows of the keys it records. */
export interface RecordOptions {
  /**
   * None of the keys is, or will ever be, `queued` (a socket delivery's receipts: only provider
   * deliveries are queued). The Cassandra adapter then records a first `sent` in one plain write.
   */
  neverQueued?: boolean;
}

export interface ReceiptStore {
  /**
   * Records receipts. A receipt's key is (messageId, uid, channel, device), an absent device
   * being a key of its own (the channel-wide receipt): two devices of one user on one channel
   * have a receipt each. Per key the current state only moves forward (queued → sent →
   * delivered → read → clicked; failed / expired / suppressed are final), and every accepted
   * change is kept in the history used by reports. `options` changes nothing of that outcome:
   * it only tells the adapter what it may rely on to get there more cheaply.
   */
  record(receipts: Receipt[], options?: RecordOptions): Promise<void>;
  /** Current state per (uid, channel, device) for a message, ordered by uid, channel, device (channel-wide first); only `uid`'s when given. */
  forMessage(messageId: string, uid?: string): Promise<Receipt[]>;
  /** Current receipts on `channel` still in `queued`, with their device, oldest first by (messageId, uid, device), strictly after `after` (recovery of delivery work). */
  queued(channel: ChannelName, limit: number, after?: QueuedCursor): Promise<Receipt[]>;
  /** Stores tallies: one per (messageId, channel, state, source), the count last given replacing the earlier; its time stays the first given. */
  tally(tallies: ReceiptTally[]): Promise<void>;
  /** The message's tallies summed over their sources, by channel then state; `at` is the earliest. */
  talliesOf(messageId: string): Promise<Array<Omit<ReceiptTally, 'source'>>>;
}

export interface UserStore {
  /** Creates the user if unknown; returns it. */
  ensure(uid: string, at: number): Promise<User>;
  /** Creates or updates; attributes given replace the stored attributes. */
  put(user: Pick<User, 'uid'> & Partial<Omit<User, 'uid' | 'createdAt' | 'updatedAt'>>, at: number): Promise<User>;
  get(uid: string): Promise<User | undefined>;
  getMany(uids: string[]): Promise<User[]>;
  /**
   * Broadcast expansion: a page of users after the user `after` (the last uid of the previous
   * page), in an order the adapter chooses and keeps stable — SQLite: uid ascending; Cassandra:
   * partition-token order, the order it scans a table cheaply. Paging from `undefined` until an
   * empty page returns every user that exists throughout exactly once.
   */
  page(after: string | undefined, limit: number): Promise<User[]>;
  /**
   * Broadcast expansion of the channels outside the app: a page, in an order the adapter
   * chooses and keeps stable (after the last uid of the previous page), of the users who can be
   * reached there — holding a device, an email address or a phone number; each once. Everyone else needs no per-user work for a broadcast (their inbox is the
   * everyone-timeline; their sockets get one publish). An adapter may answer more users than
   * that (its documentation says which), never fewer. A page may hold fewer than `limit` users
   * and still not be the last: only an empty page ends the walk.
   */
  pageReachable(after: string | undefined, limit: number): Promise<User[]>;
  getPreferences(uid: string): Promise<Preferences>;
  /**
   * For expansion: the preferences of each of `uids` (every uid is in the map; empty
   * preferences when none are stored) — what `getPreferences` would answer for each, read in
   * a few requests instead of one per uid.
   */
  getPreferencesMany(uids: string[]): Promise<Map<string, Preferences>>;
  putPreferences(uid: string, preferences: Preferences): Promise<void>;
}

export type NewDevice =
  | { kind: 'ios' | 'android'; token: string }
  | { kind: 'web'; token: string; keys: { p256dh: string; auth: string }; expirationTime: number | null };

export interface DeviceStore {
  /** Registers a device for `uid`; re-registering the same (kind, token) returns the same id. A token moves to the new uid if another user held it. */
  register(uid: string, device: NewDevice, id: string, at: number): Promise<{ device: Device; created: boolean }>;
  /** Removes the user's registration of (kind, token); false when there was none. */
  remove(uid: string, kind: DeviceKind, token: string): Promise<boolean>;
  /** Removes a token whoever holds it (the provider said it is gone). */
  removeToken(kind: DeviceKind, token: string): Promise<void>;
  listByUser(uid: string): Promise<Device[]>;
  /** The device of that id when `uid` holds it; undefined when it is unknown or another user's. */
  get(uid: string, id: string): Promise<Device | undefined>;
  /**
   * For expansion: the devices of each of `uids` (every uid is in the map; [] when it has
   * none), each list as `listByUser` orders it, read in a few requests instead of one per uid.
   */
  listByUsers(uids: string[]): Promise<Map<string, Device[]>>;
}

/**
 * The right to erasure (DELETE /api/v1/users/{uid}). The stores keep, per erased uid, only the
 * uid and the time of its erasure: triage checks it so a message addressed before the erasure
 * (scheduled, in flight, recovered after a crash) never writes that user's data again.
 */
export interface ErasureStore {
  /**
   * Erases what the stores hold about `uid`: the user (profile, attributes), preferences,
   * devices, inbox entries, thread memberships, timeline state and receipts (current state, history and the queued index), and
   * records the erasure at `at` first. Messages are the sender's records and stay (a message
   * sent only to `uid` included). Resolves once all of it is durable; idempotent — erasing an
   * unknown or already erased uid records the time and removes nothing. The cost is bounded
   * by what that user holds (each adapter documents how), never by other users' data.
   */
  eraseUser(uid: string, at: number): Promise<void>;
  /** When each of `uids` was last erased; uids never erased are absent. */
  erasedAt(uids: string[]): Promise<Map<string, number>>;
}

/** What planning a delivery needs of a recipient (src/exchange/plan.ts), read for a page of them at once. */
export interface RecipientFacts {
  /** The addresses and the rendering of the user's record (a field absent: none stored; all absent for an unknown uid). */
  contact: Contact;
  /** As `UserStore.getPreferences` answers them. */
  preferences: Preferences;
  /** As `DeviceStore.listByUser` answers them. */
  devices: Device[];
  /** As `ErasureStore.erasedAt` answers it; absent when never erased. */
  erasedAt?: number;
}

/**
 * Triage's read of a page of recipients: what `UserStore`, `DeviceStore` and `ErasureStore`
 * would answer for them, in one read where the adapter keeps it together (each adapter says how
 * it stays in step with those stores).
 */
export interface RecipientStore {
  /** The facts of each of `uids` (every uid is in the map). */
  factsOf(uids: string[]): Promise<Map<string, RecipientFacts>>;
}

export interface Stores {
  messages: MessageStore;
  inbox: InboxStore;
  receipts: ReceiptStore;
  timelines: TimelineStore;
  users: UserStore;
  devices: DeviceStore;
  erasure: ErasureStore;
  recipients: RecipientStore;
  /** True when the store answers. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
