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
];
