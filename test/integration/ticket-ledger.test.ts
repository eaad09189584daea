/** The Redis TicketLedger against the contract: two ledgers (two gateway processes) on one Redis. */
import { randomUUID } from 'node:crypto';
import { createRedisTicketLedger } from '../../src/ticket-ledger/redis/ledger.js';
import { ticketLedgerContract } from '../contract/ticket-ledger.contract.js';
import { servicesEnv } from '../helpers/services.js';

const { redisUrl } = servicesEnv();

ticketLedgerContract('redis', async () => {
  const prefix = `herald-test:tickets:${randomUUID().slice(0, 8)}`;
  const a = createRedisTicketLedger({ url: redisUrl, prefix });
  const b = createRedisTicketLedger({ url: redisUrl, prefix });
  return {
    a,
    b,
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
});
