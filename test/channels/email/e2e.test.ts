/** Email through the REST API: to the outbox as .eml files when no SMTP server is configured. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { eventually, startInProcess } from '../../helpers/herald.js';

describe('email channel (outbox)', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    h = await startInProcess();
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  const outboxFile = (messageId: string) =>
    eventually(
      async () => {
        const dir = path.join(h.dataDir, 'outbox');
        const name = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.startsWith(messageId) && f.endsWith('.eml')) : undefined;
        return name ? path.join(dir, name) : undefined;
      },
      10_000,
      `outbox file for ${messageId}`,
    );

  it('writes an .eml with HTML and text parts for a user with an address', async () => {
    assert.equal((await h.api('PUT', '/api/v1/users/alice', { token: admin, body: { email: 'alice@example.com' } })).status, 200);
    const res = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { msg: 'Your order <b>shipped</b>', uid: 'alice', opts: { channels: ['email'], title: 'Order update', link: 'https://shop.example/o/1' } },
    });
    assert.equal(res.status, 202);
    const mail = await simpleParser(fs.readFileSync(await outboxFile(res.body.id)));
    assert.equal(mail.subject, 'Order update');
    assert.equal((mail.to as { text: string }).text, 'alice@example.com');
    assert.match(mail.text ?? '', /Your order <b>shipped<\/b>/);
    assert.ok(typeof mail.html === 'string' && mail.html.includes('Your order &lt;b&gt;shipped&lt;/b&gt;'), 'message text is escaped in HTML');
    assert.ok((mail.html as string).includes('https://shop.example/o/1'));

    const token = await h.token('alice');
    const detail = await eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${res.body.id}`, { token });
        return r.body.receipts?.some((x: any) => x.channel === 'email' && x.state === 'sent') ? r : undefined;
      },
      10_000,
      'email sent receipt',
    );
    assert.equal(detail.status, 200);
  });

  it('renders a named template with vars and an explicit subject', async () => {
    await h.api('PUT', '/api/v1/users/bob', { token: admin, body: { email: 'bob@example.com' } });
    const res = await h.api('POST', '/api/v1/send', {
      token: admin,
      body: { msg: 'fallback text', uid: 'bob', opts: { channels: ['email'], email: { subject: 'Welcome, Bob', template: 'default', vars: { name: 'Bob' } } } },
    });
    const mail = await simpleParser(fs.readFileSync(await outboxFile(res.body.id)));
    assert.equal(mail.subject, 'Welcome, Bob');
    assert.match(mail.text ?? '', /fallback text/);
  });

  it('records a suppressed receipt for a user without an address, and sends nothing', async () => {
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'nowhere', uid: 'carol', opts: { channels: ['email'] } } });
    const detail = await h.triaged(res.body.id, admin);
    assert.deepEqual(
      detail.body.receipts.map((r: any) => [r.channel, r.state, r.reason]),
      [['email', 'suppressed', 'no-email-address']],
    );
    const dir = path.join(h.dataDir, 'outbox');
    assert.ok(!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => f.startsWith(res.body.id)));
  });

  it('skips email when the user switched it off', async () => {
    await h.api('PUT', '/api/v1/users/dan', { token: admin, body: { email: 'dan@example.com' } });
    await h.api('PUT', '/api/v1/preferences', { token: await h.token('dan'), body: { channels: { email: false } } });
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'no mail', uid: 'dan', opts: { channels: ['email', 'realtime'] } } });
    const detail = await h.triaged(res.body.id, admin);
    assert.deepEqual(
      detail.body.receipts.map((r: any) => [r.channel, r.state, r.reason]),
      [['email', 'suppressed', 'preference']],
    );
  });
});
