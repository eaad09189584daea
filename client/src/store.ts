/**
 * What the SDK keeps across page loads, per scope (Herald's URL + the user): the cached inbox
 * (its newest messages and unread count) and the outbox, the receipts taken but not yet accepted
 * by Herald, in the order they were taken. IndexedDB (database `herald-sdk`) when the browser has
 * it; otherwise (or `offline: false`) the same in memory, which lasts as long as the page.
 */
import type { InboxMessage } from './types.js';

/** A POST /api/v1/receipts body. */
export type ReceiptBody = { ids: string[]; state: 'read' | 'clicked' | 'archived' } | { all: true; state: 'read' };

export interface Queued {
  key: number;
  body: ReceiptBody;
}

export interface Cached {
  messages: InboxMessage[];
  unread: number | undefined;
  /** When a tab saw the user erased (close code 4410), in ms since the epoch. */
  erasedAt?: number;
}

export interface OfflineStore {
  load(scope: string): Promise<Cached | undefined>;
  save(scope: string, cached: Cached): Promise<void>;
  /** Appends to the outbox; resolves once durable, with the entries' keys. */
  enqueue(scope: string, bodies: ReceiptBody[]): Promise<number[]>;
  /** The outbox, oldest first. */
  queued(scope: string): Promise<Queued[]>;
  dequeue(key: number): Promise<void>;
  /** Forgets the scope's inbox and outbox. */
  clear(scope: string): Promise<void>;
}

export class MemoryStore implements OfflineStore {
  private readonly inboxes = new Map<string, Cached>();
  private readonly outbox = new Map<number, Queued & { scope: string }>();
  private next = 1;

  async load(scope: string) {
    return this.inboxes.get(scope);
  }
  async save(scope: string, cached: Cached) {
    this.inboxes.set(scope, cached);
  }
  async enqueue(scope: string, bodies: ReceiptBody[]) {
    return bodies.map((body) => {
      const key = this.next++;
      this.outbox.set(key, { key, body, scope });
      return key;
    });
  }
  async queued(scope: string) {
    return [...this.outbox.values()].filter((q) => q.scope === scope).map(({ key, body }) => ({ key, body }));
  }
  async dequeue(key: number) {
    this.outbox.delete(key);
  }
  async clear(scope: string) {
    this.inboxes.delete(scope);
    for (const [key, q] of this.outbox) if (q.scope === scope) this.outbox.delete(key);
  }
}

const INBOX = 'inbox';
const OUTBOX = 'outbox';

const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/** The store in IndexedDB: one `inbox` record per scope, `outbox` entries under an increasing key (their order). */
export class IndexedDbStore implements OfflineStore {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(name = 'herald-sdk'): Promise<IndexedDbStore> {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore(INBOX, { keyPath: 'scope' });
      db.createObjectStore(OUTBOX, { autoIncrement: true }).createIndex('scope', 'scope');
    };
    const db = await done(request);
    // Another page upgrading the database (a newer SDK) must not wait for this one.
    db.onversionchange = () => db.close();
    return new IndexedDbStore(db);
  }

  /** Runs `work` in one transaction; resolves with its result once the transaction committed. */
  private run<T>(stores: string[], mode: IDBTransactionMode, work: (tx: IDBTransaction) => Promise<T> | T): Promise<T> {
    const tx = this.db.transaction(stores, mode);
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
    return Promise.all([work(tx), committed]).then(([result]) => result);
  }

  async load(scope: string) {
    const row = await this.run([INBOX], 'readonly', (tx) => done(tx.objectStore(INBOX).get(scope)));
    if (!row) return undefined;
    return {
      messages: row.messages as InboxMessage[],
      unread: (row.unread ?? undefined) as number | undefined,
      ...(row.erasedAt ? { erasedAt: row.erasedAt as number } : {}),
    };
  }

  save(scope: string, cached: Cached) {
    return this.run([INBOX], 'readwrite', (tx) => {
      tx.objectStore(INBOX).put({ scope, messages: cached.messages, unread: cached.unread ?? null, erasedAt: cached.erasedAt ?? null });
    });
  }

  enqueue(scope: string, bodies: ReceiptBody[]) {
    return this.run([OUTBOX], 'readwrite', (tx) => Promise.all(bodies.map((body) => done(tx.objectStore(OUTBOX).add({ scope, body }) as IDBRequest<number>))));
  }

  queued(scope: string) {
    return this.run([OUTBOX], 'readonly', (tx) => {
      const index = tx.objectStore(OUTBOX).index('scope');
      return Promise.all([done(index.getAllKeys(scope)), done(index.getAll(scope))]).then(([keys, rows]) =>
        keys.map((key, i) => ({ key: key as number, body: rows[i].body as ReceiptBody })),
      );
    });
  }

  dequeue(key: number) {
    return this.run([OUTBOX], 'readwrite', (tx) => {
      tx.objectStore(OUTBOX).delete(key);
    });
  }

  clear(scope: string) {
    return this.run([INBOX, OUTBOX], 'readwrite', async (tx) => {
      tx.objectStore(INBOX).delete(scope);
      const outbox = tx.objectStore(OUTBOX);
      for (const key of await done(outbox.index('scope').getAllKeys(scope))) outbox.delete(key);
    });
  }
}
