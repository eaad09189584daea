/**
 * Indexing off the hot path: operations are queued and sent with the bulk API when the queue
 * reaches `maxOperations` or after `maxDelayMs`, whichever comes first. `flush()` sends what is
 * queued and refreshes, so everything indexed before it is searchable. A failed bulk request is
 * retried on the next flush; items Elasticsearch rejects are logged (they would never succeed).
 */
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../observability/log.js';

export interface IndexOperation {
  index: string;
  id: string;
  document: object;
}

export interface BulkIndexer {
  add(operations: IndexOperation[]): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createBulkIndexer(client: Client, options: { indices: string[]; maxOperations?: number; maxDelayMs?: number; log?: Logger }): BulkIndexer {
  const maxOperations = options.maxOperations ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 200;
  let queue: IndexOperation[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();

  const send = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return sending;
    sending = sending.then(async () => {
      try {
        const body = batch.flatMap((op) => [{ index: { _index: op.index, _id: op.id } }, op.document]);
        const { body: result } = await client.bulk({ body });
        if (result.errors) {
          const failed = (result.items as Array<{ index?: { error?: unknown; _id?: string } }>).filter((item) => item.index?.error);
          options.log?.error({ failed: failed.slice(0, 5), count: failed.length }, 'documents rejected by Elasticsearch');
        }
      } catch (error) {
        options.log?.warn({ err: error, operations: batch.length }, 'bulk indexing failed; will retry');
        queue = [...batch, ...queue];
        throw error;
      }
    });
    return sending;
  };

  return {
    add(operations) {
      queue.push(...operations);
      if (queue.length >= maxOperations) void send().catch(() => {});
      else timer ??= setTimeout(() => void send().catch(() => {}), maxDelayMs).unref();
    },
    async flush() {
      // A failure of an earlier background send is retried here and reported to the caller.
      sending = sending.catch(() => {});
      await send();
      await client.indices.refresh({ index: options.indices.join(',') });
    },
    async close() {
      await send().catch(() => {});
    },
  };
}
