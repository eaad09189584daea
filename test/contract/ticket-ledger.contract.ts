/**
 * The TicketLedger contract (src/ticket-ledger/port.ts), as a node:test suite every adapter must
 * pass unchanged: a ticket is claimed once, by one of many concurrent claimers, on every ledger
 * instance sharing the backing store (two gateways), and forgotten only after it expired.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TicketLedger } from '../../src/ticket-ledger/port.js';

export interface LedgersUnderTest {
  /** Two ledgers over the same used-ticket set (one per gateway process in a cluster). */
  a: TicketLedger;
  b: TicketLedger;
  cleanup(): Promise<void>;
}

const jti = (): string => randomUUID();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function ticketLedgerContract(name: string, open: () => Promise<LedgersUnderTest>): void {
  describe(`TicketLedger contract: ${name}`, { timeout: 30_000 }, () => {
    let env: LedgersUnderTest;
    beforeEach(async () => {
      env = await open();
    });
    afterEach(() => env.cleanup());

    it('claims a ticket the first time only', async () => {
      const id = jti();
      const until = Date.now() + 60_000;
      assert.equal(await env.a.claim(id, until), true);
      assert.equal(await env.a.claim(id, until), false);
      assert.equal(await env.a.claim(jti(), until), true, 'another ticket is unaffected');
    });

    it('refuses on the other ledger a ticket claimed on one', async () => {
      const id = jti();
      assert.equal(await env.a.claim(id, Date.now() + 60_000), true);
      assert.equal(await env.b.claim(id, Date.now() + 60_000), false);
    });

    it('lets exactly one of many concurrent claims win', async () => {
      const id = jti();
      const until = Date.now() + 60_000;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? env.a : env.b).claim(id, until)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('keeps a claimed ticket until it expires', async () => {
      const id = jti();
      assert.equal(await env.a.claim(id, Date.now() + 1_500), true);
      await sleep(200);
      assert.equal(await env.b.claim(id, Date.now() + 1_500), false);
    });
  });
}
