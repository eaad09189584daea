/**
 * Contract suite for the Search port (src/search/port.ts). Every Search adapter must pass it
 * unchanged, together with the Stores it is deployed with: data is written the way the
 * exchange writes it (store first, then index), and `flush()` is awaited before every query
 * since indexing may lag. `open` must give each test empty stores and an empty index.
 *
 * Decisions this suite pins down (beyond the port's text):
 *  - `uid` selects messages sent *to* that uid by a `user` / `users` target.
 *  - `from` is inclusive, `to` exclusive (messages by `createdAt`, reports by receipt `at`).
 *  - Reports count each (message, uid, channel, state) once, however often it is indexed.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DeviceKind, Message, Receipt, User } from '../../src/exchange/types.js';
import type { ReportRow, Search } from '../../src/search/port.js';
import type { NewDevice, Stores } from '../../src/store/port.js';
import { makeMessage, webDevice } from './contract-helpers.js';

export interface SearchHarness {
  search: Search;
  stores: Stores;
  cleanup(): Promise<void>;
}

const asMap = (rows: ReportRow[]): Record<string, number> => Object.fromEntries(rows.filter((row) => row.count > 0).map((row) => [row.key, row.count]));

export function searchContract(name: string, open: () => Promise<SearchHarness>): void {
  describe(`Search contract: ${name}`, () => {
    let harness: SearchHarness;
    let search: Search;
    let stores: Stores;

    beforeEach(async () => {
      harness = await open();
      ({ search, stores } = harness);
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const publish = async (...messages: Message[]): Promise<Message[]> => {
      for (const message of messages) {
        await stores.messages.insert({ message, status: 'accepted' });
        await search.indexMessage(message);
      }
      await search.flush();
      return messages;
    };

    const ids = (messages: Message[]): string[] => messages.map((m) => m.id);

    it('answers healthy', async () => {
      assert.equal(await search.healthy(), true);
    });

    describe('message search', () => {
      it('finds messages by the words of their text and title, newest first', async () => {
        const [deploy, title, other, both] = await publish(
          makeMessage({ msg: 'Deploy finished on production' }),
          makeMessage({ msg: 'see details', title: 'Production deploy' }),
          makeMessage({ msg: 'lunch is ready' }),
          makeMessage({ msg: 'deploy started', title: 'production' }),
        );
        assert.deepEqual(ids(await search.searchMessages({ q: 'deploy', limit: 10 })), ids([both, title, deploy] as Message[]));
        assert.deepEqual(ids(await search.searchMessages({ q: 'PRODUCTION deploy', limit: 10 })), ids([both, title, deploy] as Message[]));
        assert.deepEqual(ids(await search.searchMessages({ q: 'lunch', limit: 10 })), [other?.id]);
        assert.deepEqual(await search.searchMessages({ q: 'nonexistentword', limit: 10 }), []);
      });

      it('returns the messages as stored', async () => {
        const [message] = await publish(makeMessage({ msg: 'roundtrip text', title: 'T', data: { k: [1, 2] }, urgency: 'high', link: 'https://x.test/' }));
        assert.deepEqual(await search.searchMessages({ q: 'roundtrip', limit: 10 }), [message]);
      });

      it('pages newest first by the before keyset', async () => {
        const messages = await publish(...Array.from({ length: 5 }, (_, i) => makeMessage({ msg: `page item ${i}` })));
        const newestFirst = ids(messages).reverse();
        const first = await search.searchMessages({ q: 'item', limit: 2 });
        assert.deepEqual(ids(first), newestFirst.slice(0, 2));
        const second = await search.searchMessages({ q: 'item', limit: 2, before: first[1]?.id });
        assert.deepEqual(ids(second), newestFirst.slice(2, 4));
        const third = await search.searchMessages({ q: 'item', limit: 2, before: second[1]?.id });
        assert.deepEqual(ids(third), newestFirst.slice(4));
      });

      it('filters by creation time, from inclusive and to exclusive', async () => {
        const base = 1_700_000_000_000;
        const [early, inside, boundary] = await publish(
          makeMessage({ msg: 'timed', createdAt: base - 1 }),
          makeMessage({ msg: 'timed', createdAt: base }),
          makeMessage({ msg: 'timed', createdAt: base + 1_000 }),
        );
        assert.deepEqual(ids(await search.searchMessages({ q: 'timed', from: base, to: base + 1_000, limit: 10 })), [inside?.id]);
        assert.deepEqual(ids(await search.searchMessages({ q: 'timed', from: base, limit: 10 })), [boundary?.id, inside?.id]);
        assert.deepEqual(ids(await search.searchMessages({ q: 'timed', to: base, limit: 10 })), [early?.id]);
      });

      it('filters by recipient uid for user and users targets', async () => {
        const [toBob, toMany] = await publish(
          makeMessage({ msg: 'ping', target: { kind: 'user', uid: 'bob' } }),
          makeMessage({ msg: 'ping', target: { kind: 'users', uids: ['alice', 'bob'] } }),
          makeMessage({ msg: 'ping', target: { kind: 'user', uid: 'alice' } }),
          makeMessage({ msg: 'ping', target: { kind: 'everyone' } }),
        );
        assert.deepEqual(ids(await search.searchMessages({ q: 'ping', uid: 'bob', limit: 10 })), ids([toMany, toBob] as Message[]));
        assert.equal((await search.searchMessages({ q: 'ping', uid: 'alice', limit: 10 })).length, 2);
        assert.equal((await search.searchMessages({ q: 'ping', limit: 10 })).length, 4);
      });

      it('indexing a message twice finds it once', async () => {
        const [message] = await publish(makeMessage({ msg: 'twice indexed' }));
        await search.indexMessage(message as Message);
        await search.flush();
        assert.deepEqual(ids(await search.searchMessages({ q: 'twice', limit: 10 })), [message?.id]);
      });

      it('treats query syntax characters as plain text', async () => {
        await publish(makeMessage({ msg: 'release v2 is out' }));
        for (const q of ['"release', 'release AND (', 'v2:out*', 'release -v2', "it's", 'NEAR(release']) {
          await assert.doesNotReject(search.searchMessages({ q, limit: 10 }), `query ${q}`);
        }
        assert.equal((await search.searchMessages({ q: '"release"', limit: 10 })).length, 1);
      });
    });

    describe('audience', () => {
      const putUser = async (user: Pick<User, 'uid'> & Partial<Omit<User, 'uid' | 'createdAt' | 'updatedAt'>>, devices: NewDevice[] = []): Promise<void> => {
        const stored = await stores.users.put(user, 1_000);
        for (const [i, device] of devices.entries()) {
          await stores.devices.register(user.uid, device, `${user.uid}-dev-${i}`, 1_000);
        }
        await search.indexUser(stored, [...new Set(devices.map((d) => d.kind))]);
      };
      const reindex = async (uid: string): Promise<void> => {
        const user = (await stores.users.get(uid)) as User;
        const kinds: DeviceKind[] = [...new Set((await stores.devices.listByUser(uid)).map((d) => d.kind))];
        await search.indexUser(user, kinds);
      };

      beforeEach(async () => {
        await putUser({ uid: 'u1', email: 'u1@example.com', attributes: { plan: 'pro', age: 30, beta: true, city: 'Paris' } }, [
          { kind: 'ios', token: 'ios-u1' },
        ]);
        await putUser({ uid: 'u2', phone: '+15550002', attributes: { plan: 'free', age: 41, beta: false, city: 'Lyon' } }, [
          webDevice('https://push.example.com/u2'),
        ]);
        await putUser({ uid: 'u3', attributes: { plan: 'pro', age: 41, beta: false, city: 'Lyon' } }, [{ kind: 'android', token: 'android-u3' }]);
        await putUser({ uid: 'u4', email: 'u4@example.com', phone: '+15550004', attributes: { plan: 'team', city: 'Paris' } });
        await search.flush();
      });

      it('matches attributes by equality, for strings, numbers and booleans', async () => {
        assert.deepEqual(await search.audience({ where: { plan: 'pro' } }, undefined, 10), ['u1', 'u3']);
        assert.deepEqual(await search.audience({ where: { age: 41 } }, undefined, 10), ['u2', 'u3']);
        assert.deepEqual(await search.audience({ where: { beta: true } }, undefined, 10), ['u1']);
        assert.deepEqual(await search.audience({ where: { plan: 'enterprise' } }, undefined, 10), []);
        assert.deepEqual(await search.audience({ where: { unknownAttribute: 'x' } }, undefined, 10), []);
      });

      it('a list matches any of its values; every condition must hold', async () => {
        assert.deepEqual(await search.audience({ where: { plan: ['free', 'team'] } }, undefined, 10), ['u2', 'u4']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro', city: 'Lyon' } }, undefined, 10), ['u3']);
        assert.deepEqual(await search.audience({ where: { city: ['Paris', 'Lyon'], age: [30, 41] } }, undefined, 10), ['u1', 'u2', 'u3']);
      });

      it('has requires a device of that kind, or an email / phone', async () => {
        assert.deepEqual(await search.audience({ has: 'ios' }, undefined, 10), ['u1']);
        assert.deepEqual(await search.audience({ has: 'android' }, undefined, 10), ['u3']);
        assert.deepEqual(await search.audience({ has: 'web' }, undefined, 10), ['u2']);
        assert.deepEqual(await search.audience({ has: 'email' }, undefined, 10), ['u1', 'u4']);
        assert.deepEqual(await search.audience({ has: 'phone' }, undefined, 10), ['u2', 'u4']);
        assert.deepEqual(await search.audience({ where: { city: 'Paris' }, has: 'phone' }, undefined, 10), ['u4']);
      });

      it('ignores online and matches everyone with no condition', async () => {
        assert.deepEqual(await search.audience({}, undefined, 10), ['u1', 'u2', 'u3', 'u4']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro' }, online: true }, undefined, 10), ['u1', 'u3']);
      });

      it('matches only among the uids given (a page of a thread’s members), with every condition', async () => {
        assert.deepEqual(await search.audience({}, undefined, 10, ['u4', 'u2', 'nobody']), ['u2', 'u4']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro' } }, undefined, 10, ['u2', 'u3']), ['u3']);
        assert.deepEqual(await search.audience({ has: 'phone' }, undefined, 10, ['u1', 'u4']), ['u4']);
        assert.deepEqual(await search.audience({ where: { city: 'Paris' }, has: 'phone' }, undefined, 10, ['u1', 'u2']), []);
        assert.deepEqual(await search.audience({ where: { city: ['Paris', 'Lyon'] } }, 'u1', 10, ['u1', 'u2', 'u3']), ['u2', 'u3']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro' } }, undefined, 10, []), []);
      });

      it('pages by uid ascending after a cursor', async () => {
        assert.deepEqual(await search.audience({}, undefined, 3), ['u1', 'u2', 'u3']);
        assert.deepEqual(await search.audience({}, 'u3', 3), ['u4']);
        assert.deepEqual(await search.audience({ where: { city: ['Paris', 'Lyon'] } }, 'u1', 2), ['u2', 'u3']);
        assert.deepEqual(await search.audience({ has: 'email' }, 'u1', 10), ['u4']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro' } }, 'u3', 10), []);
      });

      it('follows attribute and device changes once re-indexed', async () => {
        await stores.users.put({ uid: 'u1', attributes: { plan: 'free' } }, 2_000);
        await stores.devices.remove('u1', 'ios', 'ios-u1');
        await reindex('u1');
        await search.flush();
        assert.deepEqual(await search.audience({ where: { plan: 'pro' } }, undefined, 10), ['u3']);
        assert.deepEqual(await search.audience({ where: { plan: 'free' } }, undefined, 10), ['u1', 'u2']);
        assert.deepEqual(await search.audience({ where: { city: 'Paris' } }, undefined, 10), ['u4']);
        assert.deepEqual(await search.audience({ has: 'ios' }, undefined, 10), []);
      });
    });

    describe('reports', () => {
      const from = 1_700_000_001_000;
      const to = from + 1_000;

      const seed = async (): Promise<void> => {
        const normal = makeMessage({ urgency: 'normal' });
        const high = makeMessage({ urgency: 'high' });
        await publish(normal, high);
        const receipt = (message: Message, uid: string, channel: Receipt['channel'], state: Receipt['state'], at: number) => ({
          messageId: message.id,
          uid,
          channel,
          state,
          at,
          urgency: message.urgency,
        });
        const receipts = [
          receipt(normal, 'a', 'webpush', 'queued', from),
          receipt(normal, 'a', 'webpush', 'delivered', from + 100),
          receipt(normal, 'b', 'email', 'sent', from + 200),
          receipt(high, 'a', 'sms', 'failed', from + 500),
          receipt(high, 'c', 'webpush', 'read', to - 1),
          receipt(normal, 'b', 'email', 'delivered', to), // outside: `to` is exclusive
          receipt(high, 'd', 'email', 'queued', from - 1), // outside: before `from`
        ];
        await stores.receipts.record(receipts.map(({ urgency: _urgency, ...r }) => r));
        await search.indexReceipts(receipts);
        await search.flush();
      };

      it('counts receipt changes in [from, to) by state, channel and urgency', async () => {
        await seed();
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'state' })), {
          queued: 1,
          delivered: 1,
          sent: 1,
          failed: 1,
          read: 1,
        });
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'channel' })), { webpush: 3, email: 1, sms: 1 });
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'urgency' })), { normal: 3, high: 2 });
        assert.deepEqual(asMap(await search.report({ from: to + 1, to: to + 1_000, groupBy: 'state' })), {});
      });

      it('counts each tally as its count, a source’s later tally replacing its earlier one', async () => {
        await seed();
        const broadcast = makeMessage({ urgency: 'low', target: { kind: 'everyone' } });
        await publish(broadcast);
        const tallies = [
          { messageId: broadcast.id, channel: 'realtime', state: 'sent' as const, source: 'gw-1', count: 40, at: from + 10, urgency: 'low' as const },
          { messageId: broadcast.id, channel: 'realtime', state: 'sent' as const, source: 'gw-2', count: 2, at: from + 20, urgency: 'low' as const },
          { messageId: broadcast.id, channel: 'realtime', state: 'sent' as const, source: 'gw-3', count: 1_000, at: to, urgency: 'low' as const }, // outside
        ];
        // The ReceiptStore holds the tallies (ReceiptStore.tally), the index counts them.
        const store = (list: typeof tallies) => stores.receipts.tally(list.map(({ urgency: _urgency, ...t }) => t));
        await store(tallies);
        await search.indexTallies(tallies);
        const later = { ...tallies[0], count: 41 } as (typeof tallies)[number];
        await store([later]);
        await search.indexTallies([later]);
        await search.flush();
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'state' })), { queued: 1, delivered: 1, sent: 1 + 43, failed: 1, read: 1 });
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'channel' })), { webpush: 3, email: 1, sms: 1, realtime: 43 });
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'urgency' })), { normal: 3, high: 2, low: 43 });
      });

      it('counts a receipt indexed twice once', async () => {
        await seed();
        const again = { messageId: 'm-x', uid: 'z', channel: 'inbox' as const, state: 'read' as const, at: from + 1, urgency: 'low' as const };
        await search.indexReceipts([again]);
        await search.indexReceipts([again]);
        await search.flush();
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'urgency' })), { normal: 3, high: 2, low: 1 });
      });

      it('counts a push per device: two devices of one user, each indexed twice, count twice', async () => {
        await seed();
        const message = makeMessage({ urgency: 'low' });
        await publish(message);
        const perDevice = ['dev-1', 'dev-2'].map((device) => ({
          messageId: message.id,
          uid: 'two',
          channel: 'apns' as const,
          device,
          state: 'sent' as const,
          at: from + 10,
          urgency: 'low' as const,
        }));
        await stores.receipts.record(perDevice.map(({ urgency: _urgency, ...r }) => r));
        await search.indexReceipts(perDevice);
        await search.indexReceipts(perDevice);
        await search.flush();
        assert.deepEqual(asMap(await search.report({ from, to, groupBy: 'channel' })), { webpush: 3, email: 1, sms: 1, apns: 2 });
      });
    });

    describe('erasure', () => {
      it("removes the user's audience entry, receipts and recipient links; messages stay searchable by text", async () => {
        const from = 1_700_000_001_000;
        for (const uid of ['gone', 'kept']) {
          const user = await stores.users.put({ uid, email: `${uid}@example.com`, attributes: { plan: 'pro' } }, 1_000);
          await stores.devices.register(uid, { kind: 'ios', token: `ios-${uid}` }, `${uid}-dev`, 1_000);
          await search.indexUser(user, ['ios']);
        }
        const alone = makeMessage({ msg: 'erasable alone', target: { kind: 'user', uid: 'gone' } });
        const shared = makeMessage({ msg: 'erasable shared', target: { kind: 'users', uids: ['gone', 'kept'] } });
        await publish(alone, shared);
        const receipt = (message: Message, uid: string, state: Receipt['state'], at: number) => ({
          messageId: message.id,
          uid,
          channel: 'email' as const,
          state,
          at,
          urgency: message.urgency,
        });
        await search.indexReceipts([receipt(alone, 'gone', 'sent', from), receipt(shared, 'gone', 'sent', from), receipt(shared, 'kept', 'sent', from)]);
        await search.flush();
        // Indexed but not flushed yet: erased too.
        await search.indexReceipts([receipt(shared, 'gone', 'delivered', from + 1)]);

        await stores.erasure.eraseUser('gone', 2_000);
        await search.eraseUser('gone');

        assert.deepEqual(await search.audience({}, undefined, 10), ['kept']);
        assert.deepEqual(await search.audience({ where: { plan: 'pro' }, has: 'ios' }, undefined, 10), ['kept']);
        assert.deepEqual(asMap(await search.report({ from, to: from + 1_000, groupBy: 'state' })), { sent: 1 });
        assert.deepEqual(ids(await search.searchMessages({ q: '', uid: 'gone', limit: 10 })), []);
        assert.deepEqual(ids(await search.searchMessages({ q: 'erasable', uid: 'kept', limit: 10 })), [shared.id]);
        assert.deepEqual(ids(await search.searchMessages({ q: 'erasable', limit: 10 })), [shared.id, alone.id]);

        // Idempotent.
        await search.eraseUser('gone');
        await search.eraseUser('never-seen');
        assert.deepEqual(await search.audience({}, undefined, 10), ['kept']);
      });
    });
  });
}
