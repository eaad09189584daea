/**
 * Receipt and renewal capabilities (src/auth/capabilities.ts): what they grant, that a changed
 * byte, another purpose, another key or a passed expiry refuses them, and that neither a
 * WebSocket ticket nor an API token signed with the same secret is taken for one; and that a
 * renewal is redeemed once per device and endpoint.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCapabilities, endpointHash, RECEIPT_MAX_SECONDS } from '../../src/auth/capabilities.js';
import { createTickets } from '../../src/auth/tickets.js';
import { mintToken } from '../../src/auth/tokens.js';
import { createMemoryTicketLedger } from '../../src/ticket-ledger/memory/ledger.js';

const SECRET = 'capability-test-secret-0123456789abcdef';
const grant = { uid: 'alice', messageId: '0190f7a2-0000-7000-8000-000000000001', deviceId: 'dev-1', channel: 'webpush' };

describe('receipt capabilities', () => {
  it('grant exactly the message, user, device and channel they were signed for', async () => {
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger() });
    assert.deepEqual(await caps.verifyReceipt(await caps.receipt(grant, Date.now() + 60_000)), grant);
  });

  it('are refused once changed, under another key, or for another purpose', async () => {
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger() });
    const token = await caps.receipt(grant);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), mid: 'another' })).toString('base64url');
    assert.equal(await caps.verifyReceipt(`${header}.${forged}.${signature}`), undefined, 'another message under the same signature');
    assert.equal(await caps.verifyReceipt(`${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`), undefined, 'a changed signature');
    assert.equal(await createCapabilities(`${SECRET}-other`, { ledger: createMemoryTicketLedger() }).verifyReceipt(token), undefined, 'another ticket secret');
    assert.equal(await caps.verifyRenewal(token), undefined, 'a receipt capability is not a renewal one');
    assert.equal(await caps.verifyReceipt(await caps.renewal('alice', 'dev-1', 'https://push.example/1')), undefined, 'nor the reverse');
    assert.equal(await caps.verifyReceipt('x'.repeat(5000)), undefined);
  });

  it('are neither WebSocket tickets nor API tokens signed with the same secret, and the reverse', async () => {
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger() });
    const tickets = createTickets(SECRET, 60, createMemoryTicketLedger());
    const { token: ticket } = await tickets.issue('alice');
    assert.equal(await caps.verifyReceipt(ticket), undefined);
    assert.equal(await caps.verifyReceipt(await mintToken(SECRET, { sub: 'alice' })), undefined);
    assert.equal(await tickets.verify(await caps.receipt(grant)), undefined);
  });

  it('expire with the message, and at most four weeks after signing', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger(), now: () => now });
    const short = await caps.receipt(grant, now + 10_000);
    const open = await caps.receipt(grant);
    now += 11_000;
    assert.equal(await caps.verifyReceipt(short), undefined, 'past the message expiry');
    assert.deepEqual(await caps.verifyReceipt(open), grant);
    now += RECEIPT_MAX_SECONDS * 1000;
    assert.equal(await caps.verifyReceipt(open), undefined, 'past the bounded default');
  });
});

describe('renewal capabilities', () => {
  it('name the user and the device, bound to the endpoint it had', async () => {
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger() });
    const token = await caps.renewal('bob', 'dev-2', 'https://push.example/abc');
    assert.deepEqual(await caps.verifyRenewal(token), { uid: 'bob', deviceId: 'dev-2', endpointHash: endpointHash('https://push.example/abc') });
    assert.notEqual(endpointHash('https://push.example/abc'), endpointHash('https://push.example/abd'));
  });

  it('are redeemed once per device and endpoint, whichever capability of the pair comes', async () => {
    const caps = createCapabilities(SECRET, { ledger: createMemoryTicketLedger() });
    const first = await caps.verifyRenewal(await caps.renewal('bob', 'dev-2', 'https://push.example/abc'));
    const later = await caps.verifyRenewal(await caps.renewal('bob', 'dev-2', 'https://push.example/abc'));
    const rotated = await caps.verifyRenewal(await caps.renewal('bob', 'dev-2', 'https://push.example/new'));
    assert.ok(first && later && rotated);
    assert.deepEqual(await Promise.all([caps.redeemRenewal(first), caps.redeemRenewal(later)]), [true, false]);
    assert.equal(await caps.redeemRenewal(rotated), true, 'the device at its next endpoint renews again');
  });
});
