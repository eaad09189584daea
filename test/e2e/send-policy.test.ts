/**
 * The sending policy (HERALD_USER_SEND) and contact fields (HERALD_USER_CONTACTS) over real HTTP.
 *
 * `inapp` (the default) runs in a child Herald (the real CLI) wired to the loopback Twilio, SMTP
 * and push-service fakes with short fallback delays: a user's message reaches the inbox,
 * realtime and web push with its `sender`, refused fields are 403s naming them, and nothing a
 * user sends is ever texted or emailed — not by fallback, not in a digest — while an admin's
 * messages to the same recipient are (the control that shows the fakes would have seen it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { type SmtpFake, startSmtpFake } from '../fakes/smtp.js';
import { testCertificate } from '../fakes/tls.js';
import { startTwilioFake, type TwilioFake } from '../fakes/twilio.js';
import { eventually, startChild, startInProcess } from '../helpers/herald.js';

type Res = { status: number; headers: Headers; body: any };

/** A 403 problem+json whose errors name exactly `paths` (in any order). */
const assertForbidden = (res: Res, paths: string[]) => {
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.body.code, 'HERALD_FORBIDDEN');
  assert.deepEqual((res.body.errors ?? []).map((e: any) => e.path).sort(), [...paths].sort());
};

describe('HERALD_USER_SEND=inapp (default): users message users in app only', () => {
  let twilio: TwilioFake;
  let smtp: SmtpFake;
  let push: PushServiceFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;
  let alice: string;

  before(async () => {
    [twilio, smtp, push] = await Promise.all([startTwilioFake(), startSmtpFake(), startPushService()]);
    h = await startChild({
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
      HERALD_TWILIO_ACCOUNT_SID: twilio.accountSid,
      HERALD_TWILIO_AUTH_TOKEN: twilio.authToken,
      HERALD_TWILIO_FROM: '+15005550006',
      HERALD_TWILIO_BASE_URL: twilio.url,
      HERALD_SMTP_URL: smtp.url,
      HERALD_FALLBACK_SMS_DELAY: '1',
      HERALD_FALLBACK_EMAIL_DELAY: '1',
      HERALD_DIGEST_INTERVAL: '2',
    });
    admin = await h.token('ops', { admin: true });
    alice = await h.token('alice');
    push.expectVapidKey = (await h.api('GET', '/api/v1/webpush/vapid-public-key')).body.key;
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await Promise.all([twilio?.close(), smtp?.close(), push?.close()]);
  });

  const send = (token: string, uid: string, msg: string, opts?: Record<string, unknown>) =>
    h.api('POST', '/api/v1/send', { token, body: { msg, uid, ...(opts ? { opts } : {}) } });
  const accepted = async (token: string, uid: string, msg: string, opts?: Record<string, unknown>): Promise<string> => {
    const res = await send(token, uid, msg, opts);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  };

  it('refuses sms and email channels, high urgency, and email / sms options with 403 naming each field', async () => {
    assertForbidden(await send(alice, 'bob', 'x', { channels: ['sms'] }), ['opts.channels']);
    assertForbidden(await send(alice, 'bob', 'x', { channels: ['realtime', 'email'] }), ['opts.channels']);
    assertForbidden(await send(alice, 'bob', 'x', { urgency: 'high' }), ['opts.urgency']);
    assertForbidden(await send(alice, 'bob', 'x', { email: { subject: 'Hi' } }), ['opts.email']);
    assertForbidden(await send(alice, 'bob', 'x', { sms: { text: 'Hi' } }), ['opts.sms']);
    assertForbidden(await send(alice, 'bob', 'x', { channels: ['sms', 'email'], urgency: 'high', email: { subject: 'Hi' }, sms: { text: 'Hi' } }), [
      'opts.channels',
      'opts.urgency',
      'opts.email',
      'opts.sms',
    ]);
    // Still a 400 for what is invalid for anyone.
    assert.equal((await send(alice, 'bob', '', { urgency: 'high' })).status, 400);
  });

  it('accepts in-app channels at urgency up to normal; admins keep every option', async () => {
    for (const opts of [undefined, { channels: ['realtime', 'webpush', 'apns', 'fcm'] }, { urgency: 'normal' }, { urgency: 'low' }, { urgency: 'very-low' }]) {
      assert.equal((await send(alice, 'bob', 'x', opts)).status, 202, JSON.stringify(opts));
    }
    assert.equal((await send(admin, 'bob', 'x', { channels: ['sms', 'email'], urgency: 'high', sms: { text: 'y' } })).status, 202);
  });

  it('shows the sender in the realtime frame and the inbox; admin messages carry none', async () => {
    const socket = await h.socket('rt-bob');
    try {
      const fromAlice = await accepted(alice, 'rt-bob', 'hello from alice');
      const fromAdmin = await accepted(admin, 'rt-bob', 'hello from ops');
      const frame = await socket.next((f) => f.type === 'message' && f.id === fromAlice);
      assert.equal(frame.sender, 'alice');
      const adminFrame = await socket.next((f) => f.type === 'message' && f.id === fromAdmin);
      assert.equal('sender' in adminFrame, false);

      const inbox = await h.api('GET', '/api/v1/messages', { token: await h.token('rt-bob') });
      assert.equal(inbox.status, 200);
      const byId = new Map(inbox.body.messages.map((m: any) => [m.id, m]));
      assert.equal((byId.get(fromAlice) as any)?.sender, 'alice');
      assert.equal('sender' in (byId.get(fromAdmin) as any), false);
    } finally {
      socket.close();
    }
    // A reconnect with since= replays the frame with its sender too.
    const first = await accepted(admin, 'rt-carl', 'first');
    const later = await accepted(alice, 'rt-carl', 'later');
    await h.triaged(later);
    const replay = await h.socket('rt-carl', { since: first });
    try {
      assert.equal((await replay.next((f) => f.type === 'message' && f.id === later)).sender, 'alice');
    } finally {
      replay.close();
    }
  });

  it('puts the sender in the web push payload of an offline recipient', async () => {
    const sub = push.subscription();
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: await h.token('wp-bob'), body: sub })).status, 201);
    const fromAlice = await accepted(alice, 'wp-bob', 'pushed by alice', { title: 'Alice' });
    const fromAdmin = await accepted(admin, 'wp-bob', 'pushed by ops');
    const [record] = await push.waitFor((r) => r.payload?.id === fromAlice, 15_000);
    assert.equal(record?.payload.sender, 'alice');
    assert.equal(record?.payload.body, 'pushed by alice');
    const [adminRecord] = await push.waitFor((r) => r.payload?.id === fromAdmin, 15_000);
    assert.equal('sender' in (adminRecord?.payload ?? {}), false);
  });

  it('never texts or emails a user’s message — no fallback, no digest — while an admin’s escalate', async () => {
    const phone = '+15551230101';
    assert.equal((await h.api('PUT', '/api/v1/users/fb-bob', { token: admin, body: { email: 'fb-bob@example.com', phone } })).status, 200);
    const userSent = [
      await accepted(alice, 'fb-bob', 'user-normal unread'),
      await accepted(alice, 'fb-bob', 'user-low unread', { urgency: 'low' }),
      await accepted(alice, 'fb-bob', 'user-push unread', { channels: ['realtime', 'webpush'] }),
    ];
    const adminNormal = await accepted(admin, 'fb-bob', 'admin-normal unread');
    await accepted(admin, 'fb-bob', 'admin-low unread', { urgency: 'low' });
    const adminHigh = await accepted(admin, 'fb-bob', 'admin-high unread', { urgency: 'high' });

    const mailWith = (text: string) => smtp.received.find((m) => (m.parsed.text ?? '').includes(text));
    // The control: the admin's messages escalate (email after the delay, the digest, SMS for high).
    await eventually(async () => mailWith('admin-normal unread'), 20_000, 'admin fallback email');
    const digest = await eventually(async () => smtp.received.find((m) => m.parsed.subject === 'Your unread notifications'), 20_000, 'digest');
    assert.ok((digest.parsed.text ?? '').includes('admin-low unread'), digest.parsed.text);
    await eventually(async () => twilio.messages.find((m) => m.to === phone && m.body.includes('admin-high unread')), 20_000, 'admin fallback sms');
    await h.triaged(adminNormal);
    await h.triaged(adminHigh);

    // Past every delay and a further digest period: still nothing of the user's.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const mail of smtp.received) assert.ok(!(mail.parsed.text ?? '').includes('user-'), `a user's message was emailed: ${mail.parsed.text}`);
    assert.deepEqual(
      twilio.messages.filter((m) => m.body.includes('user-')),
      [],
    );
    for (const id of userSent) {
      const detail = await h.triaged(id);
      const nearline = detail.body.receipts.filter((r: any) => r.channel === 'sms' || r.channel === 'email');
      assert.deepEqual(nearline, [], `receipts of ${id}: ${JSON.stringify(detail.body.receipts)}`);
    }
  });
});

describe('HERALD_USER_SEND=off: only admins send', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_USER_SEND: 'off' });
  });
  after(() => h.stop());

  it('answers 403 to a user, whatever the body, and 202 to an admin', async () => {
    const user = await h.token('alice');
    for (const body of [{ msg: 'x', uid: 'bob' }, { msg: '' }]) {
      const res = await h.api('POST', '/api/v1/send', { token: user, body });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.body.code, 'HERALD_FORBIDDEN');
      assert.match(res.body.detail, /HERALD_USER_SEND=off/);
    }
    assert.equal((await h.api('POST', '/api/v1/send', { token: await h.token('ops', { admin: true }), body: { msg: 'x', uid: 'bob' } })).status, 202);
  });
});

describe('HERALD_USER_SEND=any: the original behaviour', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_USER_SEND: 'any', HERALD_USER_CONTACTS: 'self' });
  });
  after(() => h.stop());

  it('lets a user send by email at high urgency, and the recipient still sees who sent it', async () => {
    const admin = await h.token('ops', { admin: true });
    assert.equal((await h.api('PUT', '/api/v1/users/any-bob', { token: admin, body: { email: 'any-bob@example.com' } })).status, 200);
    const res = await h.api('POST', '/api/v1/send', {
      token: await h.token('alice'),
      body: { msg: 'by email', uid: 'any-bob', opts: { channels: ['email'], urgency: 'high', email: { subject: 'From Alice' } } },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const outbox = path.join(h.dataDir, 'outbox');
    await eventually(async () => fs.existsSync(outbox) && fs.readdirSync(outbox).some((f) => f.startsWith(res.body.id)), 15_000, 'email in the outbox');
    const inbox = await h.api('GET', '/api/v1/messages', { token: await h.token('any-bob') });
    assert.equal(inbox.body.messages.find((m: any) => m.id === res.body.id)?.sender, 'alice');
  });
});

describe('HERALD_USER_CONTACTS: who sets email and phone', () => {
  const put = (h: Awaited<ReturnType<typeof startInProcess>>, token: string, uid: string, body: object) =>
    h.api('PUT', `/api/v1/users/${uid}`, { token, body });

  it('admin (default): a user may not set its own email or phone (403 naming each), but its locale; an admin may', async () => {
    const h = await startInProcess();
    try {
      const user = await h.token('cora');
      assertForbidden(await put(h, user, 'cora', { email: 'cora@example.com' }), ['email']);
      assertForbidden(await put(h, user, 'cora', { phone: '+33612345678' }), ['phone']);
      assertForbidden(await put(h, user, 'cora', { email: 'cora@example.com', phone: '+33612345678', locale: 'fr' }), ['email', 'phone']);
      const own = await put(h, user, 'cora', { locale: 'fr', timezone: 'Europe/Paris' });
      assert.equal(own.status, 200);
      assert.equal(own.body.email, null, 'the refused request changed nothing');
      const byAdmin = await put(h, await h.token('ops', { admin: true }), 'cora', { email: 'cora@example.com', phone: '+33612345678' });
      assert.equal(byAdmin.status, 200);
      assert.equal(byAdmin.body.phone, '+33612345678');
    } finally {
      await h.stop();
    }
  });

  it('self: a user sets its own email and phone, still not another user’s', async () => {
    const h = await startInProcess({ HERALD_USER_CONTACTS: 'self' });
    try {
      const user = await h.token('dora');
      const res = await put(h, user, 'dora', { email: 'dora@example.com', phone: '+33612345678' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.email, 'dora@example.com');
      assert.equal((await put(h, user, 'cora', { email: 'x@example.com' })).status, 403);
    } finally {
      await h.stop();
    }
  });
});
