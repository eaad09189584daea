/**
 * Herald's indices and their templates. Mappings use only Elasticsearch's core analyzers
 * (`standard`), which every distribution ships, and no scripts.
 */
import type { Client } from '@elastic/elasticsearch';

export interface IndexNames {
  messages: string;
  users: string;
  receipts: string;
}

export const indexNames = (prefix: string): IndexNames => ({ messages: `${prefix}-messages`, users: `${prefix}-users`, receipts: `${prefix}-receipts` });

const MAPPINGS: Record<keyof IndexNames, object> = {
  messages: {
    dynamic: 'strict',
    properties: {
      id: { type: 'keyword' },
      text: { type: 'text', analyzer: 'standard' },
      title: { type: 'text', analyzer: 'standard' },
      createdAt: { type: 'date', format: 'epoch_millis' },
      recipients: { type: 'keyword' },
      message: { type: 'object', enabled: false },
    },
  },
  users: {
    dynamic: 'strict',
    properties: { uid: { type: 'keyword' }, attributes: { type: 'keyword' }, has: { type: 'keyword' } },
  },
  receipts: {
    dynamic: 'strict',
    properties: {
      messageId: { type: 'keyword' },
      uid: { type: 'keyword' },
      channel: { type: 'keyword' },
      state: { type: 'keyword' },
      urgency: { type: 'keyword' },
      at: { type: 'date', format: 'epoch_millis' },
      /** A tally's: how many receipts the document counts (absent: one). */
      count: { type: 'long' },
      source: { type: 'keyword' },
    },
  },
};

/** Creates or updates the index templates, then the indices (idempotent). */
export async function ensureIndices(client: Client, prefix: string, replicas: number): Promise<IndexNames> {
  const names = indexNames(prefix);
  for (const [key, index] of Object.entries(names) as Array<[keyof IndexNames, string]>) {
    await client.indices.putIndexTemplate({
      name: index,
      body: { index_patterns: [index], template: { settings: { number_of_shards: 1, number_of_replicas: replicas }, mappings: MAPPINGS[key] } },
    });
    const exists = await client.indices.exists({ index });
    if (!exists.body) {
      await client.indices.create({ index }, { ignore: [400] });
    } else {
      // An index made by an earlier version gains the fields added since (adding a field is allowed).
      await client.indices.putMapping({ index, body: MAPPINGS[key] });
    }
  }
  return names;
}

export async function dropIndices(client: Client, prefix: string): Promise<void> {
  const names = Object.values(indexNames(prefix));
  await client.indices.delete({ index: names.join(','), ignore_unavailable: true });
  for (const name of names) await client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
}
