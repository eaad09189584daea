/** Devices, users, audiences, inbox paging, search and reports through the REST API. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startInProcess } from '../helpers/herald.js';
import { unreachableSubscription } from '../helpers/subscriptions.js';

describe('devices, users and search', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let admin: string;
  before(async () => {
    // The subscriptions' endpoints are loopback: allowed for tests only.
    h = await startInProcess({ HERALD_WEBPUSH_ALLOW_PRIVATE: 'true' });
    admin = await h.token('ops', { admin: true });
  });
  after(() => h.stop());

  it('registers iOS, Android and web push devices idempotently, and removes them', async () => {
    const token = await h.token('dev-user');
    const ios = { os: 'ios', token: 'a'.repeat(64) };
    const android = { os: 'android', token: 'fcm-token:abcdefghijklmnopqrstuvwxyz' };
    const first = await h.api('POST', '/api/v1/native/subscribe', { token, body: ios });
    assert.equal(first.status, 201);
    const again = await h.api('POST', '/api/v1/native/subscribe', { token, body: ios });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token, body: android })).status, 201);
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token, body: unreachableSubscription('1') })).status, 201);

    assert.equal((await h.api('DELETE', '/api/v1/native/subscribe', { token, body: ios })).status, 204);
    const gone = await h.api('DELETE', '/api/v1/native/subscribe', { token, body: ios });
    assert.equal(gone.status, 404);
    // Another user cannot remove this user's subscription.
    assert.equal((await h.api('DELETE', '/api/v1/native/subscribe', { token: await h.token('intruder'), body: unreachableSubscription('1') })).status, 404);
  });

  it('validates device registrations field by field', async () => {
    const token = await h.token('dev-user');
    const bad = await h.api('POST', '/api/v1/native/subscribe', { token, body: { os: 'ios', token: 'not-hex' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].path, 'token');
    const web = await h.api('POST', '/api/v1/native/subscribe', {
      token,
      body: { endpoint: 'http://insecure.example.com/x', keys: { p256dh: 'x', auth: 'y' } },
    });
    assert.equal(web.status, 400);
    const paths = web.body.errors.map((e: any) => e.path).sort();
    assert.deepEqual(paths, ['endpoint', 'keys.auth', 'keys.p256dh']);
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token, body: { os: 'windows', token: 'x' } })).body.errors[0].path, 'os');
  });

  it('stores users (admin: everything; self: contact fields) and validates them', async () => {
    const put = await h.api('PUT', '/api/v1/users/pat', {
      token: admin,
      body: { email: 'pat@example.com', phone: '+33612345678', locale: 'fr-FR', timezone: 'Europe/Paris', attributes: { plan: 'pro', country: 'FR' } },
    });
    assert.equal(put.status, 200);
    assert.deepEqual(
      { uid: put.body.uid, email: put.body.email, phone: put.body.phone, timezone: put.body.timezone, attributes: put.body.attributes },
      { uid: 'pat', email: 'pat@example.com', phone: '+33612345678', timezone: 'Europe/Paris', attributes: { plan: 'pro', country: 'FR' } },
    );
    const self = await h.api('PUT', '/api/v1/users/pat', { token: await h.token('pat'), body: { locale: 'en' } });
    assert.equal(self.status, 200);
    assert.equal(self.body.locale, 'en');
    assert.deepEqual(self.body.attributes, { plan: 'pro', country: 'FR' }, 'attributes untouched by a contact update');
    const bad = await h.api('PUT', '/api/v1/users/pat', { token: admin, body: { email: 'nope', phone: '0612', timezone: 'Mars/Olympus' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors.map((e: any) => e.path).sort(), ['email', 'phone', 'timezone']);
  });

  it('multicasts to an audience selected by attributes, devices and presence', async () => {
    await h.api('PUT', '/api/v1/users/aud-fr', { token: admin, body: { attributes: { plan: 'pro', country: 'FR' } } });
    await h.api('PUT', '/api/v1/users/aud-de', { token: admin, body: { attributes: { plan: 'pro', country: 'DE' } } });
    await h.api('PUT', '/api/v1/users/aud-us', { token: admin, body: { attributes: { plan: 'pro', country: 'US' } } });
    await h.api('PUT', '/api/v1/users/aud-free', { token: admin, body: { attributes: { plan: 'free', country: 'FR' } } });
    await h.api('POST', '/api/v1/native/subscribe', { token: await h.token('aud-de'), body: unreachableSubscription('7') });

    const res = await h.api('POST', '/api/v1/multicast', {
      token: admin,
      body: { msg: 'pro in EU', audience: { where: { plan: 'pro', country: ['FR', 'DE'] } } },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.recipients, null);
    const inboxHas = async (uid: string) =>
      (await h.api('GET', '/api/v1/messages', { token: await h.token(uid) })).body.messages.some((m: any) => m.id === res.body.id);
    await eventually(async () => (await inboxHas('aud-fr')) && (await inboxHas('aud-de')), 10_000, 'audience reached');
    assert.equal(await inboxHas('aud-us'), false);
    assert.equal(await inboxHas('aud-free'), false);

    const web = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'web users', audience: { has: 'web', where: { plan: 'pro' } } } });
    await h.triaged(web.body.id, admin);
    assert.equal(
      await (async () => (await h.api('GET', '/api/v1/messages', { token: await h.token('aud-de') })).body.messages.some((m: any) => m.id === web.body.id))(),
      true,
    );
    assert.equal(
      await (async () => (await h.api('GET', '/api/v1/messages', { token: await h.token('aud-fr') })).body.messages.some((m: any) => m.id === web.body.id))(),
      false,
    );

    const socket = await h.socket('aud-us');
    const online = await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'online pros', audience: { where: { plan: 'pro' }, online: true } } });
    await socket.next((f) => f.id === online.body.id);
    await h.triaged(online.body.id, admin);
    assert.equal(await inboxHas('aud-fr'), true);
    assert.equal(
      (await h.api('GET', '/api/v1/messages', { token: await h.token('aud-fr') })).body.messages.some((m: any) => m.id === online.body.id),
      false,
    );
    socket.close();
    assert.equal((await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'x', audience: {} } })).status, 400);
    assert.equal((await h.api('POST', '/api/v1/multicast', { token: admin, body: { msg: 'x', uids: ['a'], audience: { online: true } } })).status, 400);
  });

  it('pages the inbox newest first with an opaque cursor, and since= keeps newer ones', async () => {
    const token = await h.token('pager');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await h.api('POST', '/api/v1/send', { token: admin, body: { msg: `n${i}`, uid: 'pager' } })).body.id);
    await eventually(async () => (await h.api('GET', '/api/v1/messages?limit=200', { token })).body.messages.length === 7, 10_000, 'seven in inbox');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await h.api('GET', `/api/v1/messages?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
      seen.push(...res.body.messages.map((m: any) => m.id));
      cursor = res.body.next;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse());
    const since = await h.api('GET', `/api/v1/messages?since=${ids[4]}`, { token });
    assert.deepEqual(
      since.body.messages.map((m: any) => m.id),
      [ids[6], ids[5]],
    );
  });

  it('searches message text for admins, newest first, with filters', async () => {
    const a = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'Your parcel has shipped', uid: 'searcher', opts: { title: 'Parcel' } } });
    const b = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'Another parcel update', uid: 'other' } });
    await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'unrelated', uid: 'searcher' } });
    const found = await eventually(
      async () => {
        const r = await h.api('GET', '/api/v1/messages/search?q=parcel', { token: admin });
        return r.body.messages.length >= 2 ? r : undefined;
      },
      10_000,
      'search results',
    );
    assert.deepEqual(
      found.body.messages.slice(0, 2).map((m: any) => m.id),
      [b.body.id, a.body.id],
    );
    const filtered = await h.api('GET', '/api/v1/messages/search?q=parcel&uid=searcher', { token: admin });
    assert.deepEqual(
      filtered.body.messages.map((m: any) => m.id),
      [a.body.id],
    );
    const paged = await h.api('GET', '/api/v1/messages/search?q=parcel&limit=1', { token: admin });
    assert.equal(paged.body.messages.length, 1);
    assert.equal(paged.body.next, b.body.id);
    assert.equal((await h.api('GET', '/api/v1/messages/search', { token: admin })).body.errors[0].path, 'q');
  });

  it('reports delivery counts grouped by channel, urgency or state', async () => {
    const s = await h.socket('reported');
    const res = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'count me', uid: 'reported', opts: { urgency: 'high' } } });
    await s.next((f) => f.id === res.body.id);
    s.send({ type: 'read', ids: [res.body.id] });
    const byState = await eventually(
      async () => {
        const r = await h.api('GET', '/api/v1/reports?groupBy=state', { token: admin });
        return r.body.rows.some((row: any) => row.key === 'sent' && row.count >= 1) ? r : undefined;
      },
      10_000,
      'report rows',
    );
    assert.equal(byState.status, 200);
    const byChannel = await h.api('GET', '/api/v1/reports?groupBy=channel', { token: admin });
    assert.ok(byChannel.body.rows.some((row: any) => row.key === 'realtime' && row.count >= 1));
    const byUrgency = await h.api('GET', '/api/v1/reports?groupBy=urgency', { token: admin });
    assert.ok(byUrgency.body.rows.some((row: any) => row.key === 'high' && row.count >= 1));
    const past = await h.api('GET', '/api/v1/reports?groupBy=state&from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z', { token: admin });
    assert.deepEqual(past.body.rows, []);
    assert.equal((await h.api('GET', '/api/v1/reports?groupBy=weather', { token: admin })).body.errors[0].path, 'groupBy');
    s.close();
  });
});
