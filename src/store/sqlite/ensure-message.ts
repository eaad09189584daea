/**
 * Stores a message's row when the MessageStore does not have it yet, with status 'triaged' so
 * recovery ignores it: the inbox and the timelines hold entries of messages that another
 * writer (or none, in tests and migrations) inserted. A row already there is left as it is.
 */
import type { Message } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';

export function prepareEnsureMessage(db: SqliteDatabase): (message: Message) => void {
  const statement = db.prepare(
    `INSERT INTO messages (id, sender, status, cursor, urgency, created_at, body)
     VALUES (@id, @sender, 'triaged', NULL, @urgency, @createdAt, @body)
     ON CONFLICT (id) DO NOTHING`,
  );
  return (message) => {
    statement.run({ id: message.id, sender: message.sender, urgency: message.urgency, createdAt: message.createdAt, body: JSON.stringify(message) });
  };
}
