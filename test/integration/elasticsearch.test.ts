/**
 * The Search contract against a real Elasticsearch (npm run services:up), with SQLite stores
 * beside it: the search contract is about the index, and the stores only feed it. Each test
 * gets its own index prefix; its indices and templates are dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElasticsearchSearch } from '../../src/search/elasticsearch/search.js';
import { migrate, openDatabase } from '../../src/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { searchContract } from '../contract/search.contract.js';
import { servicesEnv } from '../helpers/services.js';

const url = servicesEnv().elasticsearchUrl;

searchContract('elasticsearch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-es-contract-'));
  const db = openDatabase(join(dir, 'herald.db'));
  migrate(db);
  const stores = createSqliteStores(db);
  const search = await createElasticsearchSearch({ url, indexPrefix: `herald-test-${randomUUID().slice(0, 8)}`, replicas: 0 }).catch((error: unknown) => {
    throw new Error(`Elasticsearch is not reachable at ${url}: run npm run services:up (${String(error)})`);
  });
  return {
    stores,
    search,
    cleanup: async () => {
      await search.drop();
      await search.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
