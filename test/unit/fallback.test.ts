/** The escalation policy (src/exchange/fallback.ts) as a pure function. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNEL_TRAITS } from '../../channels/registry.js';
import type { ChannelTraits, ChannelTraitsMap } from '../../src/exchange/channel-traits.js';
import { fallbackFor } from '../../src/exchange/fallback.js';
import type { RecipientView } from '../../src/exchange/plan.js';
import { type ChannelName, EMPTY_PREFERENCES, type Message, type Urgency } from '../../src/exchange/types.js';

const now = 1_000_000_000;
const policy = { phoneDelayMs: 60_000, emailDelayMs: 900_000, digestIntervalMs: 3_600_000 };
const all = new Set<ChannelName>(['realtime', 'webpush', 'apns', 'fcm', 'email', 'sms']);
const message = (urgency: Urgency, extra: Partial<Message> = {}): Message => ({
  id: 'm',
  sender: 's',
  target: { kind: 'user', uid: 'u' },
  msg: 'x',
  urgency,
  createdAt: now,
  ...extra,
});
const withContacts: RecipientView = {
  uid: 'u',
  user: { email: 'u@example.com', phone: '+33600000000' },
  preferences: EMPTY_PREFERENCES,
  online: false,
  devices: [],
};
const plan = (m: Message, r: RecipientView = withContacts, available = all, traits: ChannelTraitsMap = CHANNEL_TRAITS) =>
  fallbackFor(m, r, { now, available, traits, policy });

describe('fallbackFor', () => {
  it('escalates by urgency: SMS, email, digest, nothing', () => {
    assert.deepEqual(plan(message('high')), { kind: 'channel', channel: 'sms', runAt: now + 60_000 });
    assert.deepEqual(plan(message('normal')), { kind: 'channel', channel: 'email', runAt: now + 900_000 });
    const bucket = Math.floor(now / 3_600_000);
    assert.deepEqual(plan(message('low')), { kind: 'digest', channel: 'email', bucket, runAt: (bucket + 1) * 3_600_000 });
    assert.equal(plan(message('very-low')), undefined);
  });

  it('does not escalate explicit channels, disabled categories or channels, or missing addresses', () => {
    assert.equal(plan(message('high', { channels: ['realtime'] })), undefined);
    assert.equal(
      plan(message('normal', { category: 'promo' }), { ...withContacts, preferences: { channels: {}, categories: { promo: { enabled: false } } } }),
      undefined,
    );
    assert.equal(plan(message('high'), { ...withContacts, preferences: { channels: { sms: false }, categories: {} } }), undefined);
    assert.equal(plan(message('normal'), { ...withContacts, user: undefined }), undefined);
    assert.equal(plan(message('high'), withContacts, new Set<ChannelName>(['realtime', 'email'])), undefined);
  });

  it('does not plan a step the message would have expired by', () => {
    assert.equal(plan(message('high', { expiresAt: now + 60_000 })), undefined);
    assert.ok(plan(message('high', { expiresAt: now + 60_001 })));
  });

  it('escalates by address kind: the first configured phone or email channel the user did not switch off', () => {
    const traits = new Map<string, ChannelTraits>([
      ['pager', { address: 'phone', intrusive: true, inApp: false }],
      ['letters', { address: 'email', intrusive: false, inApp: false }],
      ...CHANNEL_TRAITS,
    ]);
    const available = new Set([...traits.keys()]);
    assert.deepEqual(plan(message('high'), withContacts, available, traits), { kind: 'channel', channel: 'pager', runAt: now + 60_000 });
    assert.deepEqual(plan(message('normal'), withContacts, available, traits), { kind: 'channel', channel: 'letters', runAt: now + 900_000 });
    const pagerOff = { ...withContacts, preferences: { channels: { pager: false }, categories: {} } };
    assert.deepEqual(plan(message('high'), pagerOff, available, traits), { kind: 'channel', channel: 'sms', runAt: now + 60_000 });
    assert.deepEqual(plan(message('high'), withContacts, new Set(['realtime', 'sms']), traits), { kind: 'channel', channel: 'sms', runAt: now + 60_000 });
    // Without any channel of the kind, nothing escalates.
    const inAppOnly = new Map([...CHANNEL_TRAITS].filter(([, t]) => t.inApp));
    assert.equal(plan(message('high'), withContacts, all, inAppOnly), undefined);
    assert.equal(plan(message('low'), withContacts, all, inAppOnly), undefined);
  });
});
