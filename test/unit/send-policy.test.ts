/**
 * The sending policy (src/exchange/send-policy.ts) as pure functions, and how an in-app-only
 * message is triaged (plan.ts, fallback.ts) and shown (`sender` in frames and push payloads).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apnsPayload } from '../../channels/apns/notification.js';
import { composeFcmMessage } from '../../channels/fcm/compose.js';
import { CHANNEL_NAMES, CHANNEL_TRAITS as traits } from '../../channels/registry.js';
import { pushPayload } from '../../channels/webpush/request.js';
import { fallbackFor } from '../../src/exchange/fallback.js';
import { buildMessage, messageFrame, visibleSender } from '../../src/exchange/message.js';
import { planRecipient, type RecipientView } from '../../src/exchange/plan.js';
import { decideSend, refusedContactFields } from '../../src/exchange/send-policy.js';
import { type ChannelName, EMPTY_PREFERENCES, URGENCIES } from '../../src/exchange/types.js';
import { channelTestMessage } from '../helpers/messages.js';

const user = { admin: false };
const admin = { admin: true };
const now = Date.parse('2026-01-15T12:00:00Z');
const all = new Set<ChannelName>(CHANNEL_NAMES);
const policy = { phoneDelayMs: 60_000, emailDelayMs: 900_000, digestIntervalMs: 3_600_000 };
const reachable: RecipientView = {
  uid: 'bob',
  user: { email: 'bob@example.com', phone: '+33600000000' },
  preferences: EMPTY_PREFERENCES,
  online: false,
  devices: [{ id: 'd1', uid: 'bob', kind: 'ios', token: 'ab', createdAt: 0 }],
};
const fromUser = (opts: Parameters<typeof buildMessage>[0]['opts'] = {}) =>
  buildMessage({ id: 'm1', sender: 'alice', senderAdmin: false, inAppOnly: true, target: { kind: 'user', uid: 'bob' }, msg: 'hi', opts, now });

describe('decideSend', () => {
  it('never restricts an admin, whatever the policy', () => {
    for (const p of ['inapp', 'off', 'any'] as const) {
      assert.deepEqual(decideSend(p, admin, { channels: ['sms'], urgency: 'high', email: {}, sms: { text: 'x' } }, traits), {
        allowed: true,
        inAppOnly: false,
      });
    }
  });

  it('any: a user sends as an admin does, and the message is not confined', () => {
    assert.deepEqual(decideSend('any', user, { channels: ['sms', 'email'], urgency: 'high' }, traits), { allowed: true, inAppOnly: false });
  });

  it('off: a user may not send at all', () => {
    assert.deepEqual(decideSend('off', user, undefined, traits), { allowed: false, reason: 'admin-only' });
  });

  it('inapp: in-app channels at urgency up to normal are allowed, and the message is confined', () => {
    assert.deepEqual(decideSend('inapp', user, undefined, traits), { allowed: true, inAppOnly: true });
    for (const urgency of ['very-low', 'low', 'normal'] as const) {
      assert.deepEqual(decideSend('inapp', user, { urgency, channels: ['realtime', 'webpush', 'apns', 'fcm'] }, traits), { allowed: true, inAppOnly: true });
    }
  });

  it('inapp: names every refused field — sms/email channels, high urgency, email and sms options', () => {
    const decision = decideSend(
      'inapp',
      user,
      { channels: ['realtime', 'sms', 'email'], urgency: 'high', email: { subject: 's' }, sms: { text: 't' } },
      traits,
    );
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed && decision.reason === 'fields');
    assert.deepEqual(
      decision.errors.map((e) => e.path),
      ['opts.channels', 'opts.urgency', 'opts.email', 'opts.sms'],
    );
    assert.match(decision.errors[0]?.message ?? '', /sms, email/);
    for (const channel of ['sms', 'email'] as const) {
      const one = decideSend('inapp', user, { channels: [channel] }, traits);
      assert.ok(!one.allowed && one.reason === 'fields' && one.errors.length === 1 && one.errors[0]?.path === 'opts.channels');
    }
  });
});

describe('refusedContactFields', () => {
  it('admin: a user may set neither email nor phone, an admin both', () => {
    assert.deepEqual(
      refusedContactFields('admin', user, { email: 'a@b.example', phone: '+33600000000' }).map((e) => e.path),
      ['email', 'phone'],
    );
    assert.deepEqual(refusedContactFields('admin', user, {}), []);
    assert.deepEqual(refusedContactFields('admin', admin, { email: 'a@b.example', phone: '+33600000000' }), []);
  });

  it('self: a user sets its own contacts', () => {
    assert.deepEqual(refusedContactFields('self', user, { email: 'a@b.example', phone: '+33600000000' }), []);
  });
});

describe('in-app-only messages in triage', () => {
  it('are never escalated, at any urgency, even with every address and channel available', () => {
    for (const urgency of URGENCIES) {
      assert.equal(fallbackFor(fromUser({ urgency }), reachable, { now, available: all, traits, policy }), undefined, urgency);
    }
    // The same message from an admin escalates: the recipient is reachable.
    const fromAdmin = buildMessage({ id: 'm2', sender: 'ops', senderAdmin: true, target: { kind: 'user', uid: 'bob' }, msg: 'hi', opts: {}, now });
    assert.equal(fallbackFor(fromAdmin, reachable, { now, available: all, traits, policy })?.kind, 'channel');
  });

  it('are planned on in-app channels only: email and sms, even when named, are suppressed as in-app-only', () => {
    const message = { ...fromUser(), channels: ['realtime', 'apns', 'email', 'sms'] as ChannelName[] };
    const plan = planRecipient(message, reachable, { now, available: all, traits });
    assert.deepEqual(
      plan.deliver.map((d) => d.channel),
      ['apns'],
    );
    assert.deepEqual(plan.skipped, [
      { channel: 'email', state: 'suppressed', reason: 'in-app-only' },
      { channel: 'sms', state: 'suppressed', reason: 'in-app-only' },
    ]);
    // The default route is unchanged: push to the offline user's device.
    assert.deepEqual(
      planRecipient(fromUser(), reachable, { now, available: all, traits }).deliver.map((d) => d.channel),
      ['apns'],
    );
  });
});

describe('the sender recipients see', () => {
  it('is the sending uid for a user’s message, absent for an admin’s and for old messages', () => {
    assert.equal(visibleSender(fromUser()), 'alice');
    assert.equal(visibleSender(channelTestMessage({ sender: 'ops', senderAdmin: true })), undefined);
    assert.equal(visibleSender(channelTestMessage({ sender: 'ops' })), undefined);
  });

  it('is in the realtime frame, the web push payload, the APNs payload and the FCM data; only when visible', () => {
    const message = fromUser();
    assert.equal(messageFrame(message).sender, 'alice');
    assert.equal(JSON.parse(pushPayload({ message })).sender, 'alice');
    assert.equal(apnsPayload(message).sender, 'alice');
    const fcm = composeFcmMessage(
      { message, recipient: { uid: 'bob' }, channel: 'fcm', attempt: 1, device: { id: 'd', uid: 'bob', kind: 'android', token: 't'.repeat(20), createdAt: 0 } },
      now,
    );
    assert.ok(fcm.ok);
    assert.equal(fcm.ok && fcm.message.data?.sender, 'alice');

    const adminMessage = channelTestMessage({ sender: 'ops', senderAdmin: true });
    assert.equal('sender' in messageFrame(adminMessage), false);
    assert.equal('sender' in JSON.parse(pushPayload({ message: adminMessage })), false);
    assert.equal('sender' in apnsPayload(adminMessage), false);
  });
});
