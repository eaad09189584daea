/**
 * The web push egress policy and the device cap over real HTTP against a started Herald:
 * every spelling of a loopback / private / unspecified address, userinfo, http: and names
 * resolving to loopback are refused at registration with 400 naming `endpoint` (the default
 * policy); HERALD_WEBPUSH_HOSTS limits hosts even with HERALD_WEBPUSH_ALLOW_PRIVATE; one device
 * more than HERALD_MAX_DEVICES_PER_USER is 409 HERALD_DEVICE_LIMIT (re-registering is fine);
 * and a user reads reason codes in receipts, never the push service's Location or status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PushServiceFake, pushServiceClientEnv, startPushService } from '../fakes/push-service.js';
import { eventually, startChild, startInProcess } from '../helpers/herald.js';

const KEYS = { p256dh: `B${'A'.repeat(86)}`, auth: 'AAAAAAAAAAAAAAAAAAAAAA' };
const hexToken = (n: number) => n.toString(16).padStart(64, '0');

describe('egress policy at registration (default: public https hosts only)', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess();
  });
  after(async () => h?.stop());

  const register = async (endpoint: string) =>
    h.api('POST', '/api/v1/native/subscribe', { token: await h.token('eve'), body: { endpoint, keys: KEYS, expirationTime: null } });

  const cases: Array<[string, RegExp]> = [
    ['https://127.0.0.1:8443/push/x', /ip-literal-not-allowed/],
    ['https://127.1/push/x', /ip-literal-not-allowed/],
    ['https://2130706433/push/x', /ip-literal-not-allowed/],
    ['https://0x7f.1/push/x', /ip-literal-not-allowed/],
    ['https://[::ffff:127.0.0.1]/push/x', /ip-literal-not-allowed/],
    ['https://[::1]/push/x', /ip-literal-not-allowed/],
    ['https://0.0.0.0/push/x', /ip-literal-not-allowed/],
    ['https://169.254.169.254/latest/meta-data', /ip-literal-not-allowed/],
    ['https://user:secret@push.example.com/push/x', /userinfo-not-allowed/],
    ['http://push.example.com/push/x', /scheme-not-allowed/],
    ['https://localhost/push/x', /address-not-allowed/],
    // A resolver may answer loopback for `localhost.` or find nothing: refused either way.
    ['https://localhost./push/x', /address-not-allowed|unresolvable/],
    ['https://no-such-host.invalid/push/x', /unresolvable/],
  ];
  for (const [endpoint, reason] of cases) {
    it(`refuses ${endpoint}`, async () => {
      const res = await register(endpoint);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(res.body.code, 'HERALD_INVALID_REQUEST');
      assert.equal(res.body.errors?.[0]?.path, 'endpoint');
      assert.match(res.body.errors[0].message, reason);
    });
  }

  it('stores nothing that was refused', async () => {
    const token = await h.token('eve');
    // Re-registering a refused endpoint is refused again (nothing was stored to re-register).
    const res = await h.api('POST', '/api/v1/native/subscribe', { token, body: { endpoint: 'https://127.1/push/x', keys: KEYS } });
    assert.equal(res.status, 400);
  });
});

describe('egress allow-list (HERALD_WEBPUSH_HOSTS) with HERALD_WEBPUSH_ALLOW_PRIVATE', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_WEBPUSH_ALLOW_PRIVATE: 'true', HERALD_WEBPUSH_HOSTS: 'localhost' });
  });
  after(async () => h?.stop());

  const register = async (endpoint: string) => h.api('POST', '/api/v1/native/subscribe', { token: await h.token('ann'), body: { endpoint, keys: KEYS } });

  it('accepts a listed host (loopback allowed for development) and http: to loopback', async () => {
    assert.equal((await register('https://localhost:8443/push/a')).status, 201);
    assert.equal((await register('http://localhost:8080/push/b')).status, 201);
  });

  it('refuses a host not on the list, an IP literal included', async () => {
    for (const endpoint of ['https://127.0.0.1:8443/push/c', 'https://push.example.com/push/c']) {
      const res = await register(endpoint);
      assert.equal(res.status, 400, endpoint);
      assert.equal(res.body.errors?.[0]?.path, 'endpoint');
      assert.match(res.body.errors[0].message, /host-not-allowed/);
    }
  });

  it('still refuses userinfo', async () => {
    const res = await register('https://u:p@localhost:8443/push/d');
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0].message, /userinfo-not-allowed/);
  });
});

describe('device cap (HERALD_MAX_DEVICES_PER_USER)', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  before(async () => {
    h = await startInProcess({ HERALD_MAX_DEVICES_PER_USER: '3' });
  });
  after(async () => h?.stop());

  it('refuses one device more with 409 HERALD_DEVICE_LIMIT; re-registering and other users are fine', async () => {
    const token = await h.token('max');
    const register = (n: number, as = token) => h.api('POST', '/api/v1/native/subscribe', { token: as, body: { os: 'ios', token: hexToken(n) } });
    for (const n of [1, 2, 3]) assert.equal((await register(n)).status, 201);
    const over = await register(4);
    assert.equal(over.status, 409, JSON.stringify(over.body));
    assert.match(over.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(over.body.code, 'HERALD_DEVICE_LIMIT');
    assert.match(over.body.detail, /HERALD_MAX_DEVICES_PER_USER=3/);
    assert.equal((await register(2)).status, 200, 're-registering an existing device');
    assert.equal((await register(4, await h.token('other'))).status, 201, 'another user has its own cap');
    const removed = await h.api('DELETE', '/api/v1/native/subscribe', { token, body: { os: 'ios', token: hexToken(1) } });
    assert.equal(removed.status, 204);
    assert.equal((await register(5)).status, 201, 'room again after removing one');
  });
});

describe('receipts show reason codes, never the push service Location or status', () => {
  let fake: PushServiceFake;
  let h: Awaited<ReturnType<typeof startChild>>;
  before(async () => {
    fake = await startPushService();
    h = await startChild(pushServiceClientEnv());
    fake.expectVapidKey = (await h.api('GET', '/api/v1/webpush/vapid-public-key')).body.key;
  });
  after(async () => {
    await h?.kill('SIGTERM');
    await fake?.close();
  });

  const webpushReceipt = async (id: string, token: string, state: string) =>
    eventually(
      async () => {
        const res = await h.api('GET', `/api/v1/messages/${id}`, { token });
        return res.status === 200 ? res.body.receipts?.find((r: any) => r.channel === 'webpush' && r.state === state) : undefined;
      },
      15_000,
      `webpush ${state}`,
    );

  it('sent: the user sees no reason (the admin view keeps the Location as detail)', async () => {
    const sub = fake.subscription();
    const user = await h.token('rita');
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: user, body: sub })).status, 201);
    const admin = await h.token('ops', { admin: true });
    const send = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'hi', uid: 'rita', opts: { channels: ['webpush'] } } });
    assert.equal(send.status, 202);
    const mine = await webpushReceipt(send.body.id, user, 'sent');
    assert.equal(mine.reason, null);
    assert.ok(!('detail' in mine), 'no detail for the user');
    const raw = JSON.stringify((await h.api('GET', `/api/v1/messages/${send.body.id}`, { token: user })).body);
    assert.ok(!raw.includes(fake.origin) && !raw.includes('/message/'), `no Location in ${raw}`);
    const adminView = await webpushReceipt(send.body.id, admin, 'sent');
    assert.match(adminView.detail, new RegExp(`^${fake.origin}/message/`));
  });

  it('failed: the user sees provider-rejected, not the status', async () => {
    const sub = fake.subscription();
    fake.answer(fake.idOf(sub.endpoint), [{ status: 403 }]);
    const user = await h.token('sam');
    assert.equal((await h.api('POST', '/api/v1/native/subscribe', { token: user, body: sub })).status, 201);
    const admin = await h.token('ops', { admin: true });
    const send = await h.api('POST', '/api/v1/send', { token: admin, body: { msg: 'hi', uid: 'sam', opts: { channels: ['webpush'] } } });
    const mine = await webpushReceipt(send.body.id, user, 'failed');
    assert.equal(mine.reason, 'provider-rejected');
    assert.ok(!JSON.stringify(mine).includes('403'));
    assert.equal((await webpushReceipt(send.body.id, admin, 'failed')).detail, 'http-403');
  });
});
