/**
 * Runs the store contract against the Cassandra stores, on the server that
 * `npm run services:up` starts (HERALD_CASSANDRA_CONTACT_POINTS, default 127.0.0.1:9042).
 * Cassandra unreachable is a failure with a message saying so, never a skip.
 *
 * One keyspace per run (`herald_test_<random>`), migrated once and dropped at the end: creating
 * tables is slow on a small machine, truncating them is not. The contract reuses uids, senders
 * and idempotency keys from test to test and lists whole tables (unfinished, users.page), so
 * every test starts with the store tables truncated. `reopen` opens a new client over the
 * same keyspace. Checks specific to the Cassandra adapter follow the contract.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import { v7 as uuidv7 } from 'uuid';
import type { Message } from '../../src/exchange/types.js';
import { cqlSession } from '../../src/store/cassandra/client.js';
import { createCassandraStores, migrateCassandra } from '../../src/store/cassandra/index.js';
import { ABANDONED_CLAIM_MS } from '../../src/store/cassandra/message-store.js';
import type { MigrationCql } from '../../src/store/cassandra/migration.js';
import { backfillRecipientFacts } from '../../src/store/cassandra/recipient-store.js';
import {
  INBOX_BUCKET_MS,
  inboxBucket,
  LEGACY_TABLES,
  reachableShard,
  STORE_TABLES,
  UNFINISHED_SHARDS,
  unfinishedShard,
} from '../../src/store/cassandra/schema.js';
import { type Stores, StoreUnavailableError, threadTimeline } from '../../src/store/port.js';
import { makeMessage, walkReachable } from '../contract/contract-helpers.js';
import { recipientsContract } from '../contract/recipients.contract.js';
import { type StoresHarness, storesContract } from '../contract/stores.contract.js';
import { timelinesContract } from '../contract/timelines.contract.js';
import { closedPort } from '../helpers/closed-port.js';
import { servicesEnv } from '../helpers/services.js';

const env = servicesEnv();
const contactPoints = env.cassandraContactPoints
  .split(',')
  .map((point) => point.trim())
  .filter((point) => point !== '');
const keyspace = `herald_test_${randomBytes(5).toString('hex')}`;
const admin = new cassandra.Client({ contactPoints, localDataCenter: 'datacenter1', protocolOptions: { maxVersion: 4 } });

const open = (): Promise<Stores> => createCassandraStores({ contactPoints, keyspace });
const truncateAll = () => Promise.all(STORE_TABLES.map((table) => admin.execute(`TRUNCATE ${keyspace}.${table}`)));

let connected = false;

before(async () => {
  try {
    await admin.connect();
    connected = true;
  } catch (error) {
    throw new Error(
      `Cassandra is not reachable at ${env.cassandraContactPoints} (HERALD_CASSANDRA_CONTACT_POINTS): start it with \`npm run services:up\` — ${(error as Error).message}`,
      { cause: error },
    );
  }
  assert.deepEqual(await migrateCassandra(admin, keyspace, { replication: 1 }), [
    'stores',
    'receipts per device',
    'erasure',
    'scheduled messages',
    'inbox-visibility',
    'timelines',
    'receipt tallies',
    'reachable users',
    'recipient facts',
    'unread floors',
  ]);
});

after(async () => {
  try {
    if (connected) await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } finally {
    await admin.shutdown();
  }
});

/** Stores over the truncated keyspace; `reopen` opens a new client over it. */
async function freshStores(): Promise<StoresHarness> {
  await truncateAll();
  let stores = await open();
  return {
    stores,
    reopen: async () => {
      await stores.close();
      stores = await open();
      return stores;
    },
    cleanup: () => stores.close(),
  };
}

storesContract('cassandra', freshStores);
timelinesContract('cassandra', freshStores);
recipientsContract('cassandra', freshStores);

describe('Cassandra stores beyond the contract', () => {
  it('migrateCassandra is idempotent and creates every store table', async () => {
    assert.deepEqual(await migrateCassandra(admin, keyspace), []);
    assert.deepEqual(await migrateCassandra({ contactPoints }, keyspace), []);
    const tables = await admin.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true });
    assert.deepEqual(tables.rows.map((row) => row.get('table_name') as string).sort(), [...STORE_TABLES, ...LEGACY_TABLES, 'schema_migrations'].sort());
    const versions = await admin.execute(`SELECT version, name FROM ${keyspace}.schema_migrations`);
    assert.deepEqual(
      versions.rows.map((row) => [row.get('version'), row.get('name')]).sort((a, b) => a[0] - b[0]),
      [
        [1, 'stores'],
        [2, 'receipts per device'],
        [3, 'erasure'],
        [4, 'scheduled messages'],
        [5, 'inbox-visibility'],
        [6, 'timelines'],
        [7, 'receipt tallies'],
        [8, 'reachable users'],
        [9, 'recipient facts'],
        [10, 'unread floors'],
      ],
    );
  });

  it('a closed port answers StoreUnavailableError, caused by the driver error', async () => {
    const port = await closedPort();
    const failure = await createCassandraStores({ contactPoints: [`127.0.0.1:${port}`], keyspace }).then(
      () => assert.fail('connected to a closed port'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${String(failure)}`);
    assert.ok(failure.cause instanceof cassandra.errors.NoHostAvailableError);
  });

  it('closed stores answer StoreUnavailableError and unhealthy', async () => {
    const stores = await open();
    assert.equal(await stores.healthy(), true);
    await stores.close();
    await assert.rejects(stores.messages.get(uuidv7()), StoreUnavailableError);
    assert.equal(await stores.healthy(), false);
  });

  it('a keyspace that was never migrated is refused with a message naming `herald migrate`', async () => {
    await assert.rejects(createCassandraStores({ contactPoints, keyspace: `${keyspace}_missing` }), (error: unknown) => {
      assert.ok(!(error instanceof StoreUnavailableError));
      assert.match((error as Error).message, /herald migrate/);
      return true;
    });
  });

  it('pages an inbox across 30-day buckets: before, since and unreadOnly', async () => {
    await truncateAll();
    const stores = await open();
    try {
      // Two messages in each of three buckets, months apart.
      const start = Date.now() - 3 * INBOX_BUCKET_MS;
      const ids: string[] = [];
      for (const offset of [0, 1, INBOX_BUCKET_MS, INBOX_BUCKET_MS + 1, 2 * INBOX_BUCKET_MS, 2 * INBOX_BUCKET_MS + 1]) {
        const message = makeMessage({ id: uuidv7({ msecs: start + offset }), target: { kind: 'user', uid: 'months' } });
        await stores.messages.insert({ message, status: 'triaged' });
        await stores.inbox.add(['months'], message);
        ids.push(message.id);
      }
      assert.equal(new Set(ids.map(inboxBucket)).size, 3);
      const newestFirst = [...ids].reverse();
      const listed = async (query: Parameters<Stores['inbox']['list']>[1]) => (await stores.inbox.list('months', query)).map((item) => item.message.id);

      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await listed(cursor === undefined ? { limit: 4 } : { limit: 4, before: cursor });
        if (page.length === 0) break;
        seen.push(...page);
        cursor = page[page.length - 1];
      }
      assert.deepEqual(seen, newestFirst);
      assert.deepEqual(await listed({ limit: 10, since: ids[1] }), newestFirst.slice(0, 4));
      assert.deepEqual(await listed({ limit: 10, since: ids[0], before: ids[5] }), [ids[4], ids[3], ids[2], ids[1]]);

      await stores.inbox.mark('months', [ids[5], ids[3], ids[2]] as string[], 'read', 1);
      assert.deepEqual(await listed({ limit: 2, unreadOnly: true }), [ids[4], ids[1]]);
      assert.deepEqual(await listed({ limit: 10, unreadOnly: true, before: ids[4] }), [ids[1], ids[0]]);
    } finally {
      await stores.close();
    }
  });

  it('timelines across 30-day buckets: a user sees what was posted from their creation on and while a member, paged and counted exactly', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const start = Date.now() - 3 * INBOX_BUCKET_MS;
      const at = (offset: number) => start + offset;
      await stores.users.ensure('early', at(-1));
      await stores.users.ensure('later', at(INBOX_BUCKET_MS + 1));
      await stores.timelines.join('club', 'later', at(INBOX_BUCKET_MS));
      /** A message whose id and post time are `offset` after the start. */
      const message = (offset: number, target: Message['target']) => makeMessage({ id: uuidv7({ msecs: at(offset) }), target });
      const broadcasts: Message[] = [];
      for (const offset of [0, 1, INBOX_BUCKET_MS, INBOX_BUCKET_MS + 1, 2 * INBOX_BUCKET_MS, 2 * INBOX_BUCKET_MS + 1]) {
        const broadcast = message(offset, { kind: 'everyone' });
        await stores.messages.insert({ message: broadcast, status: 'triaged' });
        await stores.timelines.post('everyone', broadcast, at(offset));
        broadcasts.push(broadcast);
      }
      const own = message(INBOX_BUCKET_MS + 2, { kind: 'user', uid: 'later' });
      await stores.messages.insert({ message: own, status: 'triaged' });
      await stores.inbox.add(['later'], own);
      const member = message(INBOX_BUCKET_MS + 3, { kind: 'thread', thread: 'club' });
      const left = message(2 * INBOX_BUCKET_MS + 2, { kind: 'thread', thread: 'club' });
      await stores.messages.insert({ message: member, status: 'triaged' });
      await stores.messages.insert({ message: left, status: 'triaged' });
      await stores.timelines.post(threadTimeline('club'), member, at(INBOX_BUCKET_MS + 3));
      await stores.timelines.leave('club', 'later', at(2 * INBOX_BUCKET_MS));
      await stores.timelines.post(threadTimeline('club'), left, at(2 * INBOX_BUCKET_MS + 2));
      assert.equal(new Set(broadcasts.map((m) => inboxBucket(m.id))).size, 3);

      const [b0, b1, b2, b3, b4, b5] = broadcasts.map((m) => m.id) as [string, string, string, string, string, string];
      const listed = async (uid: string, query: Parameters<Stores['inbox']['list']>[1]) => (await stores.inbox.list(uid, query)).map((item) => item.message.id);
      const paged = async (uid: string, size: number, unreadOnly = false) => {
        const seen: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await listed(uid, { limit: size, unreadOnly, ...(before ? { before } : {}) });
          seen.push(...page);
          if (page.length < size) return seen;
          before = page.at(-1);
        }
      };
      assert.deepEqual(await paged('early', 4), [b5, b4, b3, b2, b1, b0]);
      const later = [b5, b4, member.id, own.id, b3];
      for (const size of [1, 2, 10]) assert.deepEqual(await paged('later', size), later, `pages of ${size}`);
      assert.deepEqual(await listed('later', { limit: 10, since: b2 }), later);
      assert.deepEqual(await listed('later', { limit: 10, since: own.id, before: b5 }), [b4, member.id]);
      assert.equal(await stores.inbox.get('later', left.id), undefined, 'posted after leaving');
      assert.equal(await stores.inbox.get('later', b2), undefined, 'posted before the user was created');

      assert.deepEqual(await stores.inbox.mark('later', [b4, member.id, b2], 'read', at(3 * INBOX_BUCKET_MS)), [b4, member.id]);
      for (const size of [1, 3]) assert.deepEqual(await paged('later', size, true), [b5, own.id, b3], `unread pages of ${size}`);
      assert.equal(await stores.inbox.countUnread('later'), 3);
      assert.equal(await stores.inbox.countUnread('early'), 6);
    } finally {
      await stores.close();
    }
  });

  it('unread floors: countUnread writes the first unread post time of a timeline and counts from there; erasure removes it', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const start = Date.now() - 3 * INBOX_BUCKET_MS;
      await stores.users.ensure('floors', start - 1);
      const posts: Message[] = [];
      for (const offset of [0, 1, INBOX_BUCKET_MS, INBOX_BUCKET_MS + 1, 2 * INBOX_BUCKET_MS, 2 * INBOX_BUCKET_MS + 1]) {
        const broadcast = makeMessage({ id: uuidv7({ msecs: start + offset }), target: { kind: 'everyone' } });
        await stores.messages.insert({ message: broadcast, status: 'triaged' });
        await stores.timelines.post('everyone', broadcast, start + offset);
        posts.push(broadcast);
      }
      await stores.inbox.mark(
        'floors',
        posts.slice(0, 3).map((m) => m.id),
        'read',
        Date.now(),
      );
      const floorOf = async () =>
        (await admin.execute(`SELECT floor_at FROM ${keyspace}.timeline_floors WHERE uid = 'floors' AND timeline = 'everyone'`)).first()?.get('floor_at');
      assert.equal(await floorOf(), undefined);
      assert.equal(await stores.inbox.countUnread('floors'), 3);
      assert.equal(Number(await floorOf()), start + INBOX_BUCKET_MS + 1, 'the first unread entry');
      assert.equal(await stores.inbox.countUnread('floors'), 3, 'from the floor: the same');
      assert.deepEqual(
        (await stores.inbox.list('floors', { limit: 10, unreadOnly: true })).map((item) => item.message.id),
        posts
          .slice(3)
          .map((m) => m.id)
          .reverse(),
      );
      await stores.erasure.eraseUser('floors', Date.now());
      assert.equal(await floorOf(), undefined);
    } finally {
      await stores.close();
    }
  });

  it('a join interrupted after the membership write is repaired by the next join; a leave repeated keeps the first time', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const post = async (at: number) => {
        const message = makeMessage({ target: { kind: 'thread', thread: 'rep' } });
        await stores.messages.insert({ message, status: 'triaged' });
        await stores.timelines.post(threadTimeline('rep'), message, at);
        return message.id;
      };
      const listed = async () => (await stores.inbox.list('u', { limit: 10 })).map((item) => item.message.id);
      // What a crash between winning the membership and opening the period leaves behind.
      await admin.execute(`INSERT INTO ${keyspace}.thread_members (thread, uid, joined_at) VALUES ('rep', 'u', 1000) IF NOT EXISTS`);
      const during = await post(1_500);
      assert.deepEqual(await listed(), []);
      assert.equal(await stores.timelines.join('rep', 'u', 2_000), false, 'already a member');
      assert.deepEqual(await stores.timelines.threadsOf('u', 10), [{ thread: 'rep', uid: 'u', joinedAt: 1_000 }]);
      assert.deepEqual(await listed(), [during]);

      // What a crash between closing the period and removing the member leaves behind.
      await admin.execute(`UPDATE ${keyspace}.thread_periods SET left_at = 3000 WHERE uid = 'u' AND thread = 'rep' AND joined_at = 1000`);
      const afterClose = await post(3_500);
      assert.equal(await stores.timelines.leave('rep', 'u', 4_000), true);
      assert.deepEqual(await stores.timelines.members('rep', 10), []);
      assert.equal(await stores.inbox.get('u', afterClose), undefined, 'the period ended at the first leave');
      assert.deepEqual(await listed(), [during]);
    } finally {
      await stores.close();
    }
  });

  it('a claimed idempotency key whose message was never stored is taken over', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const lost = makeMessage();
      // What a crash between claiming the key and writing the message leaves behind.
      await admin.execute(
        `INSERT INTO ${keyspace}.idempotency_keys (sender, key, message_id, body_hash, expires_at, claimed_at) VALUES (?, ?, ?, ?, ?, ?)`,
        [lost.sender, 'crashed', lost.id, 'h', lost.createdAt + 60_000, Date.now() - ABANDONED_CLAIM_MS - 1],
        { prepare: true },
      );
      const retry = makeMessage({ createdAt: lost.createdAt + 1 });
      assert.deepEqual(await stores.messages.insert({ message: retry, status: 'accepted' }, { key: 'crashed', bodyHash: 'h', ttlMs: 60_000 }), {
        inserted: true,
      });
      const replay = makeMessage({ createdAt: lost.createdAt + 2 });
      assert.deepEqual(await stores.messages.insert({ message: replay, status: 'accepted' }, { key: 'crashed', bodyHash: 'h', ttlMs: 60_000 }), {
        inserted: false,
        existingId: retry.id,
        bodyHash: 'h',
      });
    } finally {
      await stores.close();
    }
  });

  it('concurrent writers: one request wins an idempotency key, and receipts never move backwards', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const createdAt = Date.now();
      const contenders = Array.from({ length: 5 }, (_, i) => makeMessage({ createdAt: createdAt + i }));
      const results = await Promise.all(
        contenders.map((message) => stores.messages.insert({ message, status: 'accepted' }, { key: 'race', bodyHash: 'h', ttlMs: 60_000 })),
      );
      const winners = contenders.filter((_, i) => results[i]?.inserted === true);
      assert.equal(winners.length, 1);
      for (const result of results) {
        if (!result.inserted) assert.deepEqual(result, { inserted: false, existingId: winners[0]?.id, bodyHash: 'h' });
      }

      const messageIds = Array.from({ length: 20 }, () => uuidv7());
      await Promise.all(
        messageIds.flatMap((messageId) => [
          stores.receipts.record([
            { messageId, uid: 'r', channel: 'webpush', state: 'queued', at: 1 },
            { messageId, uid: 'r', channel: 'webpush', state: 'sent', at: 2 },
          ]),
          stores.receipts.record([{ messageId, uid: 'r', channel: 'webpush', state: 'delivered', at: 3 }]),
        ]),
      );
      const states = await Promise.all(messageIds.map(async (messageId) => (await stores.receipts.forMessage(messageId, 'r'))[0]?.state));
      assert.deepEqual(
        states,
        messageIds.map(() => 'delivered'),
      );
      assert.deepEqual(await stores.receipts.queued('webpush', 100), []);
    } finally {
      await stores.close();
    }
  });

  it('unfinished rows are spread over the shards, listed across them oldest first, and removed with the status that moves a message on', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const messages = Array.from({ length: 40 }, () => makeMessage());
      // Inserted newest first: the order must come from the ids, across shards.
      for (const message of [...messages].reverse()) await stores.messages.insert({ message, status: 'accepted' });
      const rows = await admin.execute(`SELECT shard, id FROM ${keyspace}.messages_unfinished`);
      assert.equal(rows.rowLength, messages.length);
      for (const row of rows.rows) assert.equal(row.get('shard'), unfinishedShard(row.get('id') as string));
      assert.ok(new Set(rows.rows.map((row) => row.get('shard'))).size > 1, 'more than one shard in use');
      assert.ok(rows.rows.every((row) => (row.get('shard') as number) >= 0 && (row.get('shard') as number) < UNFINISHED_SHARDS));

      const paged: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await stores.messages.unfinished(7, after);
        paged.push(...page.map((s) => s.message.id));
        if (page.length < 7) break;
        after = paged.at(-1);
      }
      assert.deepEqual(
        paged,
        messages.map((m) => m.id),
      );
      for (const message of messages) await stores.messages.setStatus(message.id, 'triaged');
      assert.equal((await admin.execute(`SELECT COUNT(*) AS n FROM ${keyspace}.messages_unfinished`)).first()?.get('n').toNumber(), 0);
      assert.deepEqual(await stores.messages.unfinished(10), []);
    } finally {
      await stores.close();
    }
  });

  it("a socket delivery's sent is one plain write, below any other write of its receipt", async () => {
    await truncateAll();
    const stores = await open();
    try {
      const messageId = uuidv7();
      await stores.receipts.record([{ messageId, uid: 'w', channel: 'realtime', state: 'sent', at: 1 }], { neverQueued: true });
      await stores.receipts.record([{ messageId, uid: 'w', channel: 'realtime', state: 'delivered', at: 2 }]);
      const row = (
        await admin.execute(
          `SELECT state, writetime(state) AS written FROM ${keyspace}.delivery_receipts WHERE message_id = ? AND uid = 'w' AND channel = 'realtime' AND device = ''`,
          [messageId],
          { prepare: true },
        )
      ).first();
      assert.equal(row?.get('state'), 'delivered');
      assert.ok(Number(row?.get('written')) > Date.now() * 1000 - 60_000_000, 'the delivered receipt is written at the real time');
      const events = await admin.execute(`SELECT state FROM ${keyspace}.delivery_receipt_events WHERE message_id = ?`, [messageId], { prepare: true });
      assert.deepEqual(events.rows.map((r) => r.get('state')).sort(), ['delivered', 'sent']);
      const indexed = await admin.execute(`SELECT message_id FROM ${keyspace}.receipt_messages_by_user WHERE uid = 'w'`);
      assert.deepEqual(
        indexed.rows.map((r) => r.get('message_id')),
        [messageId],
      );
    } finally {
      await stores.close();
    }
  });

  it('reachable users: migration 8 indexes the users with an address or a device already there; pageReachable walks the index, shard by shard', async () => {
    await truncateAll();
    // As a keyspace before migration 8 holds them: users with and without an address, device rows.
    const at = Date.now();
    const insertUser = `INSERT INTO ${keyspace}.users (uid, email, phone, attributes, created_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?)`;
    for (let i = 0; i < 30; i++) await admin.execute(insertUser, [`plain-${i}`, null, null, at, at], { prepare: true });
    await admin.execute(insertUser, ['with-email', 'e@example.test', null, at, at], { prepare: true });
    await admin.execute(insertUser, ['with-phone', null, '+15550100', at, at], { prepare: true });
    await admin.execute(insertUser, ['with-device', null, null, at, at], { prepare: true });
    await admin.execute(
      `INSERT INTO ${keyspace}.devices_by_user (uid, kind, push_token, id, created_at) VALUES ('with-device', 'ios', ?, 'dev-1', ?)`,
      ['ab'.repeat(32), at],
      { prepare: true },
    );
    await admin.execute(`DELETE FROM ${keyspace}.schema_migrations WHERE version = 8`);
    assert.deepEqual(await migrateCassandra(admin, keyspace), ['reachable users']);
    const rows = await admin.execute(`SELECT shard, uid FROM ${keyspace}.reachable_users`);
    assert.deepEqual(rows.rows.map((row) => row.get('uid') as string).sort(), ['with-device', 'with-email', 'with-phone']);
    for (const row of rows.rows) assert.equal(row.get('shard'), reachableShard(row.get('uid') as string));

    const stores = await open();
    try {
      // Added by the stores from now on: a device, an address; many, so the walk crosses shards.
      for (let i = 0; i < 40; i++) await stores.users.put({ uid: `mailed-${i}`, email: `m${i}@example.test` }, at);
      const walked = await walkReachable(stores.users, 7);
      const expected = ['with-device', 'with-email', 'with-phone', ...Array.from({ length: 40 }, (_, i) => `mailed-${i}`)];
      assert.deepEqual([...walked].sort(), expected.sort(), 'each reachable user once, no other');
      const order = walked.map((uid) => [reachableShard(uid), uid] as const);
      const sorted = [...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
      assert.deepEqual(order, sorted, 'by shard, then uid');
    } finally {
      await stores.close();
    }
  });

  it('recipient facts: migration 9 copies the users, preferences, devices and erasures already there', async () => {
    await truncateAll();
    // As a keyspace before migration 9 holds them.
    const at = Date.now();
    const insertUser = `INSERT INTO ${keyspace}.users (uid, email, phone, locale, timezone, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '{}', ?, ?)`;
    await admin.execute(insertUser, ['full', 'f@example.test', '+15550101', 'fr', 'Europe/Paris', at, at], { prepare: true });
    await admin.execute(insertUser, ['plain', null, null, null, null, at, at], { prepare: true });
    await admin.execute(`INSERT INTO ${keyspace}.preferences (uid, body) VALUES ('full', ?)`, [JSON.stringify({ channels: { sms: false }, categories: {} })], {
      prepare: true,
    });
    const insertDevice = `INSERT INTO ${keyspace}.devices_by_user (uid, kind, push_token, id, keys, expiration_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;
    await admin.execute(insertDevice, ['full', 'ios', 'ab'.repeat(32), 'dev-ios', null, null, at], { prepare: true });
    await admin.execute(insertDevice, ['full', 'web', 'https://push.example.test/1', 'dev-web', JSON.stringify({ p256dh: 'k', auth: 'a' }), null, at + 1], {
      prepare: true,
    });
    await admin.execute(`INSERT INTO ${keyspace}.erased_users (uid, erased_at) VALUES ('erased', ?)`, [at], { prepare: true });
    await admin.execute(`DELETE FROM ${keyspace}.schema_migrations WHERE version = 9`);
    assert.deepEqual(await migrateCassandra(admin, keyspace), ['recipient facts']);

    const stores = await open();
    try {
      const facts = await stores.recipients.factsOf(['full', 'plain', 'erased', 'none']);
      assert.deepEqual(facts.get('full'), {
        contact: { email: 'f@example.test', phone: '+15550101', locale: 'fr', timezone: 'Europe/Paris' },
        preferences: { channels: { sms: false }, categories: {} },
        devices: await stores.devices.listByUser('full'),
      });
      assert.deepEqual(
        facts.get('full')?.devices.map((d) => d.id),
        ['dev-ios', 'dev-web'],
      );
      const nothing = { contact: {}, preferences: { channels: {}, categories: {} }, devices: [] };
      assert.deepEqual(facts.get('plain'), nothing);
      assert.deepEqual(facts.get('none'), nothing);
      assert.deepEqual(facts.get('erased'), { ...nothing, erasedAt: at });
    } finally {
      await stores.close();
    }
  });

  it('recipient facts: a change made while the backfill runs wins over the older copy it then writes', async () => {
    await truncateAll();
    const stores = await open();
    try {
      await stores.users.put({ uid: 'erased-meanwhile', email: 'old@example.test' }, 1);
      await stores.users.put({ uid: 'changed-meanwhile', phone: '+15550102' }, 1);
      await admin.execute(`TRUNCATE ${keyspace}.recipient_facts`);
      // The backfill reads the users table, then waits while the stores change what it read.
      const session = cqlSession(admin);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let snapshotted: () => void = () => {};
      const snapshot = new Promise<void>((resolve) => {
        snapshotted = resolve;
      });
      let first = true;
      const gated: MigrationCql = {
        executeMany: (query, params) => session.concurrently(params.map((p) => ({ query, params: p }))),
        async *rows(query) {
          const rows: Array<{ get(name: string): unknown }> = [];
          for await (const row of session.rows(query, [], 1000)) rows.push(row);
          if (first) {
            first = false;
            snapshotted();
            await gate;
          }
          yield* rows;
        },
      };
      const backfill = backfillRecipientFacts(gated, keyspace);
      await snapshot;
      await stores.erasure.eraseUser('erased-meanwhile', Date.now());
      await stores.users.put({ uid: 'changed-meanwhile', phone: '+15550103' }, 2);
      release();
      await backfill;
      const facts = await stores.recipients.factsOf(['erased-meanwhile', 'changed-meanwhile']);
      assert.deepEqual(facts.get('erased-meanwhile')?.contact, {}, 'the erased address is not copied back');
      assert.equal(typeof facts.get('erased-meanwhile')?.erasedAt, 'number');
      assert.deepEqual(facts.get('changed-meanwhile')?.contact, { phone: '+15550103' }, 'the newer phone stays');
    } finally {
      await stores.close();
    }
  });

  it('unfinished and queued drop rows that no longer match the state they mirror', async () => {
    await truncateAll();
    const stores = await open();
    try {
      const message = makeMessage();
      await stores.messages.insert({ message, status: 'triaged' });
      // Rows a crash or a lost delete could leave behind.
      await admin.execute(`INSERT INTO ${keyspace}.messages_unfinished (shard, id) VALUES (0, ?)`, [message.id], { prepare: true });
      await stores.receipts.record([{ messageId: message.id, uid: 'q', channel: 'email', state: 'sent', at: 1 }]);
      await admin.execute(
        `INSERT INTO ${keyspace}.delivery_receipts_queued (channel, message_id, uid, device, at) VALUES ('email', ?, 'q', '', 1)`,
        [message.id],
        {
          prepare: true,
        },
      );

      assert.deepEqual(await stores.messages.unfinished(10), []);
      assert.deepEqual(await stores.receipts.queued('email', 10), []);
      const left = await Promise.all(
        ['messages_unfinished', 'delivery_receipts_queued'].map(async (table) =>
          (await admin.execute(`SELECT COUNT(*) AS n FROM ${keyspace}.${table}`)).first()?.get('n'),
        ),
      );
      assert.deepEqual(left.map(Number), [0, 0]);
    } finally {
      await stores.close();
    }
  });
});
