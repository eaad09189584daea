/** The triage policy (src/exchange/plan.ts) as a pure function. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNEL_TRAITS as traits } from '../../channels/registry.js';
import type { ChannelTraits } from '../../src/exchange/channel-traits.js';
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
    const plan = planRecipient(message(), recipient({ online: true }), { now, available: embedded, traits });
    assert.deepEqual(plan, { inbox: true, deliver: [{ channel: 'realtime' }], skipped: [] });
  });

  it('leaves an offline user’s message waiting in the inbox, without receipts', () => {
    assert.deepEqual(planRecipient(message(), recipient(), { now, available: embedded, traits }), { inbox: true, deliver: [], skipped: [] });
  });

  it('pushes to every device of an offline user when push channels exist, and not when online', () => {
    const android: Device = { id: 'd2', uid: 'u', kind: 'android', token: 'cd', createdAt: 0 };
    const offline = planRecipient(message(), recipient({ devices: [ios, android] }), { now, available: all, traits });
    assert.deepEqual(offline.deliver, [
      { channel: 'apns', device: ios },
      { channel: 'fcm', device: android },
    ]);
    const online = planRecipient(message(), recipient({ online: true, devices: [ios] }), { now, available: all, traits });
    assert.deepEqual(online.deliver, [{ channel: 'realtime' }]);
  });

  it('honours opts.channels, suppressing what cannot be done with a reason', () => {
    const plan = planRecipient(message({ channels: ['email', 'sms', 'apns'] }), recipient(), { now, available: embedded, traits });
    assert.deepEqual(plan.skipped, [
      { channel: 'email', state: 'suppressed', reason: 'no-email-address' },
      { channel: 'sms', state: 'suppressed', reason: 'channel-not-configured' },
      { channel: 'apns', state: 'suppressed', reason: 'channel-not-configured' },
    ]);
    const withAddress = planRecipient(message({ channels: ['email'] }), recipient({ user }), { now, available: embedded, traits });
    assert.deepEqual(withAddress.deliver, [{ channel: 'email' }]);
  });

  it('lets preferences win: a channel switched off, a category disabled', () => {
    const off = planRecipient(message({ channels: ['email'] }), recipient({ user, preferences: { channels: { email: false }, categories: {} } }), {
      now,
      available: embedded,
      traits,
    });
    assert.deepEqual(off.skipped, [{ channel: 'email', state: 'suppressed', reason: 'preference' }]);
    const category = planRecipient(
      message({ category: 'promo' }),
      recipient({ online: true, preferences: { channels: {}, categories: { promo: { enabled: false } } } }),
      {
        now,
        available: embedded,
        traits,
      },
    );
    assert.deepEqual(category, { inbox: true, deliver: [], skipped: [{ channel: 'realtime', state: 'suppressed', reason: 'category:promo' }] });
  });

  it('holds intrusive channels in quiet hours unless the message is high urgency', () => {
    const preferences = { channels: {}, categories: {}, quietHours: { start: '11:00', end: '13:00' } };
    const quiet = planRecipient(message(), recipient({ devices: [ios], preferences }), { now, available: all, traits });
    assert.deepEqual(quiet.skipped, [{ channel: 'apns', state: 'suppressed', reason: 'quiet-hours' }]);
    const urgent = planRecipient(message({ urgency: 'high' }), recipient({ devices: [ios], preferences }), { now, available: all, traits });
    assert.deepEqual(urgent.deliver, [{ channel: 'apns', device: ios }]);
  });

  it('delivers nothing, not even to the inbox, once the message expired', () => {
    const plan = planRecipient(message({ expiresAt: now }), recipient({ online: true }), { now, available: embedded, traits });
    assert.deepEqual(plan, { inbox: false, deliver: [], skipped: [{ channel: 'inbox', state: 'expired', reason: 'ttl' }] });
  });

  it('decides by the channels’ traits, not their names: a channel of its own is planned like its kind', () => {
    const withPager = new Map<string, ChannelTraits>([
      ...traits,
      ['pager', { address: 'phone', intrusive: true, inApp: false }],
      ['kiosk', { address: 'device:web', intrusive: false, inApp: true }],
    ]);
    const available = new Set([...withPager.keys()]);
    const web: Device = {
      id: 'd3',
      uid: 'u',
      kind: 'web',
      token: 'https://push.example/x',
      keys: { p256dh: 'p', auth: 'a' },
      expirationTime: null,
      createdAt: 0,
    };
    const context = { now, available, traits: withPager };
    // The default route takes every channel of each device kind the user has.
    assert.deepEqual(planRecipient(message(), recipient({ devices: [web] }), context).deliver, [
      { channel: 'webpush', device: web },
      { channel: 'kiosk', device: web },
    ]);
    // A phone channel needs the phone number, is held by quiet hours, and is not in app.
    assert.deepEqual(planRecipient(message({ channels: ['pager'] }), recipient(), context).skipped, [
      { channel: 'pager', state: 'suppressed', reason: 'no-phone-number' },
    ]);
    assert.deepEqual(planRecipient(message({ channels: ['pager'] }), recipient({ user }), context).deliver, [{ channel: 'pager' }]);
    const quietHours = { channels: {}, categories: {}, quietHours: { start: '11:00', end: '13:00' } };
    assert.deepEqual(planRecipient(message({ channels: ['pager', 'kiosk'] }), recipient({ user, devices: [web], preferences: quietHours }), context), {
      inbox: true,
      deliver: [{ channel: 'kiosk', device: web }],
      skipped: [{ channel: 'pager', state: 'suppressed', reason: 'quiet-hours' }],
    });
    assert.deepEqual(planRecipient(message({ channels: ['pager'], inAppOnly: true }), recipient({ user }), context).skipped, [
      { channel: 'pager', state: 'suppressed', reason: 'in-app-only' },
    ]);
    // A name no channel is registered under is never delivered.
    assert.deepEqual(planRecipient(message({ channels: ['nowhere'] }), recipient({ user }), context).skipped, [
      { channel: 'nowhere', state: 'suppressed', reason: 'channel-not-configured' },
    ]);
  });
});
