/**
 * Search port: questions the stores are not shaped to answer — full-text message search for
 * admins, audience queries for `multicast`, and delivery reports.
 *
 * Contract (test/contract/search.contract.ts):
 *  - Indexing may lag the stores (eventual), but `flush()` resolves once everything indexed
 *    before it is searchable.
 *  - Results are paged by keyset: messages newest first by id, users by uid ascending.
 *  - A report counts receipt events, and each tally as its count.
 *  - Audience `where` matches user attributes by equality (a value, or any of a list);
 *    `has` requires a registered device of that kind, or an email / phone on the user.
 *    `online` and `thread` are not the index's business: the caller filters on presence and
 *    pages a thread's members itself, asking for the matches `among` each page.
 */
import type { Audience, DeviceKind, Message, Receipt, ReceiptTally, User } from '../exchange/types.js';

export interface MessageSearchQuery {
  q: string;
  from?: number;
  to?: number;
  uid?: string;
  limit: number;
  /** Only messages older than this id (the previous page's `next`). */
  before?: string;
}

export type ReportGroup = 'channel' | 'urgency' | 'state';

export interface ReportQuery {
  from: number;
  to: number;
  groupBy: ReportGroup;
}

export interface ReportRow {
  key: string;
  count: number;
}

export interface Search {
  indexMessage(message: Message): Promise<void>;
  indexUser(user: User, deviceKinds: DeviceKind[]): Promise<void>;
  /** Receipt history for reports; `urgency` is the message's. */
  indexReceipts(receipts: Array<Receipt & { urgency: Message['urgency'] }>): Promise<void>;
  /** Tallies for reports (ReceiptStore.tally): each counts `count` receipts at its `at`; a source's later tally replaces its earlier one. */
  indexTallies(tallies: Array<ReceiptTally & { urgency: Message['urgency'] }>): Promise<void>;
  searchMessages(query: MessageSearchQuery): Promise<Message[]>;
  /**
   * One page of uids matching the audience (ignoring `online` and `thread`), ascending, after
   * `after`; with `among`, only uids from that list (at most 1,000) are matched.
   */
  audience(audience: Audience, after: string | undefined, limit: number, among?: readonly string[]): Promise<string[]>;
  report(query: ReportQuery): Promise<ReportRow[]>;
  /**
   * Right to erasure: removes the user's documents — the user (audiences no longer match it)
   * and its receipts (reports no longer count them) — and `uid` from the recipients of message
   * documents, so a search by `uid` no longer finds any message. The messages themselves stay
   * searchable by their text: they are the sender's records, kept by the MessageStore too.
   * Anything indexed for `uid` before the call is covered (queued indexing is written first).
   * Idempotent; resolves once queries no longer see what was removed.
   */
  eraseUser(uid: string): Promise<void>;
  flush(): Promise<void>;
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
