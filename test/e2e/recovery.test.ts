/**
 * Start-up recovery, made deterministic: the state a crash leaves between "stored" and
 * "published" (or between "queued" and "sent") is written directly, then Herald starts on it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildMessage } from '../../src/exchange/message.js';
import { newId } from '../../src/ids.js';
import { migrate, openDatabase } from '../../src/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { eventually, startInProcess, tempDataDir } from '../helpers/herald.js';

describe('start-up recovery', () => {
  it('triages messages that were stored but never published, and sends queued emails', async () => {
    const dataDir = tempDataDir();
    const db = openDatabase(path.join(dataDir, 'herald.db'));
    migrate(db);
    const stores = createSqliteStores(db);
    const now = Date.now();
    await stores.users.put({ uid: 'rita', email: 'rita@example.com' }, now);
    const orphan = buildMessage({
      id: newId(),
      sender: 'ops',
      target: { kind: 'users', uids: ['rita', 'sam'] },
      msg: 'stored, then crash',
      opts: undefined,
      now,
    });
    await stores.messages.insert({ message: orphan, status: 'accepted' });
    // A message whose triage queued an email, then crashed before the email went out.
    const mail = buildMessage({ id: newId(), sender: 'ops', target: { kind: 'user', uid: 'rita' }, msg: 'queued email', opts: { channels: ['email'] }, now });
    await stores.messages.insert({ message: mail, status: 'triaged' });
    await stores.inbox.add(['rita'], mail);
    await stores.receipts.record([{ messageId: mail.id, uid: 'rita', channel: 'email', state: 'queued', at: now }]);
    db.close();

    const h = await startInProcess({ HERALD_DATA_DIR: dataDir });
    try {
      for (const uid of ['rita', 'sam']) {
        const token = await h.token(uid);
        await eventually(async () => (await h.api('GET', `/api/v1/messages/${orphan.id}`, { token })).status === 200, 10_000, `${uid} has the orphan`);
      }
      const outbox = path.join(dataDir, 'outbox');
      await eventually(async () => fs.existsSync(outbox) && fs.readdirSync(outbox).some((f) => f.startsWith(mail.id)), 10_000, 'queued email sent');
      const admin = await h.token('ops', { admin: true });
      // Stored but never indexed (the crash came first): search catches up at start-up.
      const found = await h.api('GET', '/api/v1/messages/search?q=crash', { token: admin });
      assert.deepEqual(
        found.body.messages.map((m: { id: string }) => m.id),
        [orphan.id],
      );
      const detail = await h.api('GET', `/api/v1/messages/${mail.id}`, { token: admin });
      assert.deepEqual(
        detail.body.receipts.map((r: any) => [r.channel, r.state]),
        [['email', 'sent']],
      );
    } finally {
      await h.stop();
    }
    // A second start finds nothing left to do: the email is not written (sent) again.
    const eml = fs.readdirSync(path.join(dataDir, 'outbox')).find((f) => f.startsWith(mail.id)) as string;
    const writtenAt = fs.statSync(path.join(dataDir, 'outbox', eml)).mtimeMs;
    const again = await startInProcess({ HERALD_DATA_DIR: dataDir });
    try {
      const metrics = await eventually(
        async () => {
          const text = (await again.api('GET', '/metrics')).body as string;
          return /herald_queue_depth\{subject="herald\.deliver\.email"\} [1-9]/.test(text) ? undefined : text;
        },
        10_000,
        'email queue drained',
      );
      assert.doesNotMatch(metrics, /herald_deliveries_total\{channel="email"/);
      assert.equal(fs.statSync(path.join(dataDir, 'outbox', eml)).mtimeMs, writtenAt);
      const admin = await again.token('ops', { admin: true });
      assert.equal((await again.api('GET', `/api/v1/messages/${orphan.id}`, { token: admin })).body.status, 'triaged');
    } finally {
      await again.stop();
    }
  });
});
