/**
 * The one ordered list of schema migrations for every embedded table: stores, search (FTS5)
 * and the embedded scheduler's jobs. Migrations are append-only: never edit one that has been
 * released; add the next version instead. `migrate` in database.ts applies them.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'stores',
    sql: `
      -- Messages as JSON, with the columns queries need. Status drives crash recovery.
      CREATE TABLE messages (
        id         TEXT    PRIMARY KEY,
        sender     TEXT    NOT NULL,
        status     TEXT    NOT NULL,
        cursor     TEXT,
        urgency    TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        body       TEXT    NOT NULL
      );
      CREATE INDEX messages_accepted ON messages (id) WHERE status = 'accepted';

      -- (sender, key) -> first message; reusable once expired.
      CREATE TABLE idempotency_keys (
        sender     TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        message_id TEXT    NOT NULL,
        body_hash  TEXT    NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (sender, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

      -- One row per (recipient, message); the message itself lives in messages.
      CREATE TABLE inbox (
        uid          TEXT    NOT NULL,
        message_id   TEXT    NOT NULL,
        delivered_at INTEGER,
        read_at      INTEGER,
        PRIMARY KEY (uid, message_id)
      ) WITHOUT ROWID;

      -- Current receipt state per (message, recipient, channel).
      CREATE TABLE receipts (
        message_id TEXT    NOT NULL,
        uid        TEXT    NOT NULL,
        channel    TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        reason     TEXT,
        at         INTEGER NOT NULL,
        PRIMARY KEY (message_id, uid, channel)
      ) WITHOUT ROWID;
      CREATE INDEX receipts_queued ON receipts (channel, message_id, uid) WHERE state = 'queued';

      -- Every accepted receipt change (one per state reached), for reports.
      CREATE TABLE receipt_events (
        message_id TEXT    NOT NULL,
        uid        TEXT    NOT NULL,
        channel    TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        reason     TEXT,
        at         INTEGER NOT NULL,
        urgency    TEXT,
        PRIMARY KEY (message_id, uid, channel, state)
      ) WITHOUT ROWID;
      CREATE INDEX receipt_events_at ON receipt_events (at);

      CREATE TABLE users (
        uid        TEXT    PRIMARY KEY,
        email      TEXT,
        phone      TEXT,
        locale     TEXT,
        timezone   TEXT,
        attributes TEXT    NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Scalar attributes (and the scalar elements of list attributes), normalised for audiences.
      -- value is type-tagged: 's:text', 'n:42', 'b:true'.
      CREATE TABLE user_attributes (
        name  TEXT NOT NULL,
        value TEXT NOT NULL,
        uid   TEXT NOT NULL,
        PRIMARY KEY (name, value, uid)
      ) WITHOUT ROWID;
      CREATE INDEX user_attributes_uid ON user_attributes (uid);

      CREATE TABLE preferences (
        uid  TEXT PRIMARY KEY,
        body TEXT NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE devices (
        id              TEXT    PRIMARY KEY,
        uid             TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        token           TEXT    NOT NULL,
        keys            TEXT,
        expiration_time INTEGER,
        created_at      INTEGER NOT NULL,
        UNIQUE (kind, token)
      );
      CREATE INDEX devices_uid ON devices (uid, kind);
    `,
  },
  {
    version: 2,
    name: 'search',
    sql: `
      -- Messages known to search; seq is the FTS rowid. The message body stays in messages.
      CREATE TABLE message_index (
        seq        INTEGER PRIMARY KEY,
        id         TEXT    NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      -- Recipients named by user / users targets, for the uid filter.
      CREATE TABLE message_index_uids (
        uid TEXT    NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (uid, seq)
      ) WITHOUT ROWID;
      CREATE VIRTUAL TABLE message_fts USING fts5(
        title, msg, content = '', tokenize = 'unicode61 remove_diacritics 2'
      );
    `,
  },
  {
    version: 3,
    name: 'scheduler',
    sql: `
      -- generation changes on every schedule, so finishing a run never removes a replacement.
      CREATE TABLE scheduler_jobs (
        id         TEXT    PRIMARY KEY,
        kind       TEXT    NOT NULL,
        run_at     INTEGER NOT NULL,
        payload    TEXT    NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        generation TEXT    NOT NULL
      );
      CREATE INDEX scheduler_jobs_due ON scheduler_jobs (run_at, id);
    `,
  },
  {
    version: 4,
    name: 'receipts per device',
    sql: `
      -- Receipts are keyed per device: (message, recipient, channel, device), device '' for a
      -- channel-wide receipt (inbox, realtime, email, SMS, skips). SQLite cannot change a
      -- primary key, so both tables are rebuilt. Existing rows become channel-wide, except
      -- queued push receipts, which become one queued receipt per device of the user on that
      -- channel (what triage would write now), so recovery sends each to its own device.
      CREATE TABLE receipts_v4 (
        message_id TEXT    NOT NULL,
        uid        TEXT    NOT NULL,
        channel    TEXT    NOT NULL,
        device     TEXT    NOT NULL DEFAULT '',
        state      TEXT    NOT NULL,
        reason     TEXT,
        at         INTEGER NOT NULL,
        PRIMARY KEY (message_id, uid, channel, device)
      ) WITHOUT ROWID;
      INSERT INTO receipts_v4 (message_id, uid, channel, device, state, reason, at)
        SELECT r.message_id, r.uid, r.channel, coalesce(d.id, ''), r.state, r.reason, r.at
        FROM receipts r
        LEFT JOIN devices d
          ON r.state = 'queued' AND d.uid = r.uid
         AND d.kind = CASE r.channel WHEN 'webpush' THEN 'web' WHEN 'apns' THEN 'ios' WHEN 'fcm' THEN 'android' END;
      DROP TABLE receipts;
      ALTER TABLE receipts_v4 RENAME TO receipts;
      CREATE INDEX receipts_queued ON receipts (channel, message_id, uid, device) WHERE state = 'queued';

      CREATE TABLE receipt_events_v4 (
        message_id TEXT    NOT NULL,
        uid        TEXT    NOT NULL,
        channel    TEXT    NOT NULL,
        device     TEXT    NOT NULL DEFAULT '',
        state      TEXT    NOT NULL,
        reason     TEXT,
        at         INTEGER NOT NULL,
        urgency    TEXT,
        PRIMARY KEY (message_id, uid, channel, device, state)
      ) WITHOUT ROWID;
      INSERT INTO receipt_events_v4 (message_id, uid, channel, device, state, reason, at, urgency)
        SELECT message_id, uid, channel, '', state, reason, at, urgency FROM receipt_events;
      DROP TABLE receipt_events;
      ALTER TABLE receipt_events_v4 RENAME TO receipt_events;
      CREATE INDEX receipt_events_at ON receipt_events (at);
    `,
  },
  {
    version: 5,
    name: 'erasure',
    sql: `
      -- The right to erasure (src/store/sqlite/erase-user.ts): a user's receipts are found by
      -- uid, an index range instead of a scan of every receipt.
      CREATE INDEX receipts_uid ON receipts (uid);
      CREATE INDEX receipt_events_uid ON receipt_events (uid);
      -- Erased uids and when: triage skips them for messages addressed before that time.
      CREATE TABLE erased_users (
        uid       TEXT    PRIMARY KEY,
        erased_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'scheduled messages',
    sql: `
      -- The admin console lists the messages waiting for their time, newest first, by keyset.
      CREATE INDEX messages_scheduled ON messages (id) WHERE status = 'scheduled';
    `,
  },
  {
    version: 7,
    name: 'inbox-visibility',
    sql: `
      -- Archive and topic collapse (src/store/sqlite/inbox-store.ts): an entry is listed unless
      -- archived or replaced by a newer entry of the same topic. The topic is copied onto the
      -- entry so the newest entry of a topic is found in the user's own index range.
      ALTER TABLE inbox ADD COLUMN archived_at INTEGER;
      ALTER TABLE inbox ADD COLUMN topic TEXT;
      ALTER TABLE inbox ADD COLUMN replaced_by TEXT;
      UPDATE inbox SET topic = (SELECT json_extract(m.body, '$.topic') FROM messages m WHERE m.id = inbox.message_id);
      CREATE INDEX inbox_topic ON inbox (uid, topic, message_id) WHERE topic IS NOT NULL;
      UPDATE inbox SET replaced_by = (
        SELECT max(o.message_id) FROM inbox o WHERE o.uid = inbox.uid AND o.topic = inbox.topic AND o.message_id > inbox.message_id)
      WHERE topic IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'timelines',
    sql: `
      -- Timelines (src/store/sqlite/timeline-store.ts): a broadcast or thread message is one row
      -- here, whoever sees it. posted_at decides who sees it (users created by then; thread
      -- members at the time); replaced_by / replaced_at: the newer message of the same topic in
      -- this timeline and when it was posted.
      CREATE TABLE timeline_entries (
        timeline    TEXT    NOT NULL,
        message_id  TEXT    NOT NULL,
        posted_at   INTEGER NOT NULL,
        topic       TEXT,
        replaced_by TEXT,
        replaced_at INTEGER,
        PRIMARY KEY (timeline, message_id)
      ) WITHOUT ROWID;
      CREATE INDEX timeline_entries_message ON timeline_entries (message_id);
      CREATE INDEX timeline_topic ON timeline_entries (timeline, topic, message_id) WHERE topic IS NOT NULL;

      -- A user's state of a timeline message, written only once it has one (sparse).
      CREATE TABLE timeline_state (
        uid          TEXT    NOT NULL,
        message_id   TEXT    NOT NULL,
        delivered_at INTEGER,
        read_at      INTEGER,
        archived_at  INTEGER,
        PRIMARY KEY (uid, message_id)
      ) WITHOUT ROWID;

      -- Current thread members (expansion, paged by uid) and every membership period of a user
      -- (what they see: posts from joined_at until left_at).
      CREATE TABLE thread_members (
        thread    TEXT    NOT NULL,
        uid       TEXT    NOT NULL,
        joined_at INTEGER NOT NULL,
        PRIMARY KEY (thread, uid)
      ) WITHOUT ROWID;
      CREATE INDEX thread_members_uid ON thread_members (uid, thread);
      CREATE TABLE thread_periods (
        uid       TEXT    NOT NULL,
        thread    TEXT    NOT NULL,
        joined_at INTEGER NOT NULL,
        left_at   INTEGER,
        PRIMARY KEY (uid, thread, joined_at)
      ) WITHOUT ROWID;

      -- Broadcast expansion visits only the users reachable outside the app (UserStore.pageReachable).
      CREATE INDEX users_addressed ON users (uid) WHERE email IS NOT NULL OR phone IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'receipt tallies',
    sql: `
      -- Counts standing in for per-user receipts of a timeline message (ReceiptStore.tally): the
      -- sockets each gateway's publish reached. One row per source, its latest count.
      CREATE TABLE receipt_tallies (
        message_id TEXT    NOT NULL,
        channel    TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        source     TEXT    NOT NULL,
        count      INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (message_id, channel, state, source)
      ) WITHOUT ROWID;
      CREATE INDEX receipt_tallies_at ON receipt_tallies (at);
    `,
  },
  {
    version: 10,
    name: 'unread floors',
    sql: `
      -- Where a user's unread count starts in a timeline (src/store/unread-floors.ts): a cache
      -- countUnread writes; set_at: when that count began.
      CREATE TABLE timeline_floors (
        uid      TEXT    NOT NULL,
        timeline TEXT    NOT NULL,
        floor_at INTEGER NOT NULL,
        set_at   INTEGER NOT NULL,
        PRIMARY KEY (uid, timeline)
      ) WITHOUT ROWID;
      -- Per timeline, until when floors are not used: a restore of a topic lists an older entry again.
      CREATE TABLE timeline_restores (
        timeline       TEXT    NOT NULL PRIMARY KEY,
        restored_until INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- Counting from a floor reads the entries posted since, not every entry of the timeline.
      CREATE INDEX timeline_entries_posted ON timeline_entries (timeline, posted_at);
    `,
  },
  {
    version: 11,
    name: 'late posts',
    sql: `
      -- An entry posted more than an hour after its message was created (a scheduled send, a
      -- late triage): a page of the inbox walks a timeline's ids back only to a little before the
      -- user's window, and finds these apart, by post time (src/store/sqlite/inbox-store.ts).
      ALTER TABLE timeline_entries ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
      UPDATE timeline_entries SET late = 1
        WHERE posted_at - (SELECT m.created_at FROM messages m WHERE m.id = timeline_entries.message_id) > 3600000;
      CREATE INDEX timeline_entries_late ON timeline_entries (timeline, posted_at) WHERE late = 1;
    `,
  },
];
