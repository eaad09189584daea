/** The escalation policy (src/exchange/fallback.ts) as a pure function. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fallbackFor } from '../../src/exchange/fallback.js';
import type { RecipientView } from '../../src/exchange/plan.js';
import { type ChannelName, EMPTY_PREFERENCES, type Message, type Urgency } from '../../src/exchange/types.js';

const now = 1_000_000_000;
const policy = { smsDelayMs: 60_000, emailDelayMs: 900_000, digestIntervalMs: 3_600_000 };
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
  user: { uid: 'u', email: 'u@example.com', phone: '+33600000000', attributes: {}, createdAt: 0, updatedAt: 0 },
  preferences: EMPTY_PREFERENCES,
  online: false,
  devices: [],
};
const plan = (m: Message, r: RecipientView = withContacts, available = all) => fallbackFor(m, r, { now, available, policy });

describe('fallbackFor', () => {
  it('escalates by urgency: SMS, email, digest, nothing', () => {
    assert.deepEqual(plan(message('high')), { kind: 'channel', channel: 'sms', runAt: now + 60_000 });
    assert.deepEqual(plan(message('normal')), { kind: 'channel', channel: 'email', runAt: now + 900_000 });
    const bucket = Math.floor(now / 3_600_000);
    assert.deepEqual(plan(message('low')), { kind: 'digest', bucket, runAt: (bucket + 1) * 3_600_000 });
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
});
