/**
 * Contract suite for timelines (TimelineStore in src/store/port.ts) and the inbox merge they
 * make: a user's inbox lists their own entries and the timeline messages they see, merged by id.
 * Every Stores adapter must pass it unchanged; `open` gives each test empty stores. Times are
 * given explicitly (users created at, posted at, joined at), so the suite never reads a clock (the
 * stores read one for the hold of unread floors after a restore: src/store/unread-floors.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { Message } from '../../src/exchange/types.js';
import { type Stores, type TimelineId, threadTimeline } from '../../src/store/port.js';
import { makeMessage, walkReachable, webDevice } from './contract-helpers.js';
import type { StoresHarness } from './stores.contract.js';

const ids = (items: Array<{ message: Message }>): string[] => items.map((item) => item.message.id);

export function timelinesContract(name: string, open: () => Promise<StoresHarness>): void {
  describe(`Timelines contract: ${name}`, () => {
    let harness: StoresHarness;
    let stores: Stores;

    beforeEach(async () => {
      harness = await open();
      stores = harness.stores;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    /** Stores a message and posts it to `timeline` at `at`. */
    const post = async (timeline: TimelineId, at: number, overrides: Partial<Message> = {}): Promise<Message> => {
      const target = timeline === 'everyone' ? ({ kind: 'everyone' } as const) : ({ kind: 'thread', thread: timeline.slice('thread:'.length) } as const);
      const message = makeMessage({ target, ...overrides });
      await stores.messages.insert({ message, status: 'triaged' });
      await stores.timelines.post(timeline, message, at);
      return message;
    };
    /** Stores a message and adds it to `uid`'s own entries. */
    const send = async (uid: string, overrides: Partial<Message> = {}): Promise<Message> => {
      const message = makeMessage({ target: { kind: 'user', uid }, ...overrides });
      await stores.messages.insert({ message, status: 'triaged' });
      await stores.inbox.add([uid], message);
      return message;
    };
    const listed = async (uid: string, query: { unreadOnly?: boolean; since?: string } = {}) => ids(await stores.inbox.list(uid, { limit: 100, ...query }));
    /** Every listed id of `uid`, paging `size` at a time with the `before` keyset. */
    const pagedAll = async (uid: string, size: number, unreadOnly = false): Promise<string[]> => {
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await stores.inbox.list(uid, { limit: size, unreadOnly, ...(before ? { before } : {}) });
        seen.push(...ids(page));
        if (page.length < size) return seen;
        before = page[page.length - 1]?.message.id;
      }
    };

    describe('the everyone-timeline', () => {
      it('a broadcast is written once and seen by every user created before it, not by one created after', async () => {
        await stores.users.ensure('early-1', 1_000);
        await stores.users.ensure('early-2', 1_500);
        const broadcast = await post('everyone', 2_000);
        await stores.users.ensure('late', 3_000);
        for (const uid of ['early-1', 'early-2']) {
          assert.deepEqual(await listed(uid), [broadcast.id]);
          assert.equal(await stores.inbox.countUnread(uid), 1);
          assert.deepEqual(await stores.inbox.get(uid, broadcast.id), { message: broadcast, uid, deliveredAt: null, readAt: null, archivedAt: null });
        }
        assert.deepEqual(await listed('late'), []);
        assert.equal(await stores.inbox.countUnread('late'), 0);
        assert.equal(await stores.inbox.get('late', broadcast.id), undefined);
        assert.deepEqual(await stores.inbox.mark('late', [broadcast.id], 'read', 4_000), [], 'a user who does not see it cannot mark it');
        assert.deepEqual(await listed('unknown-user'), [], 'a uid that is no user sees no broadcast');
      });

      it('posting again keeps the first time, and answers it: a user created between the two posts does not see it', async () => {
        await stores.users.ensure('before', 1_000);
        const broadcast = await post('everyone', 2_000);
        await stores.users.ensure('between', 3_000);
        assert.deepEqual(await stores.timelines.post('everyone', broadcast, 4_000), { postedAt: 2_000 });
        assert.deepEqual(await listed('before'), [broadcast.id]);
        assert.deepEqual(await listed('between'), []);
      });

      it('posted says whether the message is in the timeline', async () => {
        const broadcast = await post('everyone', 2_000);
        assert.equal(await stores.timelines.posted('everyone', broadcast.id), true);
        assert.equal(await stores.timelines.posted(threadTimeline('elsewhere'), broadcast.id), false);
        assert.equal(await stores.timelines.posted('everyone', makeMessage({}).id), false);
      });

      it('per-user state is the user’s own: one reads, another archives, a third sees it unread', async () => {
        for (const uid of ['s-1', 's-2', 's-3']) await stores.users.ensure(uid, 1_000);
        const broadcast = await post('everyone', 2_000);
        assert.deepEqual(await stores.inbox.mark('s-1', [broadcast.id], 'delivered', 2_100), [broadcast.id]);
        assert.deepEqual(await stores.inbox.mark('s-1', [broadcast.id], 'read', 2_200), [broadcast.id]);
        await stores.inbox.mark('s-1', [broadcast.id], 'read', 2_900);
        assert.deepEqual(await stores.inbox.mark('s-2', [broadcast.id], 'archived', 2_300), [broadcast.id]);
        assert.deepEqual(await stores.inbox.get('s-1', broadcast.id), { message: broadcast, uid: 's-1', deliveredAt: 2_100, readAt: 2_200, archivedAt: null });
        assert.deepEqual(await listed('s-1'), [broadcast.id]);
        assert.deepEqual(await listed('s-1', { unreadOnly: true }), []);
        assert.equal(await stores.inbox.countUnread('s-1'), 0);
        assert.deepEqual(await listed('s-2'), [], 'archived: no longer listed');
        assert.equal(await stores.inbox.countUnread('s-2'), 0);
        assert.equal((await stores.inbox.get('s-2', broadcast.id))?.archivedAt, 2_300);
        assert.deepEqual(await listed('s-3', { unreadOnly: true }), [broadcast.id]);
        assert.equal(await stores.inbox.countUnread('s-3'), 1);
        // A read sets the delivered time when unset.
        await stores.inbox.mark('s-3', [broadcast.id], 'read', 2_400);
        assert.deepEqual(await stores.inbox.get('s-3', broadcast.id), { message: broadcast, uid: 's-3', deliveredAt: 2_400, readAt: 2_400, archivedAt: null });
      });

      it('a recalled broadcast leaves every inbox (list, count, get)', async () => {
        await stores.users.ensure('rc', 1_000);
        const kept = await post('everyone', 2_000);
        const recalled = await post('everyone', 2_100);
        await stores.messages.recall(recalled.id, 2_200);
        assert.deepEqual(await listed('rc'), [kept.id]);
        assert.equal(await stores.inbox.countUnread('rc'), 1);
        assert.equal(await stores.inbox.get('rc', recalled.id), undefined);
      });

      it('a newer broadcast of a topic replaces the older; post says which, also when repeated; an older posted late is not listed', async () => {
        await stores.users.ensure('tp', 1_000);
        const first = await post('everyone', 2_000, { topic: 'score' });
        const weather = await post('everyone', 2_100, { topic: 'weather' });
        const second = makeMessage({ target: { kind: 'everyone' }, topic: 'score' });
        const late = makeMessage({ target: { kind: 'everyone' }, topic: 'score' });
        const third = makeMessage({ target: { kind: 'everyone' }, topic: 'score' });
        for (const message of [second, late, third]) await stores.messages.insert({ message, status: 'triaged' });
        assert.deepEqual(await stores.timelines.post('everyone', second, 2_200), { postedAt: 2_200, replaces: first.id });
        assert.deepEqual(await stores.timelines.post('everyone', second, 2_250), { postedAt: 2_200, replaces: first.id }, 'repeated: the first time');
        assert.deepEqual(await listed('tp'), [second.id, weather.id]);
        assert.equal(await stores.inbox.countUnread('tp'), 2);
        assert.equal((await stores.inbox.get('tp', first.id))?.message.id, first.id, 'a replaced message is still the user’s');
        assert.deepEqual(await stores.timelines.post('everyone', third, 2_300), { postedAt: 2_300, replaces: second.id });
        assert.deepEqual(await stores.timelines.post('everyone', late, 2_400), { postedAt: 2_400 }, 'posted after a newer one of its topic: replaces nothing');
        assert.deepEqual(await listed('tp'), [third.id, weather.id]);
      });
    });

    describe('posts long after their message was created (a scheduled send)', () => {
      it('are listed, paged and counted for the users who saw the timeline when they were posted, by their ids', async () => {
        const day = 24 * 3_600_000;
        const t0 = Date.now() - 10 * day;
        /** A broadcast created at `created` (its id of that time) and posted at `posted`. */
        const broadcast = async (created: number, posted: number): Promise<Message> => {
          const message = makeMessage({ id: uuidv7({ msecs: created }), createdAt: created, target: { kind: 'everyone' } });
          await stores.messages.insert({ message, status: 'triaged' });
          await stores.timelines.post('everyone', message, posted);
          return message;
        };
        const before = await broadcast(t0 - 3 * day, t0 - 3 * day);
        await stores.users.ensure('sched', t0);
        const scheduled = await broadcast(t0 - 2 * day, t0 + day);
        const later = await broadcast(t0 + 2 * day, t0 + 2 * day);
        assert.deepEqual(await listed('sched'), [later.id, scheduled.id]);
        assert.deepEqual(await pagedAll('sched', 1), [later.id, scheduled.id]);
        assert.deepEqual(await pagedAll('sched', 1, true), [later.id, scheduled.id]);
        assert.equal(await stores.inbox.countUnread('sched'), 2);
        assert.equal((await stores.inbox.get('sched', scheduled.id))?.message.id, scheduled.id);
        assert.equal(await stores.inbox.get('sched', before.id), undefined, 'posted before the user was created');
      });
    });

    describe('the merge of own entries and timelines', () => {
      it('pages newest first across both sources with before, without gaps or repeats, unread too', async () => {
        await stores.users.ensure('mix', 1_000);
        await stores.users.ensure('other', 1_000);
        const all: Message[] = [];
        for (let i = 0; i < 9; i++) all.push(i % 3 === 0 ? await send('mix') : await post('everyone', 2_000 + i));
        await send('other');
        const newestFirst = all.map((m) => m.id).reverse();
        assert.deepEqual(await listed('mix'), newestFirst);
        for (const size of [1, 2, 4, 9, 50]) assert.deepEqual(await pagedAll('mix', size), newestFirst, `pages of ${size}`);
        // Read two broadcasts and one own entry: unread paging and the count skip exactly those.
        const read = [all[1], all[3], all[5]].map((m) => m?.id as string);
        assert.deepEqual((await stores.inbox.mark('mix', read, 'read', 3_000)).sort(), [...read].sort());
        const unread = newestFirst.filter((id) => !read.includes(id));
        for (const size of [1, 2, 5, 50]) assert.deepEqual(await pagedAll('mix', size, true), unread, `unread pages of ${size}`);
        assert.equal(await stores.inbox.countUnread('mix'), unread.length);
        assert.equal(await stores.inbox.countUnread('other'), 1 + 6, 'other sees its own entry and the six broadcasts');
      });

      it('since lists only newer entries of both sources, and combines with before', async () => {
        await stores.users.ensure('sn', 1_000);
        const a = await send('sn');
        const b = await post('everyone', 2_000);
        const c = await send('sn');
        const d = await post('everyone', 2_100);
        const e = await send('sn');
        assert.deepEqual(await listed('sn', { since: b.id }), [e.id, d.id, c.id]);
        assert.deepEqual(ids(await stores.inbox.list('sn', { limit: 10, since: a.id, before: e.id })), [d.id, c.id, b.id]);
        assert.deepEqual(ids(await stores.inbox.list('sn', { limit: 2, since: a.id })), [e.id, d.id]);
      });

      it('mark returns the found ids of both sources in the request’s order, ignoring others’ and unknown ids', async () => {
        await stores.users.ensure('mk', 1_000);
        const own = await send('mk');
        const broadcast = await post('everyone', 2_000);
        const foreign = await send('someone-else');
        const found = await stores.inbox.mark('mk', [broadcast.id, foreign.id, own.id, broadcast.id, 'not-an-id'], 'read', 3_000);
        assert.deepEqual(found, [broadcast.id, own.id]);
        assert.equal(await stores.inbox.countUnread('mk'), 0);
      });
    });

    describe('threads', () => {
      it('a member sees the thread’s messages posted while a member: not before joining, not after leaving, again after rejoining', async () => {
        await stores.users.ensure('tm', 500);
        const beforeJoin = await post(threadTimeline('news'), 900);
        assert.equal(await stores.timelines.join('news', 'tm', 1_000), true);
        assert.equal(await stores.timelines.join('news', 'tm', 1_100), false, 'already a member');
        const during = await post(threadTimeline('news'), 1_200);
        const elsewhere = await post(threadTimeline('sports'), 1_250);
        assert.deepEqual(await listed('tm'), [during.id]);
        assert.equal(await stores.timelines.leave('news', 'tm', 1_300), true);
        assert.equal(await stores.timelines.leave('news', 'tm', 1_350), false, 'no longer a member');
        const afterLeaving = await post(threadTimeline('news'), 1_400);
        assert.deepEqual(await listed('tm'), [during.id], 'what was seen while a member stays');
        assert.equal(await stores.inbox.get('tm', afterLeaving.id), undefined);
        assert.deepEqual(await stores.inbox.mark('tm', [afterLeaving.id, beforeJoin.id, elsewhere.id], 'read', 1_450), []);
        await stores.timelines.join('news', 'tm', 1_500);
        const rejoined = await post(threadTimeline('news'), 1_600);
        assert.deepEqual(await listed('tm'), [rejoined.id, during.id]);
        assert.equal(await stores.inbox.countUnread('tm'), 2);
        assert.deepEqual(await stores.inbox.mark('tm', [during.id], 'read', 1_700), [during.id]);
        assert.deepEqual(await listed('tm', { unreadOnly: true }), [rejoined.id]);
      });

      it('a topic collapses inside the thread while the user sees it; a user who left before the newer one keeps the older', async () => {
        await stores.timelines.join('live', 'stays', 1_000);
        await stores.timelines.join('live', 'leaves', 1_000);
        const older = await post(threadTimeline('live'), 1_100, { topic: 'score' });
        await stores.timelines.leave('live', 'leaves', 1_200);
        const newer = makeMessage({ target: { kind: 'thread', thread: 'live' }, topic: 'score' });
        await stores.messages.insert({ message: newer, status: 'triaged' });
        assert.deepEqual(await stores.timelines.post(threadTimeline('live'), newer, 1_300), { postedAt: 1_300, replaces: older.id });
        assert.deepEqual(await listed('stays'), [newer.id]);
        assert.deepEqual(await listed('leaves'), [older.id]);
        assert.equal(await stores.inbox.countUnread('leaves'), 1);
      });

      it('a member who left between two newer posts of a topic keeps the one seen last, not an older one', async () => {
        await stores.timelines.join('match', 'left', 1_000);
        const first = await post(threadTimeline('match'), 1_100, { topic: 'score' });
        const second = await post(threadTimeline('match'), 1_200, { topic: 'score' });
        await stores.timelines.leave('match', 'left', 1_250);
        await post(threadTimeline('match'), 1_300, { topic: 'score' });
        assert.deepEqual(await listed('left'), [second.id], `not ${first.id}: it was replaced while the user saw the thread`);
      });

      it('restoreTopic after a recall lists again the newest broadcast of the topic not recalled; a newer one replaces it', async () => {
        await stores.users.ensure('rt', 1_000);
        await stores.timelines.join('rt-thread', 'rt', 1_000);
        const first = await post('everyone', 2_000, { topic: 'score' });
        const second = await post('everyone', 2_100, { topic: 'score' });
        const third = await post('everyone', 2_200, { topic: 'score' });
        const inThread = await post(threadTimeline('rt-thread'), 2_250, { topic: 'score' });
        assert.deepEqual(await listed('rt'), [inThread.id, third.id]);
        await stores.messages.recall(third.id, 3_000);
        await stores.timelines.restoreTopic('everyone', 'score');
        assert.deepEqual(await listed('rt'), [inThread.id, second.id]);
        assert.equal(await stores.inbox.countUnread('rt'), 2);
        await stores.timelines.restoreTopic('everyone', 'score');
        assert.deepEqual(await listed('rt', { unreadOnly: true }), [inThread.id, second.id], 'restored again: the same');
        await stores.messages.recall(second.id, 3_100);
        await stores.timelines.restoreTopic('everyone', 'score');
        assert.deepEqual(await listed('rt'), [inThread.id, first.id]);
        const fourth = makeMessage({ target: { kind: 'everyone' }, topic: 'score' });
        await stores.messages.insert({ message: fourth, status: 'triaged' });
        assert.deepEqual(await stores.timelines.post('everyone', fourth, 3_200), { postedAt: 3_200, replaces: first.id });
        assert.deepEqual(await listed('rt'), [fourth.id, inThread.id]);
      });

      it('members and threadsOf list current memberships, paged by name', async () => {
        for (const uid of ['m-3', 'm-1', 'm-2', 'm-4']) await stores.timelines.join('club', uid, 1_000);
        await stores.timelines.join('chess', 'm-1', 1_100);
        await stores.timelines.join('art', 'm-1', 1_200);
        await stores.timelines.leave('club', 'm-4', 1_300);
        assert.deepEqual(await stores.timelines.members('club', 10), [
          { thread: 'club', uid: 'm-1', joinedAt: 1_000 },
          { thread: 'club', uid: 'm-2', joinedAt: 1_000 },
          { thread: 'club', uid: 'm-3', joinedAt: 1_000 },
        ]);
        const firstPage = await stores.timelines.members('club', 2);
        assert.deepEqual(
          firstPage.map((m) => m.uid),
          ['m-1', 'm-2'],
        );
        assert.deepEqual(
          (await stores.timelines.members('club', 2, 'm-2')).map((m) => m.uid),
          ['m-3'],
        );
        assert.deepEqual(await stores.timelines.threadsOf('m-1', 10), [
          { thread: 'art', uid: 'm-1', joinedAt: 1_200 },
          { thread: 'chess', uid: 'm-1', joinedAt: 1_100 },
          { thread: 'club', uid: 'm-1', joinedAt: 1_000 },
        ]);
        assert.deepEqual(
          (await stores.timelines.threadsOf('m-1', 1, 'art')).map((m) => m.thread),
          ['chess'],
        );
        assert.deepEqual(await stores.timelines.threadsOf('m-4', 10), []);
        assert.deepEqual(await stores.timelines.members('nobody-here', 10), []);
      });

      it('thread messages merge with the everyone-timeline and own entries', async () => {
        await stores.users.ensure('all', 1_000);
        await stores.timelines.join('t', 'all', 1_000);
        const a = await post('everyone', 2_000);
        const b = await post(threadTimeline('t'), 2_100);
        const c = await send('all');
        assert.deepEqual(await listed('all'), [c.id, b.id, a.id]);
        assert.deepEqual(await pagedAll('all', 1), [c.id, b.id, a.id]);
        assert.equal(await stores.inbox.countUnread('all'), 3);
      });
    });

    describe('unread floors (counting starts at the oldest unread entry)', () => {
      // Posts minutes apart, so that a floor (src/store/unread-floors.ts) can pass some of them.
      const MINUTE = 60_000;
      const at = (minutes: number) => 10_000_000 + minutes * MINUTE;
      /** The count, asserted equal to what paging the unread entries lists and to the unread ones of the whole list (read without floors). */
      const unread = async (uid: string): Promise<number> => {
        const count = await stores.inbox.countUnread(uid);
        assert.equal(count, (await pagedAll(uid, 3, true)).length, 'countUnread equals the unread pages');
        const all = await stores.inbox.list(uid, { limit: 1_000 });
        assert.equal(count, all.filter((item) => item.readAt === null).length, 'countUnread equals the unread entries of the whole list');
        return count;
      };

      it('counts stay exact while floors rise: entries read before unread ones, posts after the floor, reads of the oldest', async () => {
        await stores.users.ensure('fl', at(0));
        const posts: Message[] = [];
        for (let i = 1; i <= 10; i++) posts.push(await post('everyone', at(2 * i)));
        await stores.inbox.mark(
          'fl',
          posts.slice(0, 5).map((m) => m.id),
          'read',
          at(21),
        );
        for (let round = 0; round < 3; round++) assert.equal(await unread('fl'), 5, `round ${round}`);
        const eleventh = await post('everyone', at(22));
        assert.equal(await unread('fl'), 6);
        await stores.inbox.mark('fl', [posts[5]?.id as string], 'read', at(23));
        assert.equal(await unread('fl'), 5);
        await stores.inbox.mark('fl', [posts[9]?.id as string], 'archived', at(23));
        assert.equal(await unread('fl'), 4);
        await stores.inbox.mark('fl', [...posts.map((m) => m.id), eleventh.id], 'read', at(24));
        for (let round = 0; round < 2; round++) assert.equal(await unread('fl'), 0);
        // Posted less than a minute after the newest one a count saw: still counted.
        const soon = await post('everyone', at(22) + 30_000);
        const later = await post('everyone', at(40));
        assert.equal(await unread('fl'), 2);
        assert.deepEqual(await listed('fl', { unreadOnly: true }), [later.id, soon.id]);
        assert.equal((await stores.inbox.get('fl', posts[0]?.id as string))?.readAt, at(21), 'an entry before the floor keeps its state');
      });

      it('a recall that lists an older entry of a topic again counts it, though a floor had passed it', async () => {
        await stores.users.ensure('fr', at(0));
        const older = await post('everyone', at(2), { topic: 'score' });
        const newer = await post('everyone', at(4), { topic: 'score' });
        const other = await post('everyone', at(20));
        assert.equal(await unread('fr'), 2);
        assert.equal(await unread('fr'), 2, 'counted again from the floor');
        await stores.messages.recall(newer.id, at(21));
        await stores.timelines.restoreTopic('everyone', 'score');
        assert.deepEqual(await listed('fr', { unreadOnly: true }), [other.id, older.id]);
        assert.equal(await unread('fr'), 2);
        assert.equal(await unread('fr'), 2);
      });

      it('a leave that lists an older entry of a topic again (its newer one posted after the leave) counts it, though a floor had passed it', async () => {
        await stores.users.ensure('fv', at(0));
        await stores.timelines.join('leaving', 'fv', at(1));
        const older = await post(threadTimeline('leaving'), at(2), { topic: 'news' });
        await post(threadTimeline('leaving'), at(10), { topic: 'news' });
        assert.equal(await unread('fv'), 1, 'the newer one');
        // The leave's time comes before the newer post, as when its write was still in flight.
        await stores.timelines.leave('leaving', 'fv', at(10));
        assert.deepEqual(await listed('fv', { unreadOnly: true }), [older.id]);
        assert.equal(await unread('fv'), 1);
      });

      it('a thread member who left and came back: counted per period, from the floor', async () => {
        await stores.users.ensure('ft', at(0));
        await stores.timelines.join('floors', 'ft', at(1));
        const seen = [await post(threadTimeline('floors'), at(2)), await post(threadTimeline('floors'), at(4))];
        await stores.inbox.mark('ft', [seen[0]?.id as string], 'read', at(5));
        assert.equal(await unread('ft'), 1);
        await stores.timelines.leave('floors', 'ft', at(6));
        await post(threadTimeline('floors'), at(8));
        assert.equal(await unread('ft'), 1, 'nothing of the time away');
        await stores.timelines.join('floors', 'ft', at(10));
        const back = await post(threadTimeline('floors'), at(12));
        assert.equal(await unread('ft'), 2);
        await stores.inbox.mark('ft', [seen[1]?.id as string], 'read', at(13));
        assert.equal(await unread('ft'), 1);
        assert.deepEqual(await listed('ft', { unreadOnly: true }), [back.id]);
      });
    });

    describe('erasure and reach', () => {
      it('erasing a user removes their memberships and timeline state; the uid created again sees only what came after', async () => {
        await stores.users.ensure('gone', 1_000);
        await stores.timelines.join('t', 'gone', 1_000);
        const broadcast = await post('everyone', 2_000);
        await post(threadTimeline('t'), 2_100);
        await stores.inbox.mark('gone', [broadcast.id], 'read', 2_200);
        await stores.erasure.eraseUser('gone', 3_000);
        assert.deepEqual(await listed('gone'), []);
        assert.deepEqual(await stores.timelines.threadsOf('gone', 10), []);
        assert.deepEqual(await stores.timelines.members('t', 10), []);
        await stores.users.ensure('gone', 4_000);
        const after = await post('everyone', 5_000);
        assert.deepEqual(await listed('gone'), [after.id]);
        assert.equal(await stores.inbox.countUnread('gone'), 1);
      });

      it('pageReachable pages every user holding a device, an email or a phone, once', async () => {
        await stores.users.put({ uid: 'r-mail', email: 'a@example.test' }, 1_000);
        await stores.users.put({ uid: 'r-phone', phone: '+15550100' }, 1_000);
        await stores.users.ensure('r-device', 1_000);
        await stores.devices.register('r-device', webDevice('https://push.example.test/r'), 'dev-r', 1_000);
        await stores.users.ensure('r-none', 1_000);
        const seen = await walkReachable(stores.users, 2);
        assert.equal(new Set(seen).size, seen.length, 'each user once');
        for (const uid of ['r-mail', 'r-phone', 'r-device']) assert.ok(seen.includes(uid), uid);
        // An erased user is reachable no more.
        await stores.erasure.eraseUser('r-device', 2_000);
        const left = await walkReachable(stores.users, 2);
        assert.ok(!left.includes('r-device'));
        for (const uid of ['r-mail', 'r-phone']) assert.ok(left.includes(uid), uid);
      });
    });
  });
}
