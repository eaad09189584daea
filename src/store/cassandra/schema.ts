/**
 * The Cassandra schema of the stores, designed from the queries Herald makes (src/pipeline,
 * src/api/routes). One table per query shape; denormalised copies are kept in step by the
 * store that owns them. All ids are text (UUIDv7 from src/ids.ts); times are epoch ms bigints.
 *
 * Messages (message-store.ts)
 *  - messages (id) → body (the Message as JSON), status, cursor, recalled_at.
 *      get(id); insert writes without reading (at the message's own write timestamp, so a
 *      replay never undoes a later change: message-store.ts); setStatus(id) updates one row,
 *      reading first only for an id this process has not inserted or read lately. A row written
 *      only by inbox.add (body, no status) reads as 'triaged', as in the SQLite adapter.
 *  - messages_unfinished (shard, id ↑) → nothing else; shard = unfinishedShard(id), one of
 *      UNFINISHED_SHARDS (a hash of the id; 0 for every row written before the sharding).
 *      unfinished(limit, after): `WHERE shard = ? AND id > ? LIMIT ?` on every shard, merged by
 *      id, oldest first (recovery at start-up: the only reader). Holds only messages currently
 *      'accepted' — written in the same batch as the accepted message (or before a scheduled one
 *      becomes accepted), deleted in the same batch as the status that moves it on — so the
 *      shards stay small, and the tombstone each message leaves is spread over UNFINISHED_SHARDS
 *      partitions instead of piling up in one. A row left behind by a crash or a lost delete is
 *      harmless: `unfinished` checks each id against `messages` and removes rows that are no
 *      longer accepted — which is also why gc_grace_seconds can be short (1 h).
 *  - messages_scheduled (shard = 0, id ↓) → nothing else.
 *      scheduled(limit, before): `WHERE shard = 0 AND id < ? LIMIT ?`, newest id first (the admin
 *      console's list). Holds messages 'scheduled' when written: a row is written with a
 *      scheduled insert and removed when setStatus makes the message accepted. As with messages_unfinished, a row
 *      left behind is harmless: `scheduled` checks each id against `messages` and removes it.
 *  - messages_recalled (shard = 0, id ↑): the recalled ids (migration 5). recall() adds one;
 *      the inbox's countUnread reads the ids at or above the user's oldest bucket (recalls are
 *      rare admin actions: a small partition).
 *  - idempotency_keys ((sender, key)) → message_id, body_hash, expires_at, claimed_at; USING TTL.
 *      A key is claimed with `INSERT … IF NOT EXISTS` (Paxos, LOCAL_SERIAL), so two concurrent
 *      requests with one key never both win; an expired key (by message time, as the port
 *      says) is taken over with `UPDATE … IF message_id = <the old holder>`. The row's TTL is
 *      only garbage collection: it lasts until expires_at (wall clock) plus a grace period.
 *
 * Inbox (inbox-store.ts)
 *  - inbox ((uid, bucket), message_id ↓) → delivered_at, read_at, archived_at, topic, replaced_by
 *      (the last three since migration 5: archive and topic collapse, inbox-store.ts).
 *      bucket = the 30-day period of the id's leading 48 bits (the UUIDv7 time), so bucket order
 *      agrees with id order and one user's partition grows by at most 30 days of messages.
 *      list(uid, since/before/unreadOnly): newest bucket first, a keyset range on message_id
 *      inside each bucket (`message_id < before`, `> since`), unread filtered while paging.
 *      get / mark (uid, id): the bucket is computed from the id, so both are point reads.
 *  - inbox_buckets (uid, bucket ↓): which buckets a user has, so list never probes empty
 *      periods (one small partition per user: one row per 30 days).
 *  - inbox_topics ((uid, topic), message_id ↓): the entries of one topic in one inbox, so add
 *      finds the newest entry of a topic with one read (migration 5).
 *
 * Receipts (receipt-store.ts), keyed per device since migration 2: device is '' for a
 * channel-wide receipt. (Migration 1's receipts, receipt_events and receipts_queued, keyed
 * without a device, are no longer read or written; their rows are not copied.)
 *  - delivery_receipts (message_id, uid ↑, channel ↑, device ↑) → state, reason, at: the
 *      current state. forMessage(messageId[, uid]) is one partition (paged). Changes are
 *      compare-and-set (`IF NOT EXISTS` / `IF state = <read state>`), so concurrent writers
 *      never move a receipt backwards: receipt-rule.ts decides, Paxos serialises. A `queued` or
 *      `sent` receipt (usually a key's first) tries `IF NOT EXISTS` without reading first.
 *  - delivery_receipt_events (message_id, uid ↑, channel ↑, device ↑, state ↑) → reason, at:
 *      every accepted change (history; reports are Search's, fed by the pipeline).
 *  - delivery_receipts_queued (channel, message_id ↑, uid ↑, device ↑) → at: receipts currently
 *      'queued' on a channel, for queued(channel, limit, after) — `(message_id, uid, device) >
 *      (?, ?, ?)` keyset. Bounded: a row is written before the receipt becomes queued and deleted
 *      once it leaves queued; rows left behind are checked against `delivery_receipts` and
 *      removed by `queued` (gc_grace 1 h).
 *
 * Users (user-store.ts)
 *  - users (uid) → email, phone, locale, timezone, attributes (JSON), created_at, updated_at.
 *      get / getMany (parallel point reads); ensure creates with `IF NOT EXISTS`; put updates
 *      only the columns given. page(after, limit) walks the table in partition-token order:
 *      `WHERE token(uid) > token(?) LIMIT ?` — a range scan, cheap at any depth (see port.ts:
 *      the page order is the adapter's, resumable from the last uid).
 *  - preferences (uid) → body (JSON).
 *  - reachable_users (shard, uid ↑), since migration 8: the users who have held a device, an
 *      email or a phone; pageReachable walks it by shard then uid (user-store.ts).
 *
 * Devices (device-store.ts)
 *  - devices_by_token ((kind, push_token)) → id, uid, keys, expiration_time, created_at: who holds
 *      a token (register, removeToken; at most one holder per (kind, token)). `token` is a
 *      reserved word in CQL, hence push_token.
 *  - devices_by_user (uid, kind ↑, push_token ↑) → id, keys, expiration_time, created_at:
 *      listByUser(uid), remove(uid, kind, token). Both copies change in one logged batch.
 *
 * Erasure (erase-user.ts), since migration 3
 *  - erased_users (uid) → erased_at: when the uid was last erased; triage skips it for messages
 *      addressed before then (src/pipeline/erasure.ts; triage reads its copy in
 *      recipient_facts). Read with `uid IN ?` by deliveries that waited on the bus.
 *  - receipt_messages_by_user (uid, message_id ↑): the messages a user has receipts for, written
 *      by the ReceiptStore beside the receipts (once per (uid, message) per process lately), so
 *      an erasure finds the user's receipts without scanning delivery_receipts (partitioned by
 *      message). One partition per user, deleted by the erasure.
 *
 * Recipient facts (recipient-store.ts), since migration 9
 *  - recipient_facts (uid) → email, phone, locale, timezone, preferences (JSON), devices (map of
 *      device JSON by kind and token), erased_at: a copy of what triage plans a delivery with,
 *      written by the UserStore, DeviceStore and ErasureStore in the requests that change the
 *      tables above, so a page of recipients is one `uid IN ?` read.
 *
 * Timelines (timeline-store.ts, timeline-view.ts, inbox-store.ts), since migration 6: fan-out on
 * read — a broadcast or thread message is one row, read by every user who sees it.
 *  - timeline_entries ((timeline, bucket), message_id ↓) → posted_at, topic, replaced_by,
 *      replaced_at. timeline = 'everyone' or 'thread:<name>'; bucket = inboxBucket(message_id),
 *      as the inbox, so a scan newest first by id is a keyset range per bucket. posted_at (kept
 *      from the first post: `IF NOT EXISTS`) decides who sees it; it need not agree with the id's
 *      time (a scheduled message is posted later than its id says).
 *  - timeline_buckets (timeline, bucket ↓, posted_bucket ↑): which id buckets a timeline has, and
 *      in which 30-day periods of posted_at their entries were posted (postedBucket), so a user's
 *      scan skips the buckets nothing of which was posted while they saw the timeline. A few rows
 *      per 30 days per timeline.
 *  - timeline_topics ((timeline, topic), message_id ↓) → posted_at: topic collapse, as
 *      inbox_topics, with the post time that replaced_at is computed from.
 *  - timeline_floors (uid, timeline ↑) → floor_at, set_at: where the user's unread count starts in
 *      each timeline (migration 10; src/store/unread-floors.ts), written by countUnread; and
 *      timeline_restores (timeline) → restored_until: until when those floors wait, after a
 *      restore of a topic.
 *  - timeline_state (uid, message_id ↑) → delivered_at, read_at, archived_at: a user's state of a
 *      timeline message, written only by `mark` (sparse: no row until the user has one). Read
 *      with `message_id IN ?` for the candidates of a page, or one row.
 *  - thread_members (thread, uid ↑) → joined_at: the current members (members, and the
 *      authority on membership: join / leave are conditional writes on it).
 *  - thread_periods (uid, thread ↑, joined_at ↑) → left_at: every membership period of a user
 *      (left_at null while a member): what the user sees of threads, and threadsOf (the open ones).
 *
 * Migrations are append-only: never edit a released one, add the next version. Every
 * statement is `IF NOT EXISTS`, so a migration interrupted half-way simply runs again.
 */
import type { CassandraMigration } from './migration.js';
import { backfillRecipientFacts } from './recipient-store.js';

/** Tables holding store data (everything but schema_migrations): what tests truncate. */
export const STORE_TABLES = [
  'messages',
  'messages_unfinished',
  'messages_scheduled',
  'messages_recalled',
  'idempotency_keys',
  'inbox',
  'inbox_buckets',
  'inbox_topics',
  'delivery_receipts',
  'delivery_receipt_events',
  'delivery_receipts_queued',
  'users',
  'preferences',
  'devices_by_token',
  'devices_by_user',
  'erased_users',
  'receipt_messages_by_user',
  'timeline_entries',
  'timeline_buckets',
  'timeline_topics',
  'timeline_state',
  'thread_members',
  'thread_periods',
  'receipt_tallies',
  'reachable_users',
  'recipient_facts',
  'timeline_floors',
  'timeline_restores',
] as const;

/** Migration 1's receipt tables, keyed without a device: kept (never dropped), no longer used. */
export const LEGACY_TABLES = ['receipts', 'receipt_events', 'receipts_queued'] as const;

export const CASSANDRA_MIGRATIONS: readonly CassandraMigration[] = [
  {
    version: 1,
    name: 'stores',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.messages (
         id text PRIMARY KEY, body text, status text, cursor text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.messages_unfinished (
         shard int, id text, PRIMARY KEY (shard, id))
       WITH CLUSTERING ORDER BY (id ASC) AND gc_grace_seconds = 3600`,
      `CREATE TABLE IF NOT EXISTS ${ks}.idempotency_keys (
         sender text, key text, message_id text, body_hash text, expires_at bigint, claimed_at bigint,
         PRIMARY KEY ((sender, key)))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.inbox (
         uid text, bucket int, message_id text, delivered_at bigint, read_at bigint,
         PRIMARY KEY ((uid, bucket), message_id))
       WITH CLUSTERING ORDER BY (message_id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.inbox_buckets (
         uid text, bucket int, PRIMARY KEY (uid, bucket))
       WITH CLUSTERING ORDER BY (bucket DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.receipts (
         message_id text, uid text, channel text, state text, reason text, at bigint,
         PRIMARY KEY (message_id, uid, channel))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.receipt_events (
         message_id text, uid text, channel text, state text, reason text, at bigint,
         PRIMARY KEY (message_id, uid, channel, state))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.receipts_queued (
         channel text, message_id text, uid text, at bigint,
         PRIMARY KEY (channel, message_id, uid))
       WITH CLUSTERING ORDER BY (message_id ASC, uid ASC) AND gc_grace_seconds = 3600`,
      `CREATE TABLE IF NOT EXISTS ${ks}.users (
         uid text PRIMARY KEY, email text, phone text, locale text, timezone text, attributes text,
         created_at bigint, updated_at bigint)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.preferences (
         uid text PRIMARY KEY, body text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.devices_by_token (
         kind text, push_token text, id text, uid text, keys text, expiration_time bigint, created_at bigint,
         PRIMARY KEY ((kind, push_token)))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.devices_by_user (
         uid text, kind text, push_token text, id text, keys text, expiration_time bigint, created_at bigint,
         PRIMARY KEY (uid, kind, push_token))`,
    ],
  },
  {
    version: 2,
    name: 'receipts per device',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.delivery_receipts (
         message_id text, uid text, channel text, device text, state text, reason text, at bigint,
         PRIMARY KEY (message_id, uid, channel, device))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.delivery_receipt_events (
         message_id text, uid text, channel text, device text, state text, reason text, at bigint,
         PRIMARY KEY (message_id, uid, channel, device, state))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.delivery_receipts_queued (
         channel text, message_id text, uid text, device text, at bigint,
         PRIMARY KEY (channel, message_id, uid, device))
       WITH CLUSTERING ORDER BY (message_id ASC, uid ASC, device ASC) AND gc_grace_seconds = 3600`,
    ],
  },
  {
    version: 3,
    name: 'erasure',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.erased_users (
         uid text PRIMARY KEY, erased_at bigint)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.receipt_messages_by_user (
         uid text, message_id text, PRIMARY KEY (uid, message_id))`,
    ],
  },
  {
    version: 4,
    name: 'scheduled messages',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.messages_scheduled (
         shard int, id text, PRIMARY KEY (shard, id))
       WITH CLUSTERING ORDER BY (id DESC) AND gc_grace_seconds = 3600`,
    ],
  },
  {
    version: 5,
    name: 'inbox-visibility',
    statements: (ks) => [
      `ALTER TABLE ${ks}.messages ADD IF NOT EXISTS recalled_at bigint`,
      `CREATE TABLE IF NOT EXISTS ${ks}.messages_recalled (
         shard int, id text, PRIMARY KEY (shard, id))`,
      `ALTER TABLE ${ks}.inbox ADD IF NOT EXISTS (archived_at bigint, topic text, replaced_by text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.inbox_topics (
         uid text, topic text, message_id text, PRIMARY KEY ((uid, topic), message_id))
       WITH CLUSTERING ORDER BY (message_id DESC)`,
    ],
  },
  {
    version: 6,
    name: 'timelines',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_entries (
         timeline text, bucket int, message_id text, posted_at bigint, topic text, replaced_by text, replaced_at bigint,
         PRIMARY KEY ((timeline, bucket), message_id))
       WITH CLUSTERING ORDER BY (message_id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_buckets (
         timeline text, bucket int, posted_bucket int, PRIMARY KEY (timeline, bucket, posted_bucket))
       WITH CLUSTERING ORDER BY (bucket DESC, posted_bucket ASC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_topics (
         timeline text, topic text, message_id text, posted_at bigint, PRIMARY KEY ((timeline, topic), message_id))
       WITH CLUSTERING ORDER BY (message_id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_state (
         uid text, message_id text, delivered_at bigint, read_at bigint, archived_at bigint, PRIMARY KEY (uid, message_id))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.thread_members (
         thread text, uid text, joined_at bigint, PRIMARY KEY (thread, uid))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.thread_periods (
         uid text, thread text, joined_at bigint, left_at bigint, PRIMARY KEY (uid, thread, joined_at))`,
    ],
  },
  {
    version: 7,
    name: 'receipt tallies',
    statements: (ks) => [
      // Counts standing in for per-user receipts of a timeline message (ReceiptStore.tally), one row per source.
      `CREATE TABLE IF NOT EXISTS ${ks}.receipt_tallies (
         message_id text, channel text, state text, source text, count bigint, at bigint,
         PRIMARY KEY (message_id, channel, state, source))`,
    ],
  },
  {
    version: 8,
    name: 'reachable users',
    statements: (ks) => [
      // The users who have held a device, an email address or a phone number (UserStore.pageReachable),
      // spread over REACHABLE_SHARDS partitions by a hash of the uid.
      `CREATE TABLE IF NOT EXISTS ${ks}.reachable_users (shard int, uid text, PRIMARY KEY (shard, uid))`,
    ],
    async backfill(cql, ks) {
      const insert = `INSERT INTO ${ks}.reachable_users (shard, uid) VALUES (?, ?)`;
      let pending: unknown[][] = [];
      const index = async (uid: string, flush = false) => {
        if (uid !== '') pending.push([reachableShard(uid), uid]);
        if (pending.length >= 500 || (flush && pending.length > 0)) {
          await cql.executeMany(insert, pending);
          pending = [];
        }
      };
      const given = (value: unknown) => typeof value === 'string' && value !== '';
      for await (const row of cql.rows(`SELECT uid, email, phone FROM ${ks}.users`)) {
        if (given(row.get('email')) || given(row.get('phone'))) await index(row.get('uid') as string);
      }
      for await (const row of cql.rows(`SELECT DISTINCT uid FROM ${ks}.devices_by_user`)) await index(row.get('uid') as string);
      await index('', true);
    },
  },
  {
    version: 9,
    name: 'recipient facts',
    statements: (ks) => [
      // What triage plans with, one row per uid, kept in step by the stores owning it (recipient-store.ts).
      `CREATE TABLE IF NOT EXISTS ${ks}.recipient_facts (
         uid text PRIMARY KEY, email text, phone text, locale text, timezone text, preferences text,
         devices map<text, text>, erased_at bigint)`,
    ],
    backfill: backfillRecipientFacts,
  },
  {
    version: 10,
    name: 'unread floors',
    statements: (ks) => [
      // Where a user's unread count starts in each timeline (src/store/unread-floors.ts): a cache countUnread writes.
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_floors (
         uid text, timeline text, floor_at bigint, set_at bigint, PRIMARY KEY (uid, timeline))`,
      // Per timeline, until when floors are not used: a restore of a topic lists an older entry again.
      `CREATE TABLE IF NOT EXISTS ${ks}.timeline_restores (timeline text PRIMARY KEY, restored_until bigint)`,
    ],
  },
];

/** Partitions of messages_unfinished (shard 0 … UNFINISHED_SHARDS - 1). Changing it strands rows in shards no longer listed. */
export const UNFINISHED_SHARDS = 16;

/** FNV-1a of `key`, modulo `shards`: a partition that never changes for the key. */
function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/** The messages_unfinished partition of a message id. */
export const unfinishedShard = (id: string): number => shardOf(id, UNFINISHED_SHARDS);

/** Partitions of reachable_users (shard 0 … REACHABLE_SHARDS - 1). Changing it strands rows in shards no longer listed. */
export const REACHABLE_SHARDS = 16;

/** The reachable_users partition of a uid. */
export const reachableShard = (uid: string): number => shardOf(uid, REACHABLE_SHARDS);
/** The fixed partition of messages_scheduled. */
export const SCHEDULED_SHARD = 0;
/** The fixed partition of messages_recalled. */
export const RECALLED_SHARD = 0;

/** Width of an inbox bucket. */
export const INBOX_BUCKET_MS = 30 * 24 * 3600 * 1000;

/**
 * The inbox bucket of a message id: its leading 48 bits (the time of a UUIDv7) divided into
 * 30-day periods. Monotonic in the id's text order for any lower-case hex UUID, which is what
 * keeps keyset paging correct across buckets; an id without a hex prefix falls in bucket 0.
 */
export function inboxBucket(messageId: string): number {
  const prefix = messageId.slice(0, 8) + messageId.slice(9, 13);
  if (!/^[0-9a-f]{12}$/.test(prefix)) return 0;
  return Math.floor(Number.parseInt(prefix, 16) / INBOX_BUCKET_MS);
}

/** The 30-day period of a post time (timeline_buckets.posted_bucket): the same scale as inboxBucket. */
export const postedBucket = (at: number): number => Math.floor(at / INBOX_BUCKET_MS);

/** The smallest id text in `bucket` (a prefix sorts before every id that starts with it): a lower bound for id ranges. */
export function bucketStart(bucket: number): string {
  if (bucket <= 0) return '';
  const hex = (bucket * INBOX_BUCKET_MS).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}
