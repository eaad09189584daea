/**
 * Search port on Elasticsearch: full-text message search, audience queries over user
 * attributes and devices, and delivery reports by aggregation (see ../port.ts for the contract).
 *
 * Client compatibility: the 7.17 JavaScript client talks to Elasticsearch 7.x as is; against
 * 8.x set `compatibility7` (HERALD_ELASTICSEARCH_COMPAT=true), which sends the
 * `compatible-with=7` media types that 8.x accepts. 9.x accepts only `compatible-with=8` and
 * needs the 8.x client: not supported by this adapter yet.
 */
import { Client } from '@elastic/elasticsearch';
import type { Message } from '../../exchange/types.js';
import type { Logger } from '../../observability/log.js';
import type { Search } from '../port.js';
import { createBulkIndexer } from './bulk-indexer.js';
import { audienceFilters, type MessageDocument, messageDocument, receiptDocumentId, tallyDocumentId, userDocument } from './documents.js';
import { dropIndices, ensureIndices } from './indices.js';

/** Message documents rewritten per request while a uid is removed from their recipients. */
const ERASE_PAGE = 500;

/**
 * Removes `uid` from the recipients of every message document naming it, a page at a time
 * (partial-document updates: no scripts). Costs the documents naming the user, no others.
 */
async function removeRecipient(client: Client, index: string, uid: string): Promise<void> {
  for (;;) {
    const { body } = await client.search({
      index,
      body: { size: ERASE_PAGE, sort: [{ id: 'asc' }], query: { bool: { filter: [{ term: { recipients: uid } }] } }, _source: ['recipients'] },
    });
    const hits = body.hits.hits as Array<{ _id: string; _source: { recipients: string[] } }>;
    if (hits.length === 0) return;
    const operations = hits.flatMap((hit) => [
      { update: { _index: index, _id: hit._id } },
      { doc: { recipients: hit._source.recipients.filter((r) => r !== uid) } },
    ]);
    // Refreshed, so the next search no longer sees the page just rewritten.
    const { body: result } = await client.bulk({ refresh: true, body: operations });
    if (result.errors) throw new Error(`Elasticsearch refused to remove a recipient from ${hits.length} message documents`);
  }
}

export interface ElasticsearchSearchOptions {
  url: string;
  indexPrefix: string;
  /** Replicas per index: 0 on a single node, 1 or more in production. */
  replicas?: number;
  compatibility7?: boolean;
  log?: Logger;
}

const COMPAT_7 = 'application/vnd.elasticsearch+json; compatible-with=7';

export async function createElasticsearchSearch(options: ElasticsearchSearchOptions): Promise<Search & { drop(): Promise<void> }> {
  const client = new Client({
    node: options.url,
    ...(options.compatibility7 ? { headers: { accept: COMPAT_7, 'content-type': COMPAT_7 } } : {}),
  });
  const names = await ensureIndices(client, options.indexPrefix, options.replicas ?? 1);
  const indexer = createBulkIndexer(client, { indices: Object.values(names), ...(options.log ? { log: options.log } : {}) });

  return {
    async indexMessage(message) {
      indexer.add([{ index: names.messages, id: message.id, document: messageDocument(message) }]);
    },
    async indexUser(user, deviceKinds) {
      indexer.add([{ index: names.users, id: user.uid, document: userDocument(user, deviceKinds) }]);
    },
    async indexReceipts(receipts) {
      indexer.add(
        receipts.map((r) => ({
          index: names.receipts,
          id: receiptDocumentId(r),
          document: { messageId: r.messageId, uid: r.uid, channel: r.channel, state: r.state, urgency: r.urgency, at: r.at },
        })),
      );
    },

    async indexTallies(tallies) {
      indexer.add(
        tallies.map((t) => ({
          index: names.receipts,
          id: tallyDocumentId(t),
          document: { messageId: t.messageId, channel: t.channel, state: t.state, source: t.source, urgency: t.urgency, at: t.at, count: t.count },
        })),
      );
    },

    async searchMessages(query) {
      const filter: object[] = [];
      if (query.from !== undefined || query.to !== undefined) {
        filter.push({
          range: { createdAt: { ...(query.from !== undefined ? { gte: query.from } : {}), ...(query.to !== undefined ? { lt: query.to } : {}) } },
        });
      }
      if (query.uid) filter.push({ term: { recipients: query.uid } });
      if (query.before) filter.push({ range: { id: { lt: query.before } } });
      const { body } = await client.search({
        index: names.messages,
        body: {
          size: query.limit,
          sort: [{ id: 'desc' }],
          // Plain text: multi_match has no query syntax, so quotes or operators are just words.
          query: { bool: { must: [{ multi_match: { query: query.q, fields: ['text', 'title'], type: 'cross_fields', operator: 'and' } }], filter } },
          _source: ['message'],
        },
      });
      return (body.hits.hits as Array<{ _source: Pick<MessageDocument, 'message'> }>).map((hit): Message => hit._source.message);
    },

    async audience(audience, after, limit, among) {
      const filter = audienceFilters(audience);
      if (after !== undefined) filter.push({ range: { uid: { gt: after } } });
      if (among !== undefined) filter.push({ terms: { uid: among } });
      const { body } = await client.search({
        index: names.users,
        body: { size: limit, sort: [{ uid: 'asc' }], query: { bool: { filter } }, _source: ['uid'] },
      });
      return (body.hits.hits as Array<{ _source: { uid: string } }>).map((hit) => hit._source.uid);
    },

    async report(query) {
      const { body } = await client.search({
        index: names.receipts,
        body: {
          size: 0,
          query: { range: { at: { gte: query.from, lt: query.to } } },
          // A receipt document counts one; a tally, its count.
          aggs: { groups: { terms: { field: query.groupBy, size: 100 }, aggs: { receipts: { sum: { field: 'count', missing: 1 } } } } },
        },
      });
      const buckets = (body.aggregations?.groups?.buckets ?? []) as Array<{ key: string; doc_count: number; receipts: { value: number } }>;
      return buckets.map((b) => ({ key: b.key, count: b.receipts.value }));
    },

    async eraseUser(uid) {
      // What is queued for the user is sent first, so it is erased too.
      await indexer.flush();
      await client.delete({ index: names.users, id: uid }, { ignore: [404] });
      await client.deleteByQuery({ index: names.receipts, refresh: true, conflicts: 'proceed', body: { query: { term: { uid } } } });
      await removeRecipient(client, names.messages, uid);
      await client.indices.refresh({ index: [names.users, names.messages].join(',') });
    },

    flush: () => indexer.flush(),
    async healthy() {
      try {
        await client.ping();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await indexer.close();
      await client.close();
    },
    async drop() {
      await dropIndices(client, options.indexPrefix);
    },
  };
}
