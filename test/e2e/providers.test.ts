/**
 * Channels side by side: a provider outage never blocks other channels or other users, and
 * quiet hours hold intrusive channels for messages below high urgency. The real CLI runs as a
 * child process; APNs points at a port where nothing listens, the other providers at fakes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { makeApnsKey } from '../fakes/apns.js';
import { type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { type SmtpFake, startSmtpFake } from '../fakes/smtp.js';
import { testCertificate } from '../fakes/tls.js';
import { eventually, startChild } from '../helpers/herald.js';
import { freePort } from '../helpers/nats-server.js';

describe('provider isolation and quiet hours', () => {
  let push: PushServiceFake;
  let smtp: SmtpFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  let admin: string;

  before(async () => {
    const key = makeApnsKey();
    [push, smtp] = await Promise.all([startPushService(), startSmtpFake()]);
    const deadPort = await freePort();
    h = await startChild({
      NODE_EXTRA_CA_CERTS: testCertificate().certFile,
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
      HERALD_SMTP_URL: smtp.url,
      HERALD_APNS_KEY: key.key,
      HERALD_APNS_KEY_ID: key.keyId,
      HERALD_APNS_TEAM_ID: key.teamId,
      HERALD_APNS_TOPIC: 'com.example.herald',
      HERALD_APNS_HOST: `127.0.0.1:${deadPort}`,
    });
    admin = await h.token('ops', { admin: true });
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await Promise.all([push?.close(), smtp?.close()]);
  });

  const receiptOf = (id: string, channel: string, state: string) =>
    eventually(
      async () => {
        const r = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
        return r.body.receipts?.find((x: any) => x.channel === channel && x.state === state);
      },
      20_000,
      `${channel} ${state} receipt`,
    );

  it('keeps delivering web push and email while APNs is down', async () => {
    // One user with an iPhone (APNs down) and a browser; another user reached by email only.
    const both = await h.token('both-devices');
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: both, body: { os: 'ios', token: randomBytes(32).toString('hex') } })).status, 201);
    const subscription = push.subscription();
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: both, body: subscription })).status, 201);
    await h.api('PUT', '/api/v1/users/mail-only', { token: admin, body: { email: 'mail-only@example.com' } });

    const toBoth = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'outage test', uid: 'both-devices' } });
    const toMail = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'by email', uid: 'mail-only', opts: { channels: ['email'] } } });

    const [record] = await push.waitFor((r) => r.payload?.id === toBoth.body.id, 20_000);
    assert.equal(record?.status, 201);
    await smtp.waitForMessages(1, 20_000);
    assert.equal(smtp.received[0]?.parsed.subject, 'by email');
    await receiptOf(toBoth.body.id, 'webpush', 'sent');
    await receiptOf(toMail.body.id, 'email', 'sent');
    // APNs is retried later, not failed and not blocking: its receipt stays queued.
    const detail = await h.api('GET', `/api/v1/messages/${toBoth.body.id}`, { token: admin });
    assert.deepEqual(
      detail.body.receipts.filter((r: any) => r.channel === 'apns').map((r: any) => r.state),
      ['queued'],
    );
  });

  it('holds push in quiet hours unless the message is high urgency', async () => {
    const token = await h.token('sleeper');
    const subscription = push.subscription();
    await h.api('POST', '/api/v1/native/subscribe', { token, body: subscription });
    // A window from an hour before to two hours after now, on the user's own clock.
    const zone = 'Pacific/Auckland';
    const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(Date.now()));
    const hh = (h: number) => `${String((h + 24) % 24).padStart(2, '0')}:00`;
    await h.api('PUT', '/api/v1/users/sleeper', { token: admin, body: { timezone: zone } });
    await h.api('PUT', '/api/v1/preferences', { token, body: { quietHours: { start: hh(hour - 1), end: hh(hour + 2) } } });

    const normal = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'can wait', uid: 'sleeper' } });
    const suppressed = await receiptOf(normal.body.id, 'webpush', 'suppressed');
    assert.equal(suppressed.reason, 'quiet-hours');
    const high = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'wake up', uid: 'sleeper', opts: { urgency: 'high' } } });
    await push.waitFor((r) => r.payload?.id === high.body.id, 20_000);
    assert.equal(push.recordsFor(push.idOf(subscription.endpoint)).filter((r) => r.payload?.id === normal.body.id).length, 0);
  });
});
