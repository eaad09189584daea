/**
 * Triage's walk of a broadcast's reachable users (src/pipeline/triage.ts recipientPage) follows
 * UserStore.pageReachable's contract: a page may hold fewer users than asked and more follow;
 * only an empty page ends the walk. The store here answers short pages, as the port allows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNEL_TRAITS } from '../../channels/registry.js';
import { buildMessage } from '../../src/exchange/message.js';
import type { User } from '../../src/exchange/types.js';
import { recipientPage } from '../../src/pipeline/triage.js';
import type { Stores, UserStore } from '../../src/store/port.js';

const reachable: User[] = Array.from({ length: 23 }, (_, i) => ({ uid: `u${String(i).padStart(2, '0')}`, attributes: {}, createdAt: 0, updatedAt: 0 }));

/** At most 3 users a page whatever the limit: short pages, with more after them. */
const shortPages: Pick<UserStore, 'pageReachable'> = {
  pageReachable: async (after) => reachable.filter((u) => after === undefined || u.uid > after).slice(0, 3),
};

describe('a broadcast’s walk of the reachable users', () => {
  it('goes on past short pages and ends at an empty one', async () => {
    const deps = { stores: { users: shortPages } as unknown as Stores, traits: CHANNEL_TRAITS, channels: new Map() } as unknown as Parameters<
      typeof recipientPage
    >[0];
    const message = buildMessage({ id: 'b', sender: 'ops', target: { kind: 'everyone' }, msg: 'all', opts: undefined, now: 0 });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await recipientPage(deps, message, cursor);
      seen.push(...page.uids);
      cursor = page.next;
      pages++;
    } while (cursor !== undefined && pages < 100);
    assert.deepEqual(
      seen,
      reachable.map((u) => u.uid),
    );
  });
});
