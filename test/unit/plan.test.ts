/** The triage policy (src/exchange/plan.ts) as a pure function. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRecipient, type RecipientView } from '../../src/exchange/plan.js';
import { type ChannelName, type Device, EMPTY_PREFERENCES, type Message } from '../../src/exchange/types.js';

const now = Date.parse('2026-01-15T12:00:00Z');
const message = (extra: Partial<Message> = {}): Message => ({
  id: 'm1',
  sender: 's',
  target: { kind: 'user', uid: 'u' },
  msg: 'hi',
  urgency: 'normal',
  createdAt: now,
  ...extra,
});
const recipient = (extra: Partial<RecipientView> = {}): RecipientView => ({
  uid: 'u',
  user: undefined,
  preferences: EMPTY_PREFERENCES,
  online: false,
  devices: [],
  ...extra,
});
const all = new Set<ChannelName>(['realtime', 'webpush', 'apns', 'fcm', 'email', 'sms']);
const embedded = new Set<ChannelName>(['realtime', 'email']);
const ios: Device = { id: 'd1', uid: 'u', kind: 'ios', token: 'ab', createdAt: 0 };
const user = { uid: 'u', email: 'u@example.com', phone: '+33600000000', attributes: {}, createdAt: 0, updatedAt: 0 };

describe('planRecipient', () => {
  it('sends realtime to an online user and always keeps the inbox', () => {
    const plan = planRecipient(message(), recipient({ online: true }), { now, available: embedded });
    assert.deepEqual(plan, { inbox: true, deliver: [{ channel: 'realtime' }], skipped: [] });
  });

  it('leaves an offline user’s message waiting in the inbox, without receipts', () => {
    assert.deepEqual(planRecipient(message(), recipient(), { now, available: embedded }), { inbox: true, deliver: [], skipped: [] });
  });

  it('pushes to every device of an offline user when push channels exist, and not when online', () => {
    const android: Device = { id: 'd2', uid: 'u', kind: 'android', token: 'cd', createdAt: 0 };
    const offline = planRecipient(message(), recipient({ devices: [ios, android] }), { now, available: all });
    assert.deepEqual(offline.deliver, [
      { channel: 'apns', device: ios },
      { channel: 'fcm', device: android },
    ]);
    const online = planRecipient(message(), recipient({ online: true, devices: [ios] }), { now, available: all });
    assert.deepEqual(online.deliver, [{ channel: 'realtime' }]);
  });

  it('honours opts.channels, suppressing what cannot be done with a reason', () => {
    const plan = planRecipient(message({ channels: ['email', 'sms', 'apns'] }), recipient(), { now, available: embedded });
    assert.deepEqual(plan.skipped, [
      { channel: 'email', state: 'suppressed', reason: 'no-email-address' },
      { channel: 'sms', state: 'suppressed', reason: 'channel-not-configured' },
      { channel: 'apns', state: 'suppressed', reason: 'channel-not-configured' },
    ]);
    const withAddress = planRecipient(message({ channels: ['email'] }), recipient({ user }), { now, available: embedded });
    assert.deepEqual(withAddress.deliver, [{ channel: 'email' }]);
  });

  it('lets preferences win: a channel switched off, a category disabled', () => {
    const off = planRecipient(message({ channels: ['email'] }), recipient({ user, preferences: { channels: { email: false }, categories: {} } }), {
      now,
      available: embedded,
    });
    assert.deepEqual(off.skipped, [{ channel: 'email', state: 'suppressed', reason: 'preference' }]);
    const category = planRecipient(
      message({ category: 'promo' }),
      recipient({ online: true, preferences: { channels: {}, categories: { promo: { enabled: false } } } }),
      {
        now,
        available: embedded,
      },
    );
    assert.deepEqual(category, { inbox: true, deliver: [], skipped: [{ channel: 'realtime', state: 'suppressed', reason: 'category:promo' }] });
  });

  it('holds intrusive channels in quiet hours unless the message is high urgency', () => {
    const preferences = { channels: {}, categories: {}, quietHours: { start: '11:00', end: '13:00' } };
    const quiet = planRecipient(message(), recipient({ devices: [ios], preferences }), { now, available: all });
    assert.deepEqual(quiet.skipped, [{ channel: 'apns', state: 'suppressed', reason: 'quiet-hours' }]);
    const urgent = planRecipient(message({ urgency: 'high' }), recipient({ devices: [ios], preferences }), { now, available: all });
    assert.deepEqual(urgent.deliver, [{ channel: 'apns', device: ios }]);
  });

  it('delivers nothing, not even to the inbox, once the message expired', () => {
    const plan = planRecipient(message({ expiresAt: now }), recipient({ online: true }), { now, available: embedded });
    assert.deepEqual(plan, { inbox: false, deliver: [], skipped: [{ channel: 'inbox', state: 'expired', reason: 'ttl' }] });
  });
});
