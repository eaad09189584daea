/** The in-memory TicketLedger against the contract (one process: both "gateways" share it), and its expiry. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryTicketLedger } from '../../src/ticket-ledger/memory/ledger.js';
import { ticketLedgerContract } from './ticket-ledger.contract.js';

ticketLedgerContract('memory', async () => {
  const ledger = createMemoryTicketLedger();
  return { a: ledger, b: ledger, cleanup: () => ledger.close() };
});

describe('memory ticket ledger specifics', () => {
  it('forgets a ticket once it expired (the signature check refuses it by then)', async () => {
    let t = 1_000_000;
    const ledger = createMemoryTicketLedger(() => t);
    assert.equal(await ledger.claim('j', t + 60_000), true);
    t += 30_000;
    assert.equal(await ledger.claim('j', t + 30_000), false);
    t += 31_000;
    assert.equal(await ledger.claim('other', t + 60_000), true, 'a claim after the expiry sweeps');
    assert.equal(await ledger.claim('j', t + 60_000), true, 'expired entries are forgotten');
  });
});
