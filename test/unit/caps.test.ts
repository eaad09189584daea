/**
 * Caps that digest instead of drop: the domain half (src/exchange/caps.ts) as pure functions,
 * and the counting (src/pipeline/caps.ts) on the in-process limiter store with the real SQLite
 * receipt store, redelivery included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNEL_TRAITS as traits } from '../../channels/registry.js';
import { CAP_REASON, capPlan, cappedFallback, countsAgainstCap } from '../../src/exchange/caps.js';
import { planRecipient, type RecipientView } from '../../src/exchange/plan.js';
import { type ChannelName, type Device, EMPTY_PREFERENCES, type Message } from '../../src/exchange/types.js';
import { createLimiterStore } from '../../src/limits/limiter-store.js';
import { createLogger } from '../../src/observability/log.js';
import { createCaps } from '../../src/pipeline/caps.js';
import { migrate, openDatabase } from '../../src/sqlite/database.js';
import { createSqliteStores } from '../../src/store/sqlite/index.js';

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
const browser = (id: string): Device => ({
  id,
  uid: 'u',
  kind: 'web',
  token: `https://push.test/${id}`,
  keys: { p256dh: 'p', auth: 'a' },
  expirationTime: null,
  createdAt: 0,
});
const web1 = browser('w1');
const web2 = browser('w2');
const user = { uid: 'u', email: 'u@example.com', attributes: {}, createdAt: 0, updatedAt: 0 };
const recipient = (extra: Partial<RecipientView> = {}): RecipientView => ({
  uid: 'u',
  user,
  preferences: EMPTY_PREFERENCES,
  online: false,
  devices: [web1, web2],
  ...extra,
});
const available = new Set<ChannelName>(['realtime', 'webpush', 'email']);
const policy = { phoneDelayMs: 60_000, emailDelayMs: 900_000, digestIntervalMs: 3_600_000 };
const plan = (m: Message, r: RecipientView = recipient()) => planRecipient(m, r, { now, available, traits });

describe('caps: the domain half', () => {
  it('counts a plan below high that pushes, once however many devices; never high, never socket or email only', () => {
    assert.equal(plan(message()).deliver.length, 2, 'two devices');
    assert.equal(countsAgainstCap(message(), plan(message()), traits), true);
    assert.equal(countsAgainstCap(message({ urgency: 'high' }), plan(message({ urgency: 'high' })), traits), false);
    assert.equal(countsAgainstCap(message({ urgency: 'very-low' }), plan(message({ urgency: 'very-low' })), traits), true);
    const online = message();
    assert.equal(countsAgainstCap(online, plan(online, recipient({ online: true })), traits), false, 'realtime only');
    const byEmail = message({ channels: ['email', 'realtime'] });
    assert.equal(countsAgainstCap(byEmail, plan(byEmail, recipient({ online: true })), traits), false);
  });

  it('turns the intrusive deliveries into one suppressed/cap skip per channel and keeps the rest', () => {
    const both = message({ channels: ['realtime', 'webpush', 'email'] });
    const capped = capPlan(plan(both, recipient({ online: true })), traits);
    assert.equal(capped.inbox, true);
    assert.deepEqual(capped.deliver, [{ channel: 'realtime' }, { channel: 'email' }]);
    assert.deepEqual(capped.skipped, [{ channel: 'webpush', state: 'suppressed', reason: CAP_REASON }]);
  });

  it('plans the digest of the arrival period for a capped message, whatever its urgency or named channels', () => {
    const context = { now, available, traits, policy };
    const bucket = Math.floor(now / policy.digestIntervalMs);
    const expected = { kind: 'digest', channel: 'email', bucket, runAt: (bucket + 1) * policy.digestIntervalMs };
    assert.deepEqual(cappedFallback(message(), recipient(), context), expected);
    assert.deepEqual(cappedFallback(message({ urgency: 'very-low', channels: ['webpush'] }), recipient(), context), expected);
    assert.equal(cappedFallback(message({ inAppOnly: true }), recipient(), context), undefined, 'a user’s message is never emailed');
    assert.equal(cappedFallback(message(), recipient({ user: { ...user, email: undefined } }), context), undefined, 'no address');
    assert.equal(cappedFallback(message({ expiresAt: now + 1000 }), recipient(), context), undefined, 'expired by then');
  });
});

describe('caps: counting', () => {
  const setUp = async (perHour: number) => {
    const db = openDatabase(':memory:');
    migrate(db);
    const stores = createSqliteStores(db);
    const limits = await createLimiterStore({ prefix: 'test', log: createLogger('silent') });
    return { stores, caps: createCaps(limits, perHour, stores.receipts), close: () => stores.close() };
  };

  it('is off at 0', async () => {
    const { caps, close } = await setUp(0);
    assert.equal(caps, undefined);
    await close();
  });

  it('lets `perHour` messages through per user, then answers the user over; other users keep their own budget', async () => {
    const { caps, close } = await setUp(2);
    assert.ok(caps);
    assert.deepEqual([...(await caps.over('m1', ['ann', 'bob']))], []);
    assert.deepEqual([...(await caps.over('m2', ['ann']))], []);
    assert.deepEqual([...(await caps.over('m3', ['ann', 'bob']))], ['ann']);
    assert.deepEqual([...(await caps.over('m4', ['bob']))], ['bob']);
    await close();
  });

  it('counts a (user, message) once: a triage that runs again neither counts again nor changes the decision', async () => {
    const { stores, caps, close } = await setUp(2);
    assert.ok(caps);
    await caps.over('m1', ['cat']);
    // Again (a redelivery): not counted a second time, so m2 still passes.
    assert.deepEqual([...(await caps.over('m1', ['cat']))], []);
    assert.deepEqual([...(await caps.over('m2', ['cat']))], []);
    assert.deepEqual([...(await caps.over('m3', ['cat']))], ['cat']);
    assert.deepEqual([...(await caps.over('m4', ['cat']))], ['cat']);
    // m3 was recorded as capped, m4's receipts were never written (a crash before the write).
    await stores.receipts.record([{ messageId: 'm3', uid: 'cat', channel: 'webpush', state: 'suppressed', reason: CAP_REASON, at: now }]);
    // Run again, each keeps the decision its record shows: a recount would put both over.
    assert.deepEqual([...(await caps.over('m3', ['cat']))], ['cat']);
    assert.deepEqual([...(await caps.over('m4', ['cat']))], []);
    await close();
  });
});
