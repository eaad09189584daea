/**
 * Contract suite for the store ports (src/store/port.ts). Every Stores adapter must pass it
 * unchanged. It uses the port interfaces only; `open` must give each test empty stores.
 * When `reopen` is given (close, then open the same storage again), durability is checked too.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { Message, Receipt } from '../../src/exchange/types.js';
import { newId } from '../../src/ids.js';
import type { Stores } from '../../src/store/port.js';
import { makeMessage, webDevice } from './contract-helpers.js';

export interface StoresHarness {
  stores: Stores;
  /** Closes the stores and opens the same storage again. */
  reopen?: () => Promise<Stores>;
  cleanup(): Promise<void>;
}

const ids = (items: Array<{ message: Message }>): string[] => items.map((item) => item.message.id);

export function storesContract(name: string, open: () => Promise<StoresHarness>): void {
  describe(`Stores contract: ${name}`, () => {
    let harness: StoresHarness;
    let stores: Stores;

    beforeEach(async () => {
      harness = await open();
      stores = harness.stores;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    it('answers healthy', async () => {
      assert.equal(await stores.healthy(), true);
    });

    describe('MessageStore', () => {
      it('stores a message with its status and cursor and returns it unchanged', async () => {
        const message = makeMessage({
          title: 'Title',
          data: { n: 1, nested: { ok: true } },
          channels: ['email', 'realtime'],
          target: { kind: 'users', uids: ['a', 'b'] },
          urgency: 'high',
          topic: 't',
          link: 'https://example.com/x',
          category: 'news',
          email: { subject: 'S', template: 'tpl', vars: { x: 1 } },
          sms: { text: 'sms' },
          notBefore: 1_700_000_000_000,
          expiresAt: 1_800_000_000_000,
        });
        assert.deepEqual(await stores.messages.insert({ message, status: 'accepted', cursor: 'u-9' }), { inserted: true });
        assert.deepEqual(await stores.messages.get(message.id), { message, status: 'accepted', cursor: 'u-9' });
      });

      it('returns undefined for an unknown id', async () => {
        assert.equal(await stores.messages.get(newId()), undefined);
      });

      it('inserting the same message twice keeps one', async () => {
        const message = makeMessage();
        await stores.messages.insert({ message, status: 'accepted' });
        await stores.messages.insert({ message, status: 'accepted' });
        assert.deepEqual(await stores.messages.get(message.id), { message, status: 'accepted' });
        assert.deepEqual(
          (await stores.messages.unfinished(10)).map((s) => s.message.id),
          [message.id],
        );
      });

      it('a replay with the same idempotency key returns the first id and body hash and stores nothing', async () => {
        const first = makeMessage();
        const key = { key: 'k-1', bodyHash: 'hash-a', ttlMs: 60_000 };
        assert.deepEqual(await stores.messages.insert({ message: first, status: 'accepted' }, key), { inserted: true });

        const replay = makeMessage({ createdAt: first.createdAt + 1_000 });
        assert.deepEqual(await stores.messages.insert({ message: replay, status: 'accepted' }, key), {
          inserted: false,
          existingId: first.id,
          bodyHash: 'hash-a',
        });
        assert.equal(await stores.messages.get(replay.id), undefined);
      });

      it('a reused key with a different body returns the first body hash (a conflict) and stores nothing', async () => {
        const first = makeMessage();
        await stores.messages.insert({ message: first, status: 'accepted' }, { key: 'k', bodyHash: 'hash-a', ttlMs: 60_000 });
        const other = makeMessage({ msg: 'different', createdAt: first.createdAt + 1 });
        const result = await stores.messages.insert({ message: other, status: 'accepted' }, { key: 'k', bodyHash: 'hash-b', ttlMs: 60_000 });
        assert.deepEqual(result, { inserted: false, existingId: first.id, bodyHash: 'hash-a' });
        assert.equal(await stores.messages.get(other.id), undefined);
      });

      it('idempotency keys are per sender', async () => {
        const a = makeMessage({ sender: 'app-a' });
        const b = makeMessage({ sender: 'app-b' });
        const key = { key: 'same', bodyHash: 'h', ttlMs: 60_000 };
        assert.deepEqual(await stores.messages.insert({ message: a, status: 'accepted' }, key), { inserted: true });
        assert.deepEqual(await stores.messages.insert({ message: b, status: 'accepted' }, key), { inserted: true });
        assert.ok(await stores.messages.get(b.id));
      });

      it('an expired idempotency key may be reused, and then answers for the new message', async () => {
        const createdAt = Date.now() - 120_000;
        const first = makeMessage({ createdAt });
        await stores.messages.insert({ message: first, status: 'accepted' }, { key: 'k', bodyHash: 'h1', ttlMs: 1_000 });

        const second = makeMessage({ createdAt: createdAt + 60_000 });
        assert.deepEqual(await stores.messages.insert({ message: second, status: 'accepted' }, { key: 'k', bodyHash: 'h2', ttlMs: 120_000 }), {
          inserted: true,
        });
        assert.ok(await stores.messages.get(second.id));

        const third = makeMessage({ createdAt: createdAt + 61_000 });
        assert.deepEqual(await stores.messages.insert({ message: third, status: 'accepted' }, { key: 'k', bodyHash: 'h3', ttlMs: 120_000 }), {
          inserted: false,
          existingId: second.id,
          bodyHash: 'h2',
        });
      });

      it('setStatus changes the status and records the cursor', async () => {
        const message = makeMessage();
        await stores.messages.insert({ message, status: 'scheduled' });
        await stores.messages.setStatus(message.id, 'accepted', 'u-100');
        assert.deepEqual(await stores.messages.get(message.id), { message, status: 'accepted', cursor: 'u-100' });
        await stores.messages.setStatus(message.id, 'triaged');
        assert.equal((await stores.messages.get(message.id))?.status, 'triaged');
      });

      it('unfinished lists accepted messages only, oldest first, at most limit', async () => {
        const accepted = [makeMessage(), makeMessage(), makeMessage()];
        const scheduled = makeMessage();
        const triaged = makeMessage();
        // Inserted out of order: the order must come from the ids, not from insertion.
        for (const message of [accepted[2], accepted[0], scheduled, accepted[1], triaged] as Message[]) {
          const status = message === scheduled ? 'scheduled' : 'accepted';
          await stores.messages.insert({ message, status });
        }
        await stores.messages.setStatus(triaged.id, 'triaged');

        const all = await stores.messages.unfinished(10);
        assert.deepEqual(
          all.map((s) => s.message.id),
          accepted.map((m) => m.id),
        );
        assert.ok(all.every((s) => s.status === 'accepted'));
        assert.deepEqual(
          (await stores.messages.unfinished(2)).map((s) => s.message.id),
          accepted.slice(0, 2).map((m) => m.id),
        );
        // Paging resumes after the last id of the previous page.
        assert.deepEqual(
          (await stores.messages.unfinished(2, accepted[1]?.id)).map((s) => s.message.id),
          [accepted[2]?.id],
        );

        await stores.messages.setStatus(scheduled.id, 'accepted', 'u-5');
        const resumed = (await stores.messages.unfinished(10)).find((s) => s.message.id === scheduled.id);
        assert.deepEqual(resumed, { message: scheduled, status: 'accepted', cursor: 'u-5' });
      });

      it('scheduled lists scheduled messages only, newest first, paged before an id', async () => {
        const scheduled = [makeMessage(), makeMessage(), makeMessage()];
        const accepted = makeMessage();
        const dueNow = makeMessage();
        for (const message of [scheduled[1], accepted, scheduled[0], dueNow, scheduled[2]] as Message[]) {
          await stores.messages.insert({ message, status: message === accepted ? 'accepted' : 'scheduled' });
        }
        // Its time came: it leaves the list.
        await stores.messages.setStatus(dueNow.id, 'accepted');
        const newestFirst = [...scheduled].reverse().map((m) => m.id);

        const all = await stores.messages.scheduled(10);
        assert.deepEqual(
          all.map((s) => s.message.id),
          newestFirst,
        );
        assert.ok(all.every((s) => s.status === 'scheduled'));
        assert.deepEqual(all[0]?.message, scheduled[2]);
        assert.deepEqual(
          (await stores.messages.scheduled(2)).map((s) => s.message.id),
          newestFirst.slice(0, 2),
        );
        assert.deepEqual(
          (await stores.messages.scheduled(2, newestFirst[1])).map((s) => s.message.id),
          newestFirst.slice(2),
        );
        // Moved on by any status (a cancel marks it triaged): no longer listed.
        await stores.messages.setStatus(scheduled[2]?.id as string, 'triaged');
        assert.deepEqual(
          (await stores.messages.scheduled(1)).map((s) => s.message.id),
          [newestFirst[1]],
        );
      });
    });

    describe('InboxStore', () => {
      const seed = async (uid: string, count: number): Promise<Message[]> => {
        const messages: Message[] = [];
        for (let i = 0; i < count; i++) {
          const message = makeMessage({ msg: `m${i}`, target: { kind: 'user', uid } });
          await stores.messages.insert({ message, status: 'triaged' });
          await stores.inbox.add([uid], message);
          messages.push(message);
        }
        return messages;
      };

      it('add is idempotent per uid and message id', async () => {
        const message = makeMessage();
        await stores.messages.insert({ message, status: 'accepted' });
        await stores.inbox.add(['u-1', 'u-1'], message);
        await stores.inbox.add(['u-1'], message);
        const items = await stores.inbox.list('u-1', { limit: 10 });
        assert.deepEqual(items, [{ message, uid: 'u-1', deliveredAt: null, readAt: null, archivedAt: null }]);
      });

      it('adds one message to many inboxes at once', async () => {
        const message = makeMessage({ target: { kind: 'everyone' } });
        await stores.messages.insert({ message, status: 'accepted' });
        const uids = Array.from({ length: 10_000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
        await stores.inbox.add(uids, message);
        for (const uid of [uids[0], uids[4_321], uids[9_999]] as string[]) {
          assert.deepEqual(await stores.inbox.get(uid, message.id), { message, uid, deliveredAt: null, readAt: null, archivedAt: null });
        }
        assert.equal(await stores.inbox.get('not-a-recipient', message.id), undefined);
      });

      it('lists newest first, paged by the before keyset without gaps or repeats', async () => {
        const messages = await seed('pager', 7);
        const newestFirst = messages.map((m) => m.id).reverse();

        const seen: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await stores.inbox.list('pager', before === undefined ? { limit: 3 } : { limit: 3, before });
          assert.ok(page.length <= 3);
          if (page.length === 0) break;
          seen.push(...ids(page));
          before = page[page.length - 1]?.message.id;
        }
        assert.deepEqual(seen, newestFirst);
      });

      it('since returns only newer entries, newest first', async () => {
        const messages = await seed('since', 5);
        const since = messages[1]?.id as string;
        assert.deepEqual(
          ids(await stores.inbox.list('since', { limit: 10, since })),
          messages
            .slice(2)
            .map((m) => m.id)
            .reverse(),
        );
        const before = messages[4]?.id as string;
        assert.deepEqual(ids(await stores.inbox.list('since', { limit: 10, since, before })), [messages[3]?.id, messages[2]?.id]);
      });

      it('lists only the given user and, with unreadOnly, only unread entries', async () => {
        const mine = await seed('me', 3);
        await seed('someone-else', 2);
        await stores.inbox.mark('me', [mine[1]?.id as string], 'read', 1_000);
        assert.equal((await stores.inbox.list('me', { limit: 10 })).length, 3);
        assert.deepEqual(ids(await stores.inbox.list('me', { limit: 10, unreadOnly: true })), [mine[2]?.id, mine[0]?.id]);
      });

      it('mark delivered sets deliveredAt only; read sets readAt and keeps the first delivered time', async () => {
        const [a, b] = await seed('marker', 2);
        const idA = a?.id as string;
        const idB = b?.id as string;

        assert.deepEqual(await stores.inbox.mark('marker', [idA], 'delivered', 100), [idA]);
        assert.deepEqual(await stores.inbox.get('marker', idA), { message: a, uid: 'marker', deliveredAt: 100, readAt: null, archivedAt: null });

        // Marking again (a redelivered receipt) never moves the first time.
        assert.deepEqual(await stores.inbox.mark('marker', [idA], 'delivered', 150), [idA]);
        assert.equal((await stores.inbox.get('marker', idA))?.deliveredAt, 100);

        assert.deepEqual(await stores.inbox.mark('marker', [idA], 'read', 200), [idA]);
        assert.deepEqual(await stores.inbox.get('marker', idA), { message: a, uid: 'marker', deliveredAt: 100, readAt: 200, archivedAt: null });

        // A read implies delivered.
        await stores.inbox.mark('marker', [idB], 'read', 300);
        assert.deepEqual(await stores.inbox.get('marker', idB), { message: b, uid: 'marker', deliveredAt: 300, readAt: 300, archivedAt: null });
      });

      it('mark ignores ids that are not in the user’s own inbox and returns the ids found', async () => {
        const [mine] = await seed('owner', 1);
        const [theirs] = await seed('other', 1);
        const found = await stores.inbox.mark('owner', [theirs?.id as string, mine?.id as string, newId()], 'read', 500);
        assert.deepEqual(found, [mine?.id]);
        assert.deepEqual(await stores.inbox.get('other', theirs?.id as string), {
          message: theirs,
          uid: 'other',
          deliveredAt: null,
          readAt: null,
          archivedAt: null,
        });
      });

      it('re-adding an entry keeps its read state', async () => {
        const [message] = await seed('re-add', 1);
        await stores.inbox.mark('re-add', [message?.id as string], 'read', 42);
        await stores.inbox.add(['re-add'], message as Message);
        assert.equal((await stores.inbox.get('re-add', message?.id as string))?.readAt, 42);
      });

      it('get returns undefined for an unknown entry', async () => {
        assert.equal(await stores.inbox.get('nobody', newId()), undefined);
      });

      it('countUnread counts what paging list with unreadOnly returns, for that user only', async () => {
        const unreadPaged = async (uid: string): Promise<string[]> => {
          const seen: string[] = [];
          let before: string | undefined;
          for (;;) {
            const page = await stores.inbox.list(uid, { limit: 2, unreadOnly: true, ...(before ? { before } : {}) });
            if (page.length === 0) return seen;
            seen.push(...ids(page));
            before = page[page.length - 1]?.message.id;
          }
        };
        assert.equal(await stores.inbox.countUnread('counter'), 0);
        const mine = await seed('counter', 5);
        await seed('counter-other', 3);
        assert.equal(await stores.inbox.countUnread('counter'), 5);
        // Delivered is not read; a read entry, marked twice, counts once; another user's ids are ignored.
        await stores.inbox.mark('counter', [mine[0]?.id as string], 'delivered', 10);
        await stores.inbox.mark('counter', [mine[1]?.id as string, mine[3]?.id as string], 'read', 20);
        await stores.inbox.mark('counter', [mine[1]?.id as string], 'read', 30);
        await stores.inbox.add(['counter'], mine[4] as Message);
        const paged = await unreadPaged('counter');
        assert.deepEqual(paged, [mine[4]?.id, mine[2]?.id, mine[0]?.id]);
        assert.equal(await stores.inbox.countUnread('counter'), paged.length);
        assert.equal(await stores.inbox.countUnread('counter-other'), 3);
        assert.equal(await stores.inbox.countUnread('nobody'), 0);
      });

      it('countUnread adds up entries across inbox periods (months apart)', async () => {
        const now = Date.now();
        // Ids 200 days apart: the Cassandra inbox keeps them in different 30-day partitions.
        const old = makeMessage({ id: uuidv7({ msecs: now - 200 * 24 * 3600 * 1000 }), target: { kind: 'user', uid: 'months' } });
        const recent = makeMessage({ id: uuidv7({ msecs: now }), target: { kind: 'user', uid: 'months' } });
        for (const message of [old, recent]) {
          await stores.messages.insert({ message, status: 'triaged' });
          await stores.inbox.add(['months'], message);
        }
        assert.equal(await stores.inbox.countUnread('months'), 2);
        await stores.inbox.mark('months', [recent.id], 'read', 1);
        assert.equal(await stores.inbox.countUnread('months'), 1);
      });
    });

    describe('InboxStore: what is listed (archive, topic collapse, recall)', () => {
      const addTo = async (uid: string, overrides: Partial<Message> = {}, status: 'accepted' | 'triaged' = 'triaged'): Promise<Message> => {
        const message = makeMessage({ target: { kind: 'user', uid }, ...overrides });
        await stores.messages.insert({ message, status });
        await stores.inbox.add([uid], message);
        return message;
      };
      const listed = async (uid: string, query: { unreadOnly?: boolean } = {}) => ids(await stores.inbox.list(uid, { limit: 50, ...query }));

      it('an archived entry is no longer listed or counted, and get still answers it with its archive time', async () => {
        const a = await addTo('arch');
        const b = await addTo('arch');
        const c = await addTo('arch');
        assert.deepEqual(await stores.inbox.mark('arch', [b.id, 'not-mine'], 'archived', 500), [b.id]);
        assert.deepEqual(await listed('arch'), [c.id, a.id]);
        assert.deepEqual(await listed('arch', { unreadOnly: true }), [c.id, a.id]);
        assert.equal(await stores.inbox.countUnread('arch'), 2);
        assert.deepEqual(await stores.inbox.get('arch', b.id), { message: b, uid: 'arch', deliveredAt: null, readAt: null, archivedAt: 500 });
        // The first archive time stays; reading an archived entry does not list it again.
        await stores.inbox.mark('arch', [b.id], 'archived', 900);
        await stores.inbox.mark('arch', [b.id], 'read', 950);
        assert.equal((await stores.inbox.get('arch', b.id))?.archivedAt, 500);
        assert.deepEqual(await listed('arch'), [c.id, a.id]);
        // Paging across an archived entry skips it without a short page.
        const first = await stores.inbox.list('arch', { limit: 1 });
        const second = await stores.inbox.list('arch', { limit: 1, before: first[0]?.message.id as string });
        assert.deepEqual([...ids(first), ...ids(second)], [c.id, a.id]);
      });

      it('a newer message of a topic replaces the older in that inbox only, and add says which it replaced', async () => {
        const first = makeMessage({ topic: 'score', target: { kind: 'users', uids: ['t-1', 't-2'] } });
        await stores.messages.insert({ message: first, status: 'triaged' });
        assert.deepEqual([...(await stores.inbox.add(['t-1', 't-2'], first))], []);
        const other = await addTo('t-1', { topic: 'weather' });
        const second = makeMessage({ topic: 'score', target: { kind: 'user', uid: 't-1' } });
        await stores.messages.insert({ message: second, status: 'triaged' });
        assert.deepEqual([...(await stores.inbox.add(['t-1'], second))], [['t-1', first.id]]);
        // Added again (a redelivery): the same answer, nothing else changes.
        assert.deepEqual([...(await stores.inbox.add(['t-1'], second))], [['t-1', first.id]]);
        assert.deepEqual(await listed('t-1'), [second.id, other.id]);
        assert.equal(await stores.inbox.countUnread('t-1'), 2);
        assert.deepEqual(await listed('t-2'), [first.id], 'the other recipient got only the first');
        assert.equal((await stores.inbox.get('t-1', first.id))?.message.id, first.id, 'a replaced entry is still the user’s message');
        const third = makeMessage({ topic: 'score', target: { kind: 'user', uid: 't-1' } });
        await stores.messages.insert({ message: third, status: 'triaged' });
        assert.deepEqual([...(await stores.inbox.add(['t-1'], third))], [['t-1', second.id]]);
        assert.deepEqual(await listed('t-1'), [third.id, other.id]);
      });

      it('restoreTopic after a recall lists again the newest of the topic not recalled, and a newer one replaces it as before', async () => {
        const uid = 'rt-1';
        const first = await addTo(uid, { topic: 'score' });
        const second = await addTo(uid, { topic: 'score' });
        const third = await addTo(uid, { topic: 'score' });
        const other = await addTo(uid, { topic: 'weather' });
        assert.deepEqual(await listed(uid), [other.id, third.id]);
        await stores.messages.recall(third.id, 1_000);
        await stores.inbox.restoreTopic(uid, 'score');
        assert.deepEqual(await listed(uid), [other.id, second.id]);
        assert.equal(await stores.inbox.countUnread(uid), 2);
        await stores.inbox.restoreTopic(uid, 'score');
        assert.deepEqual(await listed(uid), [other.id, second.id], 'restored again: the same');
        // The one given back recalled too: the next older is.
        await stores.messages.recall(second.id, 1_100);
        await stores.inbox.restoreTopic(uid, 'score');
        assert.deepEqual(await listed(uid, { unreadOnly: true }), [other.id, first.id]);
        assert.deepEqual(await listed('rt-other'), [], 'nobody else’s inbox');
        const fourth = makeMessage({ topic: 'score', target: { kind: 'user', uid } });
        await stores.messages.insert({ message: fourth, status: 'triaged' });
        assert.deepEqual([...(await stores.inbox.add([uid], fourth))], [[uid, first.id]], 'replaces the one listed, not a recalled one');
        assert.deepEqual(await listed(uid), [fourth.id, other.id]);
        assert.equal(await stores.inbox.countUnread(uid), 2);
      });

      it('a message of a topic added after a newer one of that topic (out of order) is not listed, and replaces nothing', async () => {
        const older = makeMessage({ topic: 'late', target: { kind: 'user', uid: 'ooo' } });
        const newer = makeMessage({ topic: 'late', target: { kind: 'user', uid: 'ooo' } });
        for (const message of [older, newer]) await stores.messages.insert({ message, status: 'triaged' });
        await stores.inbox.add(['ooo'], newer);
        assert.deepEqual([...(await stores.inbox.add(['ooo'], older))], []);
        assert.deepEqual(await listed('ooo'), [newer.id]);
        assert.equal(await stores.inbox.countUnread('ooo'), 1);
      });

      it('a recalled message leaves every inbox at once (list, count, get), is no longer unfinished, and stays recalled', async () => {
        const kept = await addTo('rc-1');
        const message = makeMessage({ target: { kind: 'users', uids: ['rc-1', 'rc-2'] } });
        await stores.messages.insert({ message, status: 'accepted' });
        await stores.inbox.add(['rc-1', 'rc-2'], message);
        assert.equal(await stores.inbox.countUnread('rc-1'), 2);
        await stores.messages.recall(message.id, 1_000);
        assert.equal((await stores.messages.get(message.id))?.status, 'recalled');
        assert.deepEqual(await listed('rc-1'), [kept.id]);
        assert.deepEqual(await listed('rc-2'), []);
        assert.equal(await stores.inbox.countUnread('rc-1'), 1);
        assert.equal(await stores.inbox.countUnread('rc-2'), 0);
        assert.equal(await stores.inbox.get('rc-2', message.id), undefined);
        assert.ok(!(await stores.messages.unfinished(100)).some((s) => s.message.id === message.id));
        // A triage still running writes its status and more entries afterwards: the message stays recalled and hidden.
        await stores.messages.setStatus(message.id, 'accepted', 'rc-2');
        await stores.inbox.add(['rc-3'], message);
        await stores.messages.setStatus(message.id, 'triaged');
        assert.equal((await stores.messages.get(message.id))?.status, 'recalled');
        assert.ok(!(await stores.messages.unfinished(100)).some((s) => s.message.id === message.id));
        assert.deepEqual(await listed('rc-3'), []);
        assert.equal(await stores.inbox.countUnread('rc-3'), 0);
        await stores.messages.recall(message.id, 2_000);
        assert.equal((await stores.messages.get(message.id))?.status, 'recalled');
      });
    });

    describe('ReceiptStore', () => {
      const receipt = (overrides: Partial<Receipt> = {}): Receipt => ({
        messageId: 'm',
        uid: 'u',
        channel: 'webpush',
        state: 'queued',
        at: 1,
        ...overrides,
      });
      const stateOf = async (messageId: string, uid: string, channel: Receipt['channel']) =>
        (await stores.receipts.forMessage(messageId, uid)).find((r) => r.channel === channel)?.state;

      it('records receipts and returns the current state per (uid, channel)', async () => {
        const messageId = newId();
        await stores.receipts.record([
          receipt({ messageId, uid: 'a', channel: 'webpush', state: 'queued', at: 1 }),
          receipt({ messageId, uid: 'a', channel: 'email', state: 'sent', reason: 'provider-id-1', at: 2 }),
          receipt({ messageId, uid: 'b', channel: 'webpush', state: 'delivered', at: 3 }),
        ]);
        const all = await stores.receipts.forMessage(messageId);
        assert.equal(all.length, 3);
        assert.deepEqual(
          all.find((r) => r.uid === 'a' && r.channel === 'email'),
          { messageId, uid: 'a', channel: 'email', state: 'sent', reason: 'provider-id-1', at: 2 },
        );
        const onlyB = await stores.receipts.forMessage(messageId, 'b');
        assert.deepEqual(onlyB, [{ messageId, uid: 'b', channel: 'webpush', state: 'delivered', at: 3 }]);
        assert.deepEqual(await stores.receipts.forMessage(newId()), []);
      });

      it('states only move forward: queued → sent → delivered → read → clicked', async () => {
        const messageId = newId();
        await stores.receipts.record([receipt({ messageId, state: 'delivered', at: 10 })]);
        await stores.receipts.record([receipt({ messageId, state: 'sent', at: 11 }), receipt({ messageId, state: 'queued', at: 12 })]);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [receipt({ messageId, state: 'delivered', at: 10 })]);

        await stores.receipts.record([receipt({ messageId, state: 'read', at: 20 })]);
        assert.equal(await stateOf(messageId, 'u', 'webpush'), 'read');
        await stores.receipts.record([receipt({ messageId, state: 'delivered', at: 21 })]);
        assert.equal(await stateOf(messageId, 'u', 'webpush'), 'read');
        await stores.receipts.record([receipt({ messageId, state: 'clicked', at: 30 })]);
        assert.equal(await stateOf(messageId, 'u', 'webpush'), 'clicked');
      });

      it('several receipts of one key in one batch apply in order', async () => {
        const messageId = newId();
        await stores.receipts.record([
          receipt({ messageId, state: 'queued', at: 1 }),
          receipt({ messageId, state: 'sent', at: 2 }),
          receipt({ messageId, state: 'queued', at: 3 }),
        ]);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [receipt({ messageId, state: 'sent', at: 2 })]);
      });

      it('failed, expired and suppressed are final', async () => {
        const messageId = newId();
        await stores.receipts.record([
          receipt({ messageId, uid: 'f', state: 'sent', at: 1 }),
          receipt({ messageId, uid: 'f', state: 'failed', reason: 'bounced', at: 2 }),
          receipt({ messageId, uid: 'f', state: 'delivered', at: 3 }),
          receipt({ messageId, uid: 'e', state: 'expired', at: 1 }),
          receipt({ messageId, uid: 'e', state: 'read', at: 2 }),
          receipt({ messageId, uid: 's', state: 'suppressed', reason: 'quiet hours', at: 1 }),
          receipt({ messageId, uid: 's', state: 'failed', at: 2 }),
        ]);
        assert.deepEqual(await stores.receipts.forMessage(messageId, 'f'), [receipt({ messageId, uid: 'f', state: 'failed', reason: 'bounced', at: 2 })]);
        assert.equal(await stateOf(messageId, 'e', 'webpush'), 'expired');
        assert.equal(await stateOf(messageId, 's', 'webpush'), 'suppressed');
      });

      it('a late failure never overrides a message the recipient already has', async () => {
        const messageId = newId();
        await stores.receipts.record([receipt({ messageId, state: 'read', at: 1 })]);
        await stores.receipts.record([receipt({ messageId, state: 'failed', at: 2 }), receipt({ messageId, state: 'expired', at: 3 })]);
        assert.equal(await stateOf(messageId, 'u', 'webpush'), 'read');
      });

      it('a sent recorded as never queued (a socket delivery) keeps the same rule: forward only, the first copy kept', async () => {
        const messageId = newId();
        const live = (overrides: Partial<Receipt>) => receipt({ messageId, channel: 'realtime', state: 'sent', ...overrides });
        const neverQueued = { neverQueued: true };
        // Sent, then a redelivered copy, then the client's delivered and read.
        await stores.receipts.record([live({ uid: 'a', at: 5 })], neverQueued);
        await stores.receipts.record([live({ uid: 'a', at: 9 })], neverQueued);
        assert.deepEqual(await stores.receipts.forMessage(messageId, 'a'), [live({ uid: 'a', at: 5 })]);
        await stores.receipts.record([live({ uid: 'a', state: 'delivered', at: 10 })]);
        await stores.receipts.record([live({ uid: 'a', state: 'read', at: 11 })]);
        await stores.receipts.record([live({ uid: 'a', at: 12 })], neverQueued);
        assert.deepEqual(await stores.receipts.forMessage(messageId, 'a'), [live({ uid: 'a', state: 'read', at: 11 })]);
        // The client's receipt got there first; an expiry recorded before the sent.
        await stores.receipts.record([live({ uid: 'b', state: 'delivered', at: 3 })]);
        await stores.receipts.record([live({ uid: 'b', at: 2 })], neverQueued);
        await stores.receipts.record([live({ uid: 'c', state: 'expired', reason: 'ttl', at: 3 })], neverQueued);
        await stores.receipts.record([live({ uid: 'c', at: 4 })], neverQueued);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [
          live({ uid: 'a', state: 'read', at: 11 }),
          live({ uid: 'b', state: 'delivered', at: 3 }),
          live({ uid: 'c', state: 'expired', reason: 'ttl', at: 3 }),
        ]);
        // Several keys in one call, and a late failure, as without the option.
        await stores.receipts.record([live({ uid: 'd', at: 1 }), live({ uid: 'e', at: 1 }), live({ uid: 'e', state: 'delivered', at: 2 })], neverQueued);
        await stores.receipts.record([live({ uid: 'e', state: 'failed', at: 3 })], neverQueued);
        assert.deepEqual(
          (await stores.receipts.forMessage(messageId)).filter((r) => r.uid === 'd' || r.uid === 'e'),
          [live({ uid: 'd', at: 1 }), live({ uid: 'e', state: 'delivered', at: 2 })],
        );
        assert.deepEqual(await stores.receipts.queued('realtime', 10), []);
      });

      it('recording the same receipt twice leaves one', async () => {
        const messageId = newId();
        const r = receipt({ messageId, channel: 'inbox', state: 'delivered', at: 5 });
        await stores.receipts.record([r]);
        await stores.receipts.record([r, r]);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [r]);
      });

      it('tallies: a source’s later count replaces its earlier one; talliesOf sums the sources per channel and state', async () => {
        const messageId = newId();
        assert.deepEqual(await stores.receipts.talliesOf(messageId), []);
        await stores.receipts.tally([
          { messageId, channel: 'realtime', state: 'sent', source: 'gateway-a', count: 3, at: 20 },
          { messageId, channel: 'realtime', state: 'sent', source: 'gateway-b', count: 5, at: 10 },
          { messageId, channel: 'webpush', state: 'sent', source: 'gateway-a', count: 1, at: 30 },
          { messageId: newId(), channel: 'realtime', state: 'sent', source: 'gateway-a', count: 100, at: 10 },
        ]);
        // Written again (a retry, or a later count of the same source): the count replaced, not added; the first time kept.
        await stores.receipts.tally([{ messageId, channel: 'realtime', state: 'sent', source: 'gateway-a', count: 4, at: 25 }]);
        await stores.receipts.tally([{ messageId, channel: 'webpush', state: 'sent', source: 'gateway-a', count: 1, at: 40 }]);
        assert.deepEqual(await stores.receipts.talliesOf(messageId), [
          { messageId, channel: 'realtime', state: 'sent', count: 9, at: 10 },
          { messageId, channel: 'webpush', state: 'sent', count: 1, at: 30 },
        ]);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [], 'no receipt per user');
      });

      it('keys receipts per device: two devices on one channel move on their own, the channel-wide receipt is a third key', async () => {
        const messageId = newId();
        await stores.receipts.record([
          receipt({ messageId, device: 'dev-b', state: 'queued', at: 1 }),
          receipt({ messageId, device: 'dev-a', state: 'queued', at: 1 }),
          receipt({ messageId, channel: 'inbox', state: 'delivered', at: 1 }),
        ]);
        await stores.receipts.record([receipt({ messageId, device: 'dev-a', state: 'sent', reason: 'push-1', at: 2 })]);
        // A duplicate of dev-a's sent, and a late queued for it, change nothing; dev-b is still queued.
        await stores.receipts.record([
          receipt({ messageId, device: 'dev-a', state: 'sent', reason: 'push-again', at: 3 }),
          receipt({ messageId, device: 'dev-a', state: 'queued', at: 3 }),
        ]);
        // A channel-wide receipt on the same channel is its own key: it moves neither device.
        await stores.receipts.record([receipt({ messageId, state: 'delivered', at: 4 })]);
        assert.deepEqual(await stores.receipts.forMessage(messageId), [
          receipt({ messageId, channel: 'inbox', state: 'delivered', at: 1 }),
          receipt({ messageId, state: 'delivered', at: 4 }),
          receipt({ messageId, device: 'dev-a', state: 'sent', reason: 'push-1', at: 2 }),
          receipt({ messageId, device: 'dev-b', state: 'queued', at: 1 }),
        ]);
        await stores.receipts.record([receipt({ messageId, device: 'dev-b', state: 'failed', reason: 'gone', at: 5 })]);
        const current = await stores.receipts.forMessage(messageId, 'u');
        assert.deepEqual(
          current.map((r) => [r.channel, r.device ?? null, r.state]),
          [
            ['inbox', null, 'delivered'],
            ['webpush', null, 'delivered'],
            ['webpush', 'dev-a', 'sent'],
            ['webpush', 'dev-b', 'failed'],
          ],
        );
      });

      it('queued lists each queued device with its device, paged after (message, uid, device)', async () => {
        const messageId = newId();
        await stores.receipts.record([
          receipt({ messageId, uid: 'p', channel: 'apns', device: 'd2', state: 'queued' }),
          receipt({ messageId, uid: 'p', channel: 'apns', device: 'd1', state: 'queued' }),
          receipt({ messageId, uid: 'p', channel: 'apns', device: 'd3', state: 'queued' }),
          receipt({ messageId, uid: 'p', channel: 'apns', device: 'd3', state: 'sent' }),
          receipt({ messageId, uid: 'q', channel: 'apns', device: 'd0', state: 'queued' }),
        ]);
        const key = (r: Receipt) => `${r.uid}/${r.device ?? ''}`;
        assert.deepEqual((await stores.receipts.queued('apns', 10)).map(key), ['p/d1', 'p/d2', 'q/d0']);
        const first = await stores.receipts.queued('apns', 1);
        assert.deepEqual(first.map(key), ['p/d1']);
        assert.deepEqual(first[0], receipt({ messageId, uid: 'p', channel: 'apns', device: 'd1', state: 'queued' }));
        const rest = await stores.receipts.queued('apns', 5, { messageId, uid: 'p', device: 'd1' });
        assert.deepEqual(rest.map(key), ['p/d2', 'q/d0']);
        await stores.receipts.record([receipt({ messageId, uid: 'p', channel: 'apns', device: 'd1', state: 'sent' })]);
        assert.deepEqual((await stores.receipts.queued('apns', 10)).map(key), ['p/d2', 'q/d0']);
      });

      it('queued lists current queued receipts of a channel, oldest first, paged after a key', async () => {
        const older = newId();
        const newer = newId();
        await stores.receipts.record([
          receipt({ messageId: newer, uid: 'b', channel: 'email', state: 'queued' }),
          receipt({ messageId: older, uid: 'z', channel: 'email', state: 'queued' }),
          receipt({ messageId: older, uid: 'y', channel: 'email', state: 'queued' }),
          receipt({ messageId: older, uid: 'x', channel: 'sms', state: 'queued' }),
          receipt({ messageId: newer, uid: 'a', channel: 'email', state: 'queued' }),
          receipt({ messageId: newer, uid: 'a', channel: 'email', state: 'sent' }),
        ]);
        const key = (r: Receipt) => `${r.messageId}/${r.uid}`;
        const all = await stores.receipts.queued('email', 10);
        assert.deepEqual(all.map(key), [`${older}/y`, `${older}/z`, `${newer}/b`]);
        assert.ok(all.every((r) => r.state === 'queued' && r.channel === 'email'));

        const first = await stores.receipts.queued('email', 2);
        assert.deepEqual(first.map(key), [`${older}/y`, `${older}/z`]);
        const last = first[1] as Receipt;
        const rest = await stores.receipts.queued('email', 2, { messageId: last.messageId, uid: last.uid });
        assert.deepEqual(rest.map(key), [`${newer}/b`]);
        assert.deepEqual((await stores.receipts.queued('sms', 10)).map(key), [`${older}/x`]);
      });
    });

    describe('UserStore', () => {
      it('ensure creates an unknown user and returns a known one unchanged', async () => {
        assert.deepEqual(await stores.users.ensure('u-1', 1_000), { uid: 'u-1', attributes: {}, createdAt: 1_000, updatedAt: 1_000 });
        await stores.users.put({ uid: 'u-1', email: 'a@example.com' }, 2_000);
        const again = await stores.users.ensure('u-1', 3_000);
        assert.deepEqual(again, { uid: 'u-1', email: 'a@example.com', attributes: {}, createdAt: 1_000, updatedAt: 2_000 });
      });

      it('put creates, then updates only the given fields; attributes given replace the stored ones', async () => {
        const created = await stores.users.put({ uid: 'p', email: 'p@example.com', locale: 'fr', attributes: { plan: 'pro', seats: 3 } }, 1_000);
        assert.deepEqual(created, {
          uid: 'p',
          email: 'p@example.com',
          locale: 'fr',
          attributes: { plan: 'pro', seats: 3 },
          createdAt: 1_000,
          updatedAt: 1_000,
        });

        const updated = await stores.users.put({ uid: 'p', phone: '+15550100', attributes: { plan: 'free' } }, 2_000);
        const expected = {
          uid: 'p',
          email: 'p@example.com',
          phone: '+15550100',
          locale: 'fr',
          attributes: { plan: 'free' },
          createdAt: 1_000,
          updatedAt: 2_000,
        };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await stores.users.get('p'), expected);

        await stores.users.put({ uid: 'p', timezone: 'Europe/Paris' }, 3_000);
        assert.deepEqual((await stores.users.get('p'))?.attributes, { plan: 'free' });
      });

      it('get returns undefined and getMany skips unknown uids', async () => {
        assert.equal(await stores.users.get('ghost'), undefined);
        await stores.users.ensure('a', 1);
        await stores.users.ensure('b', 1);
        const many = await stores.users.getMany(['b', 'ghost', 'a']);
        assert.deepEqual(many.map((u) => u.uid).sort(), ['a', 'b']);
        assert.deepEqual(await stores.users.getMany([]), []);
      });

      it('pages every user once, in a stable order, resuming after the last uid of a page', async () => {
        const uids = ['u-05', 'u-01', 'u-04', 'u-02', 'u-03'];
        for (const uid of uids) await stores.users.ensure(uid, 1);
        // The order is the adapter's (port.ts); one page of all users shows it.
        const order = (await stores.users.page(undefined, 10)).map((u) => u.uid);
        assert.deepEqual([...order].sort(), [...uids].sort());
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await stores.users.page(after, 2);
          assert.ok(page.length <= 2);
          if (page.length === 0) break;
          seen.push(...page.map((u) => u.uid));
          after = page[page.length - 1]?.uid;
        }
        assert.deepEqual(seen, order);
        assert.deepEqual(
          (await stores.users.page(order[2], 10)).map((u) => u.uid),
          order.slice(3),
        );
      });

      it('preferences default to empty and round-trip', async () => {
        assert.deepEqual(await stores.users.getPreferences('someone'), { channels: {}, categories: {} });
        const preferences = {
          channels: { email: false, realtime: true },
          categories: { news: { enabled: false } },
          quietHours: { start: '22:00', end: '07:00' },
        };
        await stores.users.putPreferences('someone', preferences);
        assert.deepEqual(await stores.users.getPreferences('someone'), preferences);
        await stores.users.putPreferences('someone', { channels: {}, categories: {} });
        assert.deepEqual(await stores.users.getPreferences('someone'), { channels: {}, categories: {} });
      });

      it('getPreferencesMany (when the adapter has it) answers what getPreferences answers, for every uid', async (t) => {
        const many = stores.users.getPreferencesMany?.bind(stores.users);
        if (!many) {
          t.skip('the adapter has no getPreferencesMany');
          return;
        }
        const preferences = { channels: { sms: false }, categories: { news: { enabled: false } } };
        await stores.users.putPreferences('p-1', preferences);
        await stores.users.putPreferences('p-3', { channels: { email: true }, categories: {} });
        // More uids than one IN request takes, with a duplicate and uids that have none.
        const uids = ['p-3', 'p-1', 'p-2', 'p-1', ...Array.from({ length: 250 }, (_, i) => `p-none-${i}`)];
        const found = await many(uids);
        assert.equal(found.size, new Set(uids).size);
        for (const uid of new Set(uids)) assert.deepEqual(found.get(uid), await stores.users.getPreferences(uid), uid);
        assert.deepEqual(found.get('p-1'), preferences);
        assert.equal((await many([])).size, 0);
      });
    });

    describe('DeviceStore', () => {
      it('registers a device; re-registering the same (kind, token) returns the same id', async () => {
        const first = await stores.devices.register('u', { kind: 'ios', token: 'tok-1' }, 'dev-1', 1_000);
        assert.deepEqual(first, {
          device: { id: 'dev-1', uid: 'u', kind: 'ios', token: 'tok-1', createdAt: 1_000 },
          created: true,
        });
        const again = await stores.devices.register('u', { kind: 'ios', token: 'tok-1' }, 'dev-2', 2_000);
        assert.equal(again.created, false);
        assert.equal(again.device.id, 'dev-1');
        assert.deepEqual(await stores.devices.listByUser('u'), [first.device]);
      });

      it('stores web push subscriptions with their keys and expiration', async () => {
        const device = webDevice('https://push.example.com/sub/1');
        const { device: stored } = await stores.devices.register('w', device, 'web-1', 5);
        const expected = { id: 'web-1', uid: 'w', createdAt: 5, ...device };
        assert.deepEqual(stored, expected);
        assert.deepEqual(await stores.devices.listByUser('w'), [expected]);
      });

      it('the same token of different kinds are different devices', async () => {
        await stores.devices.register('k', { kind: 'ios', token: 'same' }, 'd-ios', 1);
        await stores.devices.register('k', { kind: 'android', token: 'same' }, 'd-android', 2);
        assert.deepEqual((await stores.devices.listByUser('k')).map((d) => d.id).sort(), ['d-android', 'd-ios']);
      });

      it('a token registered by another user moves to that user', async () => {
        await stores.devices.register('old-owner', { kind: 'android', token: 'shared' }, 'd-1', 1);
        const moved = await stores.devices.register('new-owner', { kind: 'android', token: 'shared' }, 'd-2', 2);
        assert.equal(moved.created, true);
        assert.equal(moved.device.uid, 'new-owner');
        assert.deepEqual(await stores.devices.listByUser('old-owner'), []);
        assert.deepEqual(
          (await stores.devices.listByUser('new-owner')).map((d) => [d.kind, d.token]),
          [['android', 'shared']],
        );
      });

      it('remove deletes only the user’s own registration and says whether there was one', async () => {
        await stores.devices.register('owner', { kind: 'ios', token: 't' }, 'd', 1);
        assert.equal(await stores.devices.remove('intruder', 'ios', 't'), false);
        assert.equal((await stores.devices.listByUser('owner')).length, 1);
        assert.equal(await stores.devices.remove('owner', 'android', 't'), false);
        assert.equal(await stores.devices.remove('owner', 'ios', 't'), true);
        assert.deepEqual(await stores.devices.listByUser('owner'), []);
        assert.equal(await stores.devices.remove('owner', 'ios', 't'), false);
      });

      it('listByUsers (when the adapter has it) answers what listByUser answers, for every uid', async (t) => {
        const many = stores.devices.listByUsers?.bind(stores.devices);
        if (!many) {
          t.skip('the adapter has no listByUsers');
          return;
        }
        await stores.devices.register('a', { kind: 'ios', token: 'a-2' }, 'd-a2', 2);
        await stores.devices.register('a', webDevice('https://push.example.com/a'), 'd-a1', 1);
        await stores.devices.register('a', { kind: 'android', token: 'a-3' }, 'd-a3', 3);
        await stores.devices.register('b', { kind: 'android', token: 'b-1' }, 'd-b1', 5);
        await stores.devices.register('c', { kind: 'android', token: 'moved' }, 'd-c', 6);
        await stores.devices.register('b', { kind: 'android', token: 'moved' }, 'd-moved', 7);
        const uids = ['c', 'b', 'a', 'b', ...Array.from({ length: 250 }, (_, i) => `nobody-${i}`)];
        const found = await many(uids);
        assert.equal(found.size, new Set(uids).size);
        for (const uid of new Set(uids)) assert.deepEqual(found.get(uid), await stores.devices.listByUser(uid), uid);
        assert.deepEqual(
          found.get('a')?.map((d) => d.id),
          ['d-a1', 'd-a2', 'd-a3'],
        );
        assert.deepEqual(
          found.get('b')?.map((d) => d.id),
          ['d-b1', 'd-moved'],
        );
        assert.deepEqual(found.get('c'), []);
        assert.equal((await many([])).size, 0);
      });

      it('get finds a device by id for the user holding it, and nobody else', async () => {
        const web = webDevice('https://push.example.com/by-id');
        await stores.devices.register('holder', web, 'd-web', 1);
        await stores.devices.register('holder', { kind: 'ios', token: 'by-id' }, 'd-ios', 2);
        assert.deepEqual(await stores.devices.get('holder', 'd-web'), { id: 'd-web', uid: 'holder', createdAt: 1, ...web });
        assert.deepEqual(await stores.devices.get('holder', 'd-ios'), { id: 'd-ios', uid: 'holder', kind: 'ios', token: 'by-id', createdAt: 2 });
        assert.equal(await stores.devices.get('intruder', 'd-web'), undefined);
        assert.equal(await stores.devices.get('holder', 'd-unknown'), undefined);
        // A token that moves to another user takes no id along: the old id is gone for both.
        await stores.devices.register('taker', { kind: 'ios', token: 'by-id' }, 'd-taken', 3);
        assert.equal(await stores.devices.get('holder', 'd-ios'), undefined);
        assert.equal(await stores.devices.get('taker', 'd-ios'), undefined);
        assert.equal((await stores.devices.get('taker', 'd-taken'))?.uid, 'taker');
        await stores.devices.remove('holder', 'web', web.token);
        assert.equal(await stores.devices.get('holder', 'd-web'), undefined);
      });

      it('removeToken deletes a token whoever holds it', async () => {
        await stores.devices.register('x', webDevice('https://push.example.com/gone'), 'd-x', 1);
        await stores.devices.register('x', { kind: 'ios', token: 'kept' }, 'd-kept', 2);
        await stores.devices.removeToken('web', 'https://push.example.com/gone');
        await stores.devices.removeToken('web', 'https://push.example.com/never-registered');
        assert.deepEqual(
          (await stores.devices.listByUser('x')).map((d) => d.id),
          ['d-kept'],
        );
      });
    });

    describe('ErasureStore', () => {
      /** Gives `uid` (and `other`, on the same message) one of everything the stores keep per user. */
      const seedUser = async (uid: string, other: string) => {
        const message = makeMessage({ target: { kind: 'users', uids: [uid, other] } });
        await stores.messages.insert({ message, status: 'triaged' });
        await stores.inbox.add([uid, other], message);
        await stores.inbox.mark(uid, [message.id], 'read', 5);
        // A receipt without an inbox entry (an expired message never reaches the inbox).
        const expired = makeMessage({ target: { kind: 'user', uid } });
        await stores.messages.insert({ message: expired, status: 'triaged' });
        await stores.receipts.record([
          { messageId: message.id, uid, channel: 'email', state: 'sent', at: 2 },
          { messageId: message.id, uid, channel: 'apns', device: `${uid}-d`, state: 'queued', at: 2 },
          { messageId: message.id, uid: other, channel: 'email', state: 'sent', at: 2 },
          { messageId: message.id, uid: other, channel: 'apns', device: `${other}-d`, state: 'queued', at: 2 },
          { messageId: expired.id, uid, channel: 'inbox', state: 'expired', reason: 'ttl', at: 3 },
        ]);
        for (const who of [uid, other]) {
          await stores.users.put({ uid: who, email: `${who}@example.com`, attributes: { plan: 'pro' } }, 4);
          await stores.users.putPreferences(who, { channels: { sms: false }, categories: { news: { enabled: false } } });
          await stores.devices.register(who, { kind: 'ios', token: `${who}-token` }, `${who}-d`, 4);
        }
        return { message, expired };
      };

      it("erases the user's profile, preferences, devices, inbox entries and receipts, and nobody else's", async () => {
        const { message, expired } = await seedUser('gone', 'kept');
        await stores.erasure.eraseUser('gone', 100);

        assert.equal(await stores.users.get('gone'), undefined);
        assert.deepEqual(await stores.users.getPreferences('gone'), { channels: {}, categories: {} });
        assert.deepEqual(await stores.devices.listByUser('gone'), []);
        assert.deepEqual(await stores.inbox.list('gone', { limit: 10 }), []);
        assert.equal(await stores.inbox.countUnread('gone'), 0);
        assert.deepEqual(await stores.receipts.forMessage(message.id, 'gone'), []);
        assert.deepEqual(await stores.receipts.forMessage(expired.id), []);
        assert.deepEqual(
          (await stores.receipts.queued('apns', 10)).map((r) => r.uid),
          ['kept'],
        );
        // Users paged for a broadcast no longer include the erased one.
        assert.deepEqual(
          (await stores.users.page(undefined, 10)).map((u) => u.uid),
          ['kept'],
        );

        assert.equal((await stores.users.get('kept'))?.email, 'kept@example.com');
        assert.deepEqual(await stores.users.getPreferences('kept'), { channels: { sms: false }, categories: { news: { enabled: false } } });
        assert.equal((await stores.devices.listByUser('kept')).length, 1);
        assert.deepEqual(ids(await stores.inbox.list('kept', { limit: 10 })), [message.id]);
        assert.deepEqual(
          (await stores.receipts.forMessage(message.id)).map((r) => `${r.uid}/${r.channel}`),
          ['kept/apns', 'kept/email'],
        );
        // Messages are their senders' records: they stay.
        assert.equal((await stores.messages.get(message.id))?.message.id, message.id);
      });

      it('records when a uid was erased; erasing again (or an unknown uid) succeeds and moves the time', async () => {
        await seedUser('gone', 'kept');
        assert.deepEqual(await stores.erasure.erasedAt(['gone', 'kept']), new Map());
        await stores.erasure.eraseUser('gone', 100);
        await stores.erasure.eraseUser('never-seen', 110);
        assert.deepEqual(
          await stores.erasure.erasedAt(['gone', 'kept', 'never-seen', 'gone']),
          new Map([
            ['gone', 100],
            ['never-seen', 110],
          ]),
        );
        await stores.erasure.eraseUser('gone', 200);
        assert.deepEqual(await stores.erasure.erasedAt(['gone']), new Map([['gone', 200]]));
        assert.deepEqual(await stores.erasure.erasedAt([]), new Map());
      });

      it('a user used again after the erasure starts empty and can be erased again', async () => {
        await seedUser('gone', 'kept');
        await stores.erasure.eraseUser('gone', 100);
        const later = makeMessage({ target: { kind: 'user', uid: 'gone' } });
        await stores.messages.insert({ message: later, status: 'triaged' });
        await stores.inbox.add(['gone'], later);
        await stores.receipts.record([{ messageId: later.id, uid: 'gone', channel: 'realtime', state: 'sent', at: 300 }]);
        assert.equal((await stores.users.ensure('gone', 300)).createdAt, 300);
        assert.deepEqual(ids(await stores.inbox.list('gone', { limit: 10 })), [later.id]);

        await stores.erasure.eraseUser('gone', 400);
        assert.equal(await stores.users.get('gone'), undefined);
        assert.deepEqual(await stores.inbox.list('gone', { limit: 10 }), []);
        assert.deepEqual(await stores.receipts.forMessage(later.id), []);
      });
    });

    it('keeps everything across a close and reopen (when the adapter can reopen)', async (t) => {
      if (!harness.reopen) {
        t.skip('adapter cannot reopen its storage');
        return;
      }
      const message = makeMessage({ title: 'durable' });
      await stores.messages.insert({ message, status: 'accepted', cursor: 'c' }, { key: 'dk', bodyHash: 'h', ttlMs: 60_000 });
      await stores.inbox.add(['d-user'], message);
      await stores.inbox.mark('d-user', [message.id], 'delivered', 7);
      await stores.receipts.record([{ messageId: message.id, uid: 'd-user', channel: 'email', state: 'sent', at: 8 }]);
      await stores.receipts.record([{ messageId: message.id, uid: 'd-user', channel: 'apns', device: 'dd', state: 'queued', at: 8 }]);
      await stores.users.put({ uid: 'd-user', email: 'd@example.com', attributes: { a: 1 } }, 9);
      await stores.users.putPreferences('d-user', { channels: { sms: false }, categories: {} });
      const { device } = await stores.devices.register('d-user', { kind: 'ios', token: 'dt' }, 'dd', 10);

      stores = await harness.reopen();

      assert.deepEqual(await stores.messages.get(message.id), { message, status: 'accepted', cursor: 'c' });
      assert.deepEqual(await stores.messages.insert({ message: makeMessage(), status: 'accepted' }, { key: 'dk', bodyHash: 'h', ttlMs: 60_000 }), {
        inserted: false,
        existingId: message.id,
        bodyHash: 'h',
      });
      assert.deepEqual(await stores.inbox.get('d-user', message.id), { message, uid: 'd-user', deliveredAt: 7, readAt: null, archivedAt: null });
      assert.deepEqual(await stores.receipts.forMessage(message.id), [
        { messageId: message.id, uid: 'd-user', channel: 'apns', device: 'dd', state: 'queued', at: 8 },
        { messageId: message.id, uid: 'd-user', channel: 'email', state: 'sent', at: 8 },
      ]);
      assert.deepEqual(await stores.receipts.queued('apns', 10), [
        { messageId: message.id, uid: 'd-user', channel: 'apns', device: 'dd', state: 'queued', at: 8 },
      ]);
      assert.deepEqual(await stores.users.get('d-user'), {
        uid: 'd-user',
        email: 'd@example.com',
        attributes: { a: 1 },
        createdAt: 9,
        updatedAt: 9,
      });
      assert.deepEqual(await stores.users.getPreferences('d-user'), { channels: { sms: false }, categories: {} });
      assert.deepEqual(await stores.devices.listByUser('d-user'), [device]);
    });
  });
}
