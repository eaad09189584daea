/**
 * Caps folding into the digest (HERALD_CAP_PER_HOUR, src/exchange/caps.ts), over real HTTP: the
 * real CLI in a child process (embedded: in-process bus, in-process counters) trusts the loopback
 * push service through NODE_EXTRA_CA_CERTS and mails through the loopback SMTP fake.
 *
 * With a cap of 2 an offline user with a browser subscription gets two normal pushes; the third
 * is not pushed (receipt `suppressed`, reason `cap`), stays in their inbox and is listed in their
 * next digest email, which lists nothing else; a `high` message after the cap is still pushed;
 * another user keeps their own budget. With the default (0) nothing is capped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { type SmtpFake, startSmtpFake } from '../fakes/smtp.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild } from '../helpers/herald.js';

type Child = Awaited<ReturnType<typeof startChild>>;

/** Asserts the message's one web push receipt shows it on its way (queued, or already sent), not held. */
const assertPushing = (receipts: any[], what: string) => {
  const states = receipts.filter((r) => r.channel === 'webpush').map((r) => r.state);
  assert.equal(states.length, 1, `${what}: ${JSON.stringify(receipts)}`);
  assert.match(states[0], /^(queued|sent)$/, what);
};

/** A child Herald wired to `push` and `smtp`, with `env` on top. */
async function startWithFakes(push: PushServiceFake, smtp: SmtpFake, env: Record<string, string> = {}): Promise<Child> {
  const h = await startChild({
    NODE_EXTRA_CA_CERTS: testCertificate().certFile,
    HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
    HERALD_SMTP_URL: smtp.url,
    HERALD_DIGEST_INTERVAL: '2',
    ...env,
  });
  push.expectVapidKey = (await h.api('GET', '/api/v1/webpush/vapid-public-key')).body.key;
  return h;
}

/** Helpers over one child: `subscribe` registers a browser of the fake for `uid`, `triaged` sends and waits for triage. */
function client(h: Child, push: PushServiceFake, admin: string) {
  return {
    async subscribe(uid: string): Promise<string> {
      const subscription = push.subscription();
      const res = await h.api('POST', '/api/v1/native/subscribe', { token: await h.token(uid), body: subscription });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return push.idOf(subscription.endpoint);
    },
    /** Sends `msg` to `uid` and resolves with its id and admin view once triaged (each counted in order). */
    async sendTriaged(uid: string, msg: string, opts: Record<string, unknown> = {}): Promise<{ id: string; receipts: any[] }> {
      const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg, uid, opts } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const detail = await h.triaged(res.body.id, admin);
      return { id: res.body.id, receipts: detail.body.receipts };
    },
    pushed: (subscriptionId: string, messageId: string) => push.waitFor((r) => r.id === subscriptionId && r.payload?.id === messageId, 20_000),
  };
}

describe('caps folding into the digest (HERALD_CAP_PER_HOUR=2)', () => {
  let push: PushServiceFake;
  let smtp: SmtpFake;
  let h: Child;
  let admin: string;

  before(async () => {
    [push, smtp] = await Promise.all([startPushService(), startSmtpFake()]);
    h = await startWithFakes(push, smtp, { HERALD_CAP_PER_HOUR: '2' });
    admin = await h.token('ops', { admin: true });
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await Promise.all([push?.close(), smtp?.close()]);
  });

  it('pushes two normal messages, holds the third (suppressed, cap) in the inbox and the next digest; high still passes', async () => {
    const c = client(h, push, admin);
    assert.equal((await h.api('PUT', '/api/v1/users/cap-cat', { token: admin, body: { email: 'cap-cat@example.com' } })).status, 200);
    const browser = await c.subscribe('cap-cat');

    const first = await c.sendTriaged('cap-cat', 'first normal');
    const second = await c.sendTriaged('cap-cat', 'second normal');
    for (const { id, receipts } of [first, second]) {
      assertPushing(receipts, `${id} is pushed`);
      await c.pushed(browser, id);
    }

    const third = await c.sendTriaged('cap-cat', 'third normal, over the cap', { title: 'Third' });
    const held = third.receipts.filter((r) => r.channel === 'webpush');
    assert.equal(held.length, 1, JSON.stringify(third.receipts));
    assert.equal(held[0].state, 'suppressed');
    assert.equal(held[0].reason, 'cap');
    assert.equal(held[0].device, null, 'one receipt for the channel, not one per device');

    // It stays in the user's inbox, unread.
    const inbox = await h.api('GET', '/api/v1/messages', { token: await h.token('cap-cat') });
    assert.equal(inbox.status, 200);
    const entry = inbox.body.messages.find((m: any) => m.id === third.id);
    assert.ok(entry, 'the capped message is in the inbox');
    assert.equal(entry.state.read, null);

    // High urgency is never capped.
    const urgent = await c.sendTriaged('cap-cat', 'urgent, past the cap', { urgency: 'high' });
    assertPushing(urgent.receipts, 'urgent');
    await c.pushed(browser, urgent.id);
    assert.equal(push.recordsFor(browser).filter((r) => r.payload?.id === third.id).length, 0, 'the capped message was never pushed');

    // The digest of its period lists it, and only it: the two pushed normal messages are not digested.
    const [mail] = await smtp.waitForMessages(1, 20_000);
    assert.ok(mail);
    assert.deepEqual(mail.envelope.to, ['cap-cat@example.com']);
    assert.equal(mail.parsed.subject, 'Your unread notifications');
    const text = mail.parsed.text ?? '';
    assert.ok(text.includes('third normal, over the cap'), text);
    assert.ok(!text.includes('first normal') && !text.includes('second normal'), text);
    const emailed = await eventually(
      async () => {
        const detail = await h.api('GET', `/api/v1/messages/${third.id}`, { token: admin });
        return detail.body.receipts.find((r: any) => r.channel === 'email' && r.state === 'sent');
      },
      10_000,
      'the capped message’s digest receipt',
    );
    assert.equal(emailed.reason, 'digest');
  });

  it('counts per user: another user’s normal message is still pushed', async () => {
    const c = client(h, push, admin);
    const browser = await c.subscribe('cap-dog');
    const sent = await c.sendTriaged('cap-dog', 'for the dog');
    assertPushing(sent.receipts, 'sent');
    await c.pushed(browser, sent.id);
  });
});

describe('HERALD_CAP_PER_HOUR=0 (the default): no cap', () => {
  let push: PushServiceFake;
  let smtp: SmtpFake;
  let h: Child;

  before(async () => {
    [push, smtp] = await Promise.all([startPushService(), startSmtpFake()]);
    h = await startWithFakes(push, smtp);
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await Promise.all([push?.close(), smtp?.close()]);
  });

  it('pushes every normal message', async () => {
    const c = client(h, push, await h.token('ops', { admin: true }));
    const browser = await c.subscribe('free-fox');
    for (const n of [1, 2, 3, 4]) {
      const sent = await c.sendTriaged('free-fox', `normal ${n}`);
      assertPushing(sent.receipts, `message ${n}`);
      await c.pushed(browser, sent.id);
    }
  });
});
