/** Escalation of unread messages to nearline channels, and its cancellation by a read. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { eventually, startInProcess } from '../helpers/herald.js';

describe('fallback to email', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess({ HERALD_FALLBACK_EMAIL_DELAY: '1', HERALD_DIGEST_INTERVAL: '2' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  const outbox = () => path.join(h.dataDir, 'outbox');
  const emailsFor = (messageId: string) => (fs.existsSync(outbox()) ? fs.readdirSync(outbox()).filter((f) => f.startsWith(messageId)) : []);
  const scheduledJobs = async () => Number(/herald_scheduled_jobs (\d+)/.exec((await h.api('GET', '/metrics')).body as string)?.[1]);

  it('emails an unread normal-urgency message after the delay', async () => {
    await h.api('PUT', '/api/v1/users/una', { token: admin, body: { email: 'una@example.com' } });
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'did you see this?', uid: 'una', opts: { title: 'Ping' } } });
    await eventually(async () => emailsFor(res.body.id).length === 1, 15_000, 'fallback email');
    const mail = await simpleParser(fs.readFileSync(path.join(outbox(), emailsFor(res.body.id)[0] as string)));
    assert.equal(mail.subject, 'Ping');
    const detail = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${res.body.id}`, { token: admin });
        return r.body.receipts.some((x: any) => x.channel === 'email' && x.state === 'sent') ? r : undefined;
      },
      10_000,
      'sent receipt',
    );
    assert.equal(detail.status, 200);
  });

  it('never emails what was read: a read cancels the pending fallback', async () => {
    await h.api('PUT', '/api/v1/users/vic', { token: admin, body: { email: 'vic@example.com' } });
    const before = await scheduledJobs();
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'read me live', uid: 'vic' } });
    const token = await h.token('vic');
    await eventually(async () => (await h.api('GET', `/api/v1/messages/${res.body.id}`, { token })).status === 200, 10_000, 'in inbox');
    assert.equal(await scheduledJobs(), before + 1, 'a fallback is pending');
    assert.equal((await h.api('POST', '/api/v1/receipts', { token, body: { ids: [res.body.id], state: 'read' } })).status, 204);
    assert.equal(await scheduledJobs(), before, 'the read cancelled it');
    assert.deepEqual(emailsFor(res.body.id), []);
  });

  it('plans no fallback for explicit channels or very-low urgency', async () => {
    await h.api('PUT', '/api/v1/users/wes', { token: admin, body: { email: 'wes@example.com' } });
    const before = await scheduledJobs();
    const token = await h.token('wes');
    const a = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'explicit', uid: 'wes', opts: { channels: ['realtime'] } } });
    const b = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'ad', uid: 'wes', opts: { urgency: 'very-low' } } });
    for (const id of [a.body.id, b.body.id])
      await eventually(async () => (await h.api('GET', `/api/v1/messages/${id}`, { token })).status === 200, 10_000, 'in inbox');
    assert.equal(await scheduledJobs(), before);
  });

  it('sends one digest of the period’s unread low-urgency messages', async () => {
    await h.api('PUT', '/api/v1/users/xia', { token: admin, body: { email: 'xia@example.com' } });
    const token = await h.token('xia');
    const sent: string[] = [];
    for (const msg of ['topic update 1', 'topic update 2', 'topic update 3']) {
      sent.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid: 'xia', opts: { urgency: 'low' } } })).body.id);
    }
    // The second one is read before the digest goes out: it is left out.
    await eventually(async () => (await h.api('GET', `/api/v1/messages/${sent[1]}`, { token })).status === 200, 10_000, 'in inbox');
    await h.api('POST', '/api/v1/receipts', { token, body: { ids: [sent[1]], state: 'read' } });
    const receiptsOf = async (id: string) => (await h.api('GET', `/api/v1/messages/${id}`, { token: admin })).body.receipts;
    const emailed = await eventually(
      async () => {
        const r = await receiptsOf(sent[0] as string);
        return r.find((x: any) => x.channel === 'email' && x.state === 'sent');
      },
      15_000,
      'digest sent',
    );
    assert.equal(emailed.reason, 'digest');
    assert.match(emailed.detail, /^digest:/);
    const digestId = emailed.detail.slice('digest:'.length);
    const file = fs.readdirSync(outbox()).find((f) => f.startsWith(digestId)) as string;
    const mail = await simpleParser(fs.readFileSync(path.join(outbox(), file)));
    assert.equal(mail.subject, 'Your unread notifications');
    const text = mail.text ?? '';
    const both = [text.includes('topic update 1'), text.includes('topic update 2'), text.includes('topic update 3')];
    // Messages of one period share one digest; the read one is not in it.
    assert.equal(both[1], false);
    assert.ok(both[0]);
    assert.ok((await receiptsOf(sent[1] as string)).every((x: any) => x.channel !== 'email'));
  });
});
