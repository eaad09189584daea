/**
 * Fallback and digest receipts are recorded like every receipt (src/pipeline/receipts.ts):
 * counted in herald_receipts_total and reported under their message's urgency. A digest is a
 * delivery like any other (src/pipeline/digest.ts): its id is derived from (user, period), so a
 * digest job that runs again after a crash sends nothing twice.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createEmbeddedScheduler } from '../../schedulers/embedded/scheduler.js';
import { digestJobId } from '../../src/exchange/fallback.js';
import type { Message } from '../../src/exchange/types.js';
import { digestMessageId } from '../../src/pipeline/digest.js';
import { DIGEST } from '../../src/pipeline/fallback.js';
import { openDatabase } from '../../src/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';
import { eventually, startInProcess, tempDataDir } from '../helpers/herald.js';

const ENV = { HERALD_FALLBACK_EMAIL_DELAY: '1', HERALD_DIGEST_INTERVAL: '2' };

type Herald = Awaited<ReturnType<typeof startInProcess>>;

const metric = async (h: Herald, line: string): Promise<number> => {
  const text = (await h.api('GET', '/metrics')).body as string;
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
};

const receiptsOf = async (h: Herald, admin: string, id: string) => (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts;

/** Sends two low-urgency messages to `uid` and waits for the digest listing them; answers the digest's id. */
async function digestSent(h: Herald, admin: string, uid: string): Promise<{ digestId: string; ids: string[] }> {
  await h.api('PUT', `/api/v1/users/${uid}`, { token: admin, body: { email: `${uid}@example.com` } });
  const ids: string[] = [];
  for (const msg of ['digest me 1', 'digest me 2']) {
    ids.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid, opts: { urgency: 'low' } } })).body.id);
  }
  const sent = await eventually(
    async () => {
      const all = await Promise.all(ids.map((id) => receiptsOf(h, admin, id)));
      const emailed = all.map((receipts) => receipts.find((r: any) => r.channel === 'email' && r.state === 'sent'));
      return emailed.every(Boolean) ? emailed : undefined;
    },
    15_000,
    'digest sent',
  );
  const details = new Set(sent.map((r: any) => r.detail as string));
  assert.equal(details.size, 1, 'one digest lists both');
  const [detail] = details as Set<string>;
  assert.match(detail as string, /^digest:/);
  return { digestId: (detail as string).slice('digest:'.length), ids };
}

describe('fallback and digest receipts', () => {
  it('are counted and reported under their message urgency', async () => {
    const h = await startInProcess(ENV);
    try {
      const admin = await h.token('ops', { admin: true });
      await h.api('PUT', '/api/v1/users/fay', { token: admin, body: { email: 'fay@example.com' } });
      const normal = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'unread, so emailed', uid: 'fay' } });
      await digestSent(h, admin, 'gus');
      await eventually(
        async () => (await receiptsOf(h, admin, normal.body.id)).some((r: any) => r.channel === 'email' && r.state === 'sent'),
        15_000,
        'fallback email sent',
      );

      // Queued: the fallback and the digest. Sent: the fallback email, the two digested messages and the digest itself.
      assert.equal(await metric(h, 'herald_receipts_total{channel="email",state="queued"}'), 2);
      assert.equal(await metric(h, 'herald_receipts_total{channel="email",state="sent"}'), 4);

      const byUrgency = await eventually(
        async () => {
          const r = await h.api('GET', '/api/v1/reports?groupBy=urgency', { token: admin });
          const keys = r.body.rows.map((row: any) => row.key);
          return keys.includes('low') && keys.includes('normal') ? r : undefined;
        },
        10_000,
        'report rows',
      );
      assert.deepEqual(
        byUrgency.body.rows.filter((row: any) => row.key === 'unknown'),
        [],
        'every receipt is indexed with its message urgency',
      );
      const byChannel = await h.api('GET', '/api/v1/reports?groupBy=channel', { token: admin });
      // fallback: queued + sent; digest: queued + sent, and its two messages sent.
      assert.equal(byChannel.body.rows.find((row: any) => row.key === 'email')?.count, 6);
    } finally {
      await h.stop();
    }
  });

  it('sends a digest once when its job runs again after a crash', async () => {
    const dataDir = tempDataDir();
    const first = await startInProcess({ ...ENV, HERALD_DATA_DIR: dataDir });
    let digest: { digestId: string; ids: string[] };
    let bucket: number;
    try {
      const admin = await first.token('ops', { admin: true });
      digest = await digestSent(first, admin, 'hal');
      const createdAt = Date.parse((await first.api('GET', `/api/v1/messages/${digest.ids[0]}`, { token: admin })).body.createdAt);
      bucket = Math.floor(createdAt / 2_000);
    } finally {
      await first.stop();
    }
    const outbox = path.join(dataDir, 'outbox');
    const mails = () => fs.readdirSync(outbox).map((f) => [f, fs.statSync(path.join(outbox, f)).mtimeMs]);
    const before = mails();
    assert.equal(before.filter(([f]) => String(f).startsWith(digest.digestId)).length, 1);

    // The crash came after the digest was sent and before its job was done: the job is still stored.
    const db = openDatabase(path.join(dataDir, 'herald.db'));
    await createEmbeddedScheduler(db).schedule({ id: digestJobId('hal', bucket), kind: DIGEST, runAt: Date.now(), payload: { uid: 'hal', bucket } });
    db.close();

    const second = await startInProcess({ ...ENV, HERALD_DATA_DIR: dataDir });
    try {
      await eventually(
        async () => Number(/herald_scheduled_jobs (\d+)/.exec((await second.api('GET', '/metrics')).body as string)?.[1]) === 0,
        10_000,
        'digest job run',
      );
      // Time for the delivery worker to take the republished digest.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await metric(second, 'herald_deliveries_total{channel="email",result="sent"}'), 0, 'not sent again');
      assert.deepEqual(mails(), before);
    } finally {
      await second.stop();
    }
  });

  it('sends at the next start a digest that a crash left queued: stored, not yet sent', async () => {
    const dataDir = tempDataDir();
    // A digest period of an hour: no digest fires by itself during the test.
    const env = { ...ENV, HERALD_DIGEST_INTERVAL: '3600', HERALD_DATA_DIR: dataDir };
    const first = await startInProcess(env);
    const ids: string[] = [];
    try {
      const admin = await first.token('ops', { admin: true });
      await first.api('PUT', '/api/v1/users/ivy', { token: admin, body: { email: 'ivy@example.com' } });
      for (const msg of ['low 1', 'low 2'])
        ids.push((await first.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: 'ivy', opts: { urgency: 'low' } } })).body.id);
    } finally {
      await first.stop();
    }

    // What sendDigest leaves when the process dies right after publishing: the digest message and its queued receipt.
    const db = openDatabase(path.join(dataDir, 'herald.db'));
    const stores = createSqliteStores(db);
    const now = Date.now();
    const digest: Message = {
      id: digestMessageId('ivy', 1),
      sender: 'herald',
      target: { kind: 'user', uid: 'ivy' },
      msg: 'You have 2 unread notifications.',
      title: 'Your unread notifications',
      urgency: 'low',
      createdAt: now,
      email: { template: 'digest', vars: { items: [] } },
      digestOf: ids,
    };
    await stores.messages.insert({ message: digest, status: 'triaged' });
    await stores.receipts.record([{ messageId: digest.id, uid: 'ivy', channel: 'email', state: 'queued', reason: 'digest', at: now }]);
    await stores.close();
    db.close();

    const second = await startInProcess(env);
    try {
      const admin = await second.token('ops', { admin: true });
      const listed = await eventually(
        async () => {
          const all = await Promise.all(ids.map((id) => receiptsOf(second, admin, id)));
          const emailed = all.map((receipts) => receipts.find((r: any) => r.channel === 'email' && r.state === 'sent'));
          return emailed.every(Boolean) ? emailed : undefined;
        },
        15_000,
        'the recovered digest sent',
      );
      assert.deepEqual(
        listed.map((r: any) => r.detail),
        [`digest:${digest.id}`, `digest:${digest.id}`],
      );
      const outbox = fs.readdirSync(path.join(dataDir, 'outbox'));
      assert.equal(outbox.filter((f) => f.startsWith(digest.id)).length, 1, 'one digest email');
    } finally {
      await second.stop();
    }
  });
});
