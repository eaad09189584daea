/** Message building, quiet hours, ids. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMessage, isExpired, messageFrame } from '../../src/exchange/message.js';
import { inQuietHours } from '../../src/exchange/quiet-hours.js';
import { idTime, isId, newId } from '../../src/ids.js';

const now = Date.parse('2026-03-01T10:00:00Z');

describe('buildMessage', () => {
  it('defaults urgency to normal and keeps only given options', () => {
    const m = buildMessage({ id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', opts: undefined, now });
    assert.deepEqual(m, { id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', urgency: 'normal', createdAt: now });
  });

  it('turns delay and at into notBefore, and ttl into expiresAt counted from the send time', () => {
    const delayed = buildMessage({ id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', opts: { delay: 60, ttl: 10 }, now });
    assert.equal(delayed.notBefore, now + 60_000);
    assert.equal(delayed.expiresAt, now + 70_000);
    const at = buildMessage({ id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', opts: { at: '2026-03-01T12:00:00+01:00' }, now });
    assert.equal(at.notBefore, Date.parse('2026-03-01T11:00:00Z'));
    const past = buildMessage({ id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', opts: { at: '2020-01-01T00:00:00Z' }, now });
    assert.equal(past.notBefore, undefined, 'a time in the past sends now');
  });

  it('knows when a message expired and how its frame looks', () => {
    const m = buildMessage({ id: 'x', sender: 's', target: { kind: 'everyone' }, msg: 'hi', opts: { ttl: 1 }, now });
    assert.equal(isExpired(m, now + 999), false);
    assert.equal(isExpired(m, now + 1000), true);
    assert.deepEqual(messageFrame(m), {
      type: 'message',
      id: 'x',
      msg: 'hi',
      title: null,
      data: null,
      urgency: 'normal',
      link: null,
      createdAt: '2026-03-01T10:00:00.000Z',
    });
  });
});

describe('inQuietHours', () => {
  const prefs = (start: string, end: string) => ({ channels: {}, categories: {}, quietHours: { start, end } });
  it('reads the window on the user’s clock, wrapping past midnight', () => {
    const at = Date.parse('2026-03-01T22:30:00Z');
    assert.equal(inQuietHours(prefs('22:00', '07:00'), 'UTC', at), true);
    assert.equal(inQuietHours(prefs('22:00', '07:00'), 'Asia/Tokyo', at), false, 'it is 07:30 in Tokyo: the window has ended');
  });
  it('is false outside the window and without one', () => {
    const at = Date.parse('2026-03-01T12:00:00Z');
    assert.equal(inQuietHours(prefs('22:00', '07:00'), 'UTC', at), false);
    assert.equal(inQuietHours({ channels: {}, categories: {} }, 'UTC', at), false);
    assert.equal(inQuietHours(prefs('09:00', '17:00'), 'Europe/Paris', at), true);
  });
});

describe('ids', () => {
  it('are UUIDv7, time-ordered, and carry their time', () => {
    const a = newId();
    const b = newId();
    assert.ok(isId(a) && isId(b));
    assert.ok(a < b);
    assert.ok(Math.abs(idTime(a) - Date.now()) < 5000);
  });
});
