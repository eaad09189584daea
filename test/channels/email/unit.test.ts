/**
 * The email channel, end to end on loopback: outbox mode writes real `.eml` files (read back
 * with mailparser), SMTP mode talks to the smtp-server fake. Covers templates, escaping, subject
 * precedence, idempotent Message-IDs and file names, and classification of every failure kind.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ParsedMail } from 'mailparser';
import { simpleParser } from 'mailparser';
import type { EmailChannel } from '../../../channels/email/email-channel.js';
import { createEmailChannel } from '../../../channels/email/email-channel.js';
import type { Delivery, DeliveryResult } from '../../../channels/port.js';
import { loadConfig } from '../../../src/config.js';
import type { Message } from '../../../src/exchange/types.js';
import type { SmtpFake } from '../../fakes/smtp.js';
import { startSmtpFake } from '../../fakes/smtp.js';
import { channelTestMessage } from '../../helpers/messages.js';

const FROM = 'Herald <noreply@herald.test>';
const roots: string[] = [];

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-email-'));
  roots.push(dir);
  return dir;
};

after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

const message = channelTestMessage;

const delivery = (msg: Message, email: string | undefined, attempt = 1, uid = `u-${randomUUID().slice(0, 8)}`): Delivery => ({
  message: msg,
  recipient: email === undefined ? { uid } : { uid, email },
  channel: 'email',
  attempt,
});

const addressOf = (field: ParsedMail['to'] | ParsedMail['from']): string[] => {
  const list = Array.isArray(field) ? field : field ? [field] : [];
  return list.flatMap((a) => a.value.map((v) => v.address ?? ''));
};

/** A templates folder holding `files` (name → content). */
const templatesDir = (files: Record<string, string>): string => {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
};

const readEml = async (dir: string, msg: Message, uid: string): Promise<ParsedMail> => simpleParser(readFileSync(join(dir, `${msg.id}.${uid}.eml`)));

describe('email channel, outbox mode', () => {
  it('writes a parseable .eml with subject, from, to, escaped html and plain text parts', async () => {
    const outboxDir = tempDir();
    const channel = createEmailChannel({ outboxDir, from: FROM });
    const msg = message({ title: 'Shipping update', msg: 'Hello <script>alert("x")</script> & bye', link: 'https://shop.test/o/1?a=1&b=2' });
    const d = delivery(msg, 'ann@example.test');
    const [result] = await channel.deliver([d]);
    assert.equal(result?.type, 'sent');
    const mail = await readEml(outboxDir, msg, d.recipient.uid);
    assert.equal(mail.subject, 'Shipping update');
    assert.deepEqual(addressOf(mail.from), ['noreply@herald.test']);
    assert.deepEqual(addressOf(mail.to), ['ann@example.test']);
    assert.equal(mail.messageId, result?.type === 'sent' ? result.providerId : undefined);
    assert.equal(mail.headers.get('x-herald-message-id'), msg.id);
    const html = String(mail.html);
    assert.ok(html.includes('Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; bye'), html);
    assert.ok(!html.includes('<script>'), 'unescaped script in html');
    assert.ok(html.includes('href="https://shop.test/o/1?a&#x3D;1&amp;b&#x3D;2"'), html);
    assert.ok(html.includes('Shipping update'));
    assert.ok(mail.text?.includes('Hello <script>alert("x")</script> & bye'), mail.text);
    assert.ok(mail.text?.includes('https://shop.test/o/1?a=1&b=2'));
    assert.ok(readFileSync(join(outboxDir, `${msg.id}.${d.recipient.uid}.eml`), 'latin1').includes('\r\n'), 'CRLF line ends');
    await channel.close();
  });

  it('overwrites on redelivery: one file, the same Message-ID, no temporary files left', async () => {
    const outboxDir = tempDir();
    const channel = createEmailChannel({ outboxDir, from: FROM });
    const msg = message();
    const d = delivery(msg, 'bob@example.test');
    const [first] = await channel.deliver([d]);
    const [second] = await channel.deliver([{ ...d, attempt: 2 }]);
    assert.deepEqual(first, second);
    assert.deepEqual(readdirSync(outboxDir), [`${msg.id}.${d.recipient.uid}.eml`]);
    const other = await channel.deliver([delivery(msg, 'cy@example.test')]);
    assert.equal(other[0]?.type, 'sent');
    assert.notDeepEqual(other[0], first, 'another recipient gets another Message-ID');
    assert.equal(readdirSync(outboxDir).length, 2);
    await channel.close();
  });

  it('keeps hostile uids inside the outbox folder', async () => {
    const root = tempDir();
    const outboxDir = join(root, 'outbox');
    const channel = createEmailChannel({ outboxDir, from: FROM });
    const msg = message();
    const [result] = await channel.deliver([delivery(msg, 'x@example.test', 1, '../../escape')]);
    assert.equal(result?.type, 'sent');
    assert.deepEqual(readdirSync(root), ['outbox']);
    assert.deepEqual(readdirSync(outboxDir), [`${msg.id}.${encodeURIComponent('../../escape')}.eml`]);
    await channel.close();
  });

  it('renders a chosen template with its vars, escaping them in html only', async () => {
    const outboxDir = tempDir();
    const dir = templatesDir({
      'receipt.subject.hbs': 'Order {{order.id}} for {{name}}',
      'receipt.html.hbs': '<p>Hi {{name}}, order {{order.id}} totals {{vars.total}}.</p><p>{{msg}}</p><p>{{data.ref}} {{uid}}</p>',
      'receipt.txt.hbs': 'Hi {{name}}, order {{order.id}} totals {{vars.total}}. {{msg}} {{data.ref}}',
    });
    const channel = createEmailChannel({ outboxDir, from: FROM, templatesDir: dir });
    assert.equal(channel.hasTemplate('receipt'), true);
    assert.equal(channel.hasTemplate('default'), true);
    assert.equal(channel.hasTemplate('nope'), false);
    const msg = message({
      msg: 'Thanks!',
      data: { ref: 'R-7' },
      email: { template: 'receipt', vars: { name: '<b>Ann</b>', order: { id: 42 }, total: '€9.99', msg: 'spoofed' } },
    });
    const d = delivery(msg, 'ann@example.test');
    const [result] = await channel.deliver([d]);
    assert.equal(result?.type, 'sent');
    const mail = await readEml(outboxDir, msg, d.recipient.uid);
    assert.equal(mail.subject, 'Order 42 for <b>Ann</b>');
    assert.equal(mail.html, `<p>Hi &lt;b&gt;Ann&lt;/b&gt;, order 42 totals €9.99.</p><p>Thanks!</p><p>R-7 ${d.recipient.uid}</p>`);
    assert.equal(mail.text?.trim(), 'Hi <b>Ann</b>, order 42 totals €9.99. Thanks! R-7');
    await channel.close();
  });

  it('chooses the subject: email.subject, then the subject template, then title, then 78 chars of msg', async () => {
    const outboxDir = tempDir();
    const dir = templatesDir({ 'withsubject.subject.hbs': 'From template {{n}}', 'withsubject.txt.hbs': '{{msg}}' });
    const channel = createEmailChannel({ outboxDir, from: FROM, templatesDir: dir });
    const long = `${'ab'.repeat(50)}\nsecond line`;
    const cases: Array<[Message, string]> = [
      [message({ title: 'T', email: { subject: 'Explicit\r\nBcc: evil@x', template: 'withsubject', vars: { n: 1 } } }), 'Explicit Bcc: evil@x'],
      [message({ title: 'T', email: { template: 'withsubject', vars: { n: 2 } } }), 'From template 2'],
      [message({ title: 'The title' }), 'The title'],
      [message({ msg: long }), 'ab'.repeat(39)],
      [message({ msg: 'ü'.repeat(90) }), 'ü'.repeat(78)],
    ];
    const batch = cases.map(([m]) => delivery(m, 'dee@example.test'));
    const results = await channel.deliver(batch);
    assert.deepEqual(
      results.map((r) => r.type),
      cases.map(() => 'sent'),
    );
    for (const [i, [m, expected]] of cases.entries()) {
      const mail = await readEml(outboxDir, m, batch[i]?.recipient.uid ?? '');
      assert.equal(mail.subject, expected, `case ${i}`);
      assert.equal(mail.headers.get('bcc'), undefined, `case ${i}: header injection`);
    }
    await channel.close();
  });

  it('lets an operator template replace a built-in one as a whole', async () => {
    const outboxDir = tempDir();
    const dir = templatesDir({ 'default.txt.hbs': 'CUSTOM {{msg}}', 'README.md': 'not a template' });
    const channel = createEmailChannel({ outboxDir, from: FROM, templatesDir: dir });
    const msg = message({ title: 'Hi' });
    const d = delivery(msg, 'eve@example.test');
    await channel.deliver([d]);
    const mail = await readEml(outboxDir, msg, d.recipient.uid);
    assert.equal(mail.text?.trim(), `CUSTOM ${msg.msg}`);
    assert.equal(mail.html, false, 'the built-in html part was mixed in');
    assert.equal(mail.subject, 'Hi');
    await channel.close();
  });

  it('drops a link that is not http(s) or mailto', async () => {
    const outboxDir = tempDir();
    const channel = createEmailChannel({ outboxDir, from: FROM });
    const msg = message({ link: 'javascript:alert(1)' });
    const d = delivery(msg, 'fay@example.test');
    await channel.deliver([d]);
    const mail = await readEml(outboxDir, msg, d.recipient.uid);
    assert.ok(!String(mail.html).includes('javascript:'), String(mail.html));
    assert.ok(!mail.text?.includes('javascript:'));
    await channel.close();
  });

  it('classifies what cannot be sent: no address, unknown template, outbox gone', async () => {
    const root = tempDir();
    const outboxDir = join(root, 'outbox');
    const channel = createEmailChannel({ outboxDir, from: FROM });
    const results = await channel.deliver([
      delivery(message(), undefined),
      delivery(message(), '   '),
      delivery(message({ email: { template: 'nope' } }), 'gus@example.test'),
      delivery(message(), 'hal@example.test'),
    ]);
    assert.deepEqual(results, [
      { type: 'failed', reason: 'no-email-address' },
      { type: 'failed', reason: 'no-email-address' },
      { type: 'failed', reason: 'unknown-template:nope' },
      results[3],
    ]);
    assert.equal(results[3]?.type, 'sent');
    rmSync(outboxDir, { recursive: true });
    const [gone] = await channel.deliver([delivery(message(), 'ivy@example.test', 3)]);
    assert.deepEqual(gone, { type: 'retry', afterMs: 90_000, reason: 'outbox-enoent' });
    await channel.close();
  });

  it('refuses to start with a missing templates folder or a template that does not parse', () => {
    const outboxDir = tempDir();
    assert.throws(() => createEmailChannel({ outboxDir, from: FROM, templatesDir: join(outboxDir, 'missing') }), /does not exist/);
    const broken = templatesDir({ 'bad.html.hbs': '{{#if x}}never closed' });
    assert.throws(() => createEmailChannel({ outboxDir, from: FROM, templatesDir: broken }), /bad\.html\.hbs/);
    const partless = templatesDir({ 'only.subject.hbs': 'S' });
    assert.throws(() => createEmailChannel({ outboxDir, from: FROM, templatesDir: partless }), /neither/);
  });
});

describe('email channel, SMTP mode', () => {
  let smtp: SmtpFake;
  let channel: EmailChannel;

  before(async () => {
    smtp = await startSmtpFake();
    channel = createEmailChannel({ smtpUrls: [smtp.url], outboxDir: tempDir(), from: FROM });
  });

  after(async () => {
    await channel.close();
    await smtp.close();
  });

  it('delivers with the right envelope and headers, and a Message-ID stable across attempts', async () => {
    const before = smtp.received.length;
    const msg = message({ title: 'Over SMTP', msg: 'Body <i>text</i>' });
    const d = delivery(msg, 'jo@example.test');
    const [first] = await channel.deliver([d]);
    const [again] = await channel.deliver([{ ...d, attempt: 2 }]);
    assert.equal(first?.type, 'sent');
    assert.deepEqual(again, first);
    const [mail, redelivered] = (await smtp.waitForMessages(before + 2)).slice(before);
    assert.ok(mail && redelivered);
    assert.deepEqual(mail.envelope, { from: 'noreply@herald.test', to: ['jo@example.test'] });
    assert.equal(mail.parsed.subject, 'Over SMTP');
    assert.deepEqual(addressOf(mail.parsed.to), ['jo@example.test']);
    assert.equal(mail.parsed.messageId, first?.type === 'sent' ? first.providerId : '');
    assert.equal(redelivered.parsed.messageId, mail.parsed.messageId);
    assert.match(mail.parsed.messageId ?? '', /^<[^<>@\s]+@herald\.test>$/);
    assert.equal(mail.parsed.headers.get('x-herald-message-id'), msg.id);
    assert.ok(String(mail.parsed.html).includes('Body &lt;i&gt;text&lt;/i&gt;'));
    assert.ok(mail.parsed.text?.includes('Body <i>text</i>'));
    assert.equal(mail.parsed.date?.toISOString(), '2025-01-02T03:04:05.000Z');
  });

  it('answers invalid-recipient when the server refuses the recipient with 550', async () => {
    smtp.rejectRecipient('gone@example.test');
    const [result] = await channel.deliver([delivery(message(), 'gone@example.test')]);
    assert.deepEqual(result, { type: 'invalid-recipient', reason: 'smtp-550' });
  });

  it('answers retry, later for later attempts, when the server answers 451', async () => {
    smtp.failNext(1, 451);
    const [first] = await channel.deliver([delivery(message(), 'kai@example.test', 1)]);
    assert.deepEqual(first, { type: 'retry', afterMs: 30_000, reason: 'smtp-451' });
    smtp.failNext(1, 451);
    const [third] = await channel.deliver([delivery(message(), 'kai@example.test', 3)]);
    assert.deepEqual(third, { type: 'retry', afterMs: 90_000, reason: 'smtp-451' });
    const [fine] = await channel.deliver([delivery(message(), 'kai@example.test', 4)]);
    assert.equal(fine?.type, 'sent', 'the pool recovers after a refusal');
  });

  it('answers failed for a permanent refusal of the message and for a missing address', async () => {
    smtp.failNext(1, 554);
    const results = await channel.deliver([delivery(message(), 'lee@example.test'), delivery(message(), undefined)]);
    assert.deepEqual(results, [
      { type: 'failed', reason: 'smtp-554' },
      { type: 'failed', reason: 'no-email-address' },
    ]);
  });

  it('answers a batch of 20 mixed deliveries in batch order', async () => {
    smtp.rejectRecipient('invalid@example.test', 550);
    smtp.rejectRecipient('busy@example.test', 451);
    smtp.rejectRecipient('full@example.test', 552);
    const kinds = ['sent', 'no-email', 'invalid', 'busy', 'full'] as const;
    const address = { sent: undefined, 'no-email': undefined, invalid: 'invalid@example.test', busy: 'busy@example.test', full: 'full@example.test' };
    const expected: Record<(typeof kinds)[number], DeliveryResult | 'sent'> = {
      sent: 'sent',
      'no-email': { type: 'failed', reason: 'no-email-address' },
      invalid: { type: 'invalid-recipient', reason: 'smtp-550' },
      busy: { type: 'retry', afterMs: 60_000, reason: 'smtp-451' },
      full: { type: 'failed', reason: 'smtp-552' },
    };
    const plan = Array.from({ length: 20 }, (_, i) => kinds[(i * 7) % kinds.length] ?? 'sent');
    const batch = plan.map((kind, i) => delivery(message({ msg: `batch ${i}` }), kind === 'sent' ? `ok${i}@example.test` : address[kind], 2));
    const before = smtp.received.length;
    const results = await channel.deliver(batch);
    assert.equal(results.length, 20);
    for (const [i, kind] of plan.entries()) {
      const want = expected[kind];
      if (want === 'sent') assert.equal(results[i]?.type, 'sent', `#${i} ${kind}`);
      else assert.deepEqual(results[i], want, `#${i} ${kind}`);
    }
    const sentCount = plan.filter((k) => k === 'sent').length;
    const received = (await smtp.waitForMessages(before + sentCount)).slice(before);
    assert.equal(received.length, sentCount);
    assert.deepEqual(received.map((m) => m.envelope.to[0]).sort(), plan.flatMap((k, i) => (k === 'sent' ? [`ok${i}@example.test`] : [])).sort());
    for (const m of received) assert.equal(m.parsed.text?.trim(), m.parsed.subject);
  });
});

describe('email channel, SMTP server unreachable', () => {
  it('answers retry when the connection is refused', async () => {
    const smtp = await startSmtpFake();
    const url = smtp.url;
    await smtp.close();
    const channel = createEmailChannel({ smtpUrls: [url], outboxDir: tempDir(), from: FROM });
    const [result] = await channel.deliver([delivery(message(), 'max@example.test', 2)]);
    assert.equal(result?.type, 'retry', JSON.stringify(result));
    assert.equal(result?.type === 'retry' ? result.afterMs : 0, 60_000);
    await channel.close();
  });
});

describe('email channel, several SMTP servers (failover)', () => {
  it('sends through the first server while it works, moves on when it fails, and names the server that sent', async () => {
    const [first, second] = [await startSmtpFake(), await startSmtpFake()];
    const channel = createEmailChannel({
      smtpUrls: [first.url, second.url],
      outboxDir: tempDir(),
      from: FROM,
      circuit: { failures: 2, openMs: 60_000 },
    });
    try {
      const [viaFirst] = await channel.deliver([delivery(message(), 'a@example.test')]);
      assert.equal(viaFirst?.type === 'sent' && viaFirst.provider, 'smtp-1');

      // 421: the first server is unavailable; the same delivery goes out through the second.
      first.failNext(2, 421);
      const [movedOnce] = await channel.deliver([delivery(message(), 'b@example.test')]);
      assert.equal(movedOnce?.type === 'sent' && movedOnce.provider, 'smtp-2');
      const [movedTwice] = await channel.deliver([delivery(message(), 'c@example.test')]);
      assert.equal(movedTwice?.type === 'sent' && movedTwice.provider, 'smtp-2');
      assert.deepEqual(
        channel.providers().map((p) => [p.provider, p.circuit]),
        [
          ['smtp-1', 'open'],
          ['smtp-2', 'closed'],
        ],
      );

      // While its circuit is open the first server is not even tried.
      const atFirst = first.received.length;
      const [skipping] = await channel.deliver([delivery(message({ urgency: 'high' }), 'd@example.test')]);
      assert.equal(skipping?.type === 'sent' && skipping.provider, 'smtp-2');
      assert.equal(first.received.length, atFirst);
      assert.deepEqual(
        (await second.waitForMessages(3)).map((m) => m.envelope.to),
        [['b@example.test'], ['c@example.test'], ['d@example.test']],
      );
    } finally {
      await channel.close();
      await first.close();
      await second.close();
    }
  });

  it('reads HERALD_SMTP_URL as a comma-separated list and refuses a URL that is not SMTP', () => {
    assert.deepEqual(loadConfig({ HERALD_SMTP_URL: 'smtp://a.test:25, smtps://u:p@b.test:465' }).smtpUrls, ['smtp://a.test:25', 'smtps://u:p@b.test:465']);
    assert.throws(() => loadConfig({ HERALD_SMTP_URL: 'smtp://a.test:25,https://b.test' }), /HERALD_SMTP_URL.*smtp:\/\/ or smtps:\/\//s);
  });
});
