/**
 * The inbox as this browser knows it: the newest messages (at most `size`, newest first) and the
 * unread count, changed by operations that every tab applies the same way (client/src/client.ts):
 * a message that arrived (replacing the older one of its topic), reads, a mark-all-read, removals
 * (archive, recall). The count is the
 * server's when one was fetched, moved by each operation meanwhile (a read of a cached unread
 * message takes one off; a message not cached is not counted again when it is read).
 */
import type { InboxMessage } from './types.js';

export type InboxOp =
  | { kind: 'message'; message: InboxMessage; replaces?: string }
  | { kind: 'read'; ids: string[]; at: string }
  | { kind: 'all-read'; at: string }
  | { kind: 'remove'; ids: string[]; why: 'archived' | 'recalled' };

/** What an operation changed: ids that became read, ids that left the list. */
export interface InboxChange {
  read: string[];
  /** Ids of a read that are not in the list (older messages, or gone): their state here is unknown. */
  unknown: string[];
  removed: string[];
  /** Whether the list or the count moved. */
  changed: boolean;
}

export class Inbox {
  messages: InboxMessage[] = [];
  unread: number | undefined;

  constructor(private readonly size: number) {}

  /** Takes a whole state (the cache, another tab's, a page fetched); false when nothing differs. */
  replace(messages: InboxMessage[], unread: number | undefined): boolean {
    const next = messages.slice(0, this.size);
    const same = unread === this.unread && JSON.stringify(next) === JSON.stringify(this.messages);
    this.messages = next;
    this.unread = unread;
    return !same;
  }

  apply(op: InboxOp): InboxChange {
    const change: InboxChange = { read: [], unknown: [], removed: [], changed: false };
    const before = this.unread;
    if (op.kind === 'message') {
      // Topic collapse: only the newest message of a topic is listed, whatever order they came in
      // (a broadcast's frame names no `replaces`: the same topic says it).
      const topic = op.message.topic;
      const sameTopic = topic ? this.messages.filter((m) => m.topic === topic && m.id !== op.message.id) : [];
      if (sameTopic.some((m) => m.id > op.message.id)) return change;
      this.remove([...(op.replaces ? [op.replaces] : []), ...sameTopic.map((m) => m.id)], change);
      if (!this.messages.some((m) => m.id === op.message.id)) {
        const at = this.messages.findIndex((m) => m.id < op.message.id);
        this.messages.splice(at < 0 ? this.messages.length : at, 0, op.message);
        this.messages.length = Math.min(this.messages.length, this.size);
        if (op.message.state.read === null) this.count(1);
        change.changed = true;
      }
    } else if (op.kind === 'read' || op.kind === 'all-read') {
      const ids = op.kind === 'read' ? new Set(op.ids) : undefined;
      this.messages = this.messages.map((m) => {
        if (m.state.read !== null || (ids && !ids.has(m.id))) return m;
        change.read.push(m.id);
        this.count(-1);
        return { ...m, state: { ...m.state, read: op.at } };
      });
      if (op.kind === 'read') change.unknown = op.ids.filter((id) => !this.messages.some((m) => m.id === id));
      if (op.kind === 'all-read' && this.unread !== undefined) this.unread = 0;
    } else {
      this.remove(op.ids, change);
    }
    change.changed ||= change.read.length > 0 || change.removed.length > 0 || before !== this.unread;
    return change;
  }

  private remove(ids: string[], change: InboxChange): void {
    const gone = new Set(ids);
    this.messages = this.messages.filter((m) => {
      if (!gone.has(m.id)) return true;
      change.removed.push(m.id);
      if (m.state.read === null) this.count(-1);
      return false;
    });
  }

  private count(delta: number): void {
    if (this.unread !== undefined) this.unread = Math.max(0, this.unread + delta);
  }
}
