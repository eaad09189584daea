/**
 * The egress policy (src/egress): the static URL checks, the address classifier (ipaddr.js
 * ranges), the registration check with a resolver the test controls, and the connect-time
 * check — a web push channel whose push service name resolves to a public address at
 * registration and to loopback when it connects (DNS rebinding) never sends a byte.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, it } from 'node:test';
import webpush from 'web-push';
import { createWebPushChannel } from '../../channels/webpush/webpush-channel.js';
import { checkEndpoint, EGRESS_REFUSED, guardedLookup, type Resolver } from '../../src/egress/lookup.js';
import { addressAllowed, checkUrl, isPublicAddress, parseAllowedHosts, STRICT_EGRESS } from '../../src/egress/policy.js';
import type { Device } from '../../src/exchange/types.js';
import { type PushServiceFake, startPushService } from '../fakes/push-service.js';
import { testCertificate } from '../fakes/tls.js';
import { channelTestMessage } from '../helpers/messages.js';

const DEV = { allowPrivate: true, allowedHosts: [] };
const refusal = (url: string, policy = STRICT_EGRESS) => {
  const checked = checkUrl(url, policy);
  return checked.ok ? 'ok' : checked.refusal;
};
const fixed =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('egress policy: URLs', () => {
  it('refuses IP literals in every spelling, userinfo and other schemes', () => {
    for (const url of [
      'https://127.0.0.1/p',
      'https://127.1/p',
      'https://2130706433/p',
      'https://0x7f.1/p',
      'https://0177.0.0.1/p',
      'https://0.0.0.0/p',
      'https://0/p',
      'https://[::1]/p',
      'https://[::ffff:127.0.0.1]/p',
      'https://8.8.8.8/p',
    ]) {
      assert.equal(refusal(url), 'ip-literal-not-allowed', url);
    }
    assert.equal(refusal('https://user:pw@push.example.com/p'), 'userinfo-not-allowed');
    assert.equal(refusal('https://user@push.example.com/p'), 'userinfo-not-allowed');
    assert.equal(refusal('http://push.example.com/p'), 'scheme-not-allowed');
    assert.equal(refusal('ftp://push.example.com/p'), 'scheme-not-allowed');
    assert.equal(refusal('not a url'), 'invalid-url');
    assert.equal(refusal('https://push.example.com/p'), 'ok');
  });

  it('applies the allow-list of host suffixes, with or without allowPrivate', () => {
    const hosts = parseAllowedHosts(' .Push.Services.Mozilla.com , fcm.googleapis.com.,');
    assert.deepEqual(hosts, ['push.services.mozilla.com', 'fcm.googleapis.com']);
    const policy = { allowPrivate: false, allowedHosts: hosts };
    assert.equal(refusal('https://updates.push.services.mozilla.com/wpush/v2/x', policy), 'ok');
    assert.equal(refusal('https://fcm.googleapis.com/fcm/send/x', policy), 'ok');
    assert.equal(refusal('https://FCM.googleapis.com./fcm/send/x', policy), 'ok');
    assert.equal(refusal('https://evilfcm.googleapis.com.attacker.test/x', policy), 'host-not-allowed');
    assert.equal(refusal('https://notfcm.googleapis.com/x', policy), 'host-not-allowed');
    assert.equal(refusal('https://127.0.0.1/x', { ...policy, allowPrivate: true }), 'host-not-allowed');
  });

  it('allowPrivate allows IP literals, and http: to loopback only', () => {
    assert.equal(refusal('https://127.0.0.1:9/p', DEV), 'ok');
    assert.equal(refusal('http://127.0.0.1:9/p', DEV), 'ok');
    assert.equal(refusal('http://[::1]:9/p', DEV), 'ok');
    assert.equal(refusal('http://10.0.0.1/p', DEV), 'scheme-not-allowed');
    assert.equal(refusal('http://localhost:9/p', DEV), 'ok');
    assert.equal(refusal('http://push.example.com/p', DEV), 'scheme-not-allowed');
    assert.equal(refusal('https://u:p@127.0.0.1/p', DEV), 'userinfo-not-allowed');
  });
});

describe('egress policy: addresses', () => {
  it('allows public unicast only (ipaddr.js ranges)', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2a00:1450:4001::200e', '2606:4700::1111']) assert.ok(isPublicAddress(a), a);
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.251',
      '192.0.2.1',
      '198.18.0.1',
      '::',
      '::1',
      'fe80::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::7f00:1',
      '64:ff9b::7f00:1',
      '2001:db8::1',
      'not-an-address',
    ]) {
      assert.ok(!isPublicAddress(a), a);
      assert.ok(!addressAllowed(a, STRICT_EGRESS), a);
    }
    assert.ok(addressAllowed('10.1.2.3', DEV));
    assert.ok(addressAllowed('127.0.0.1', DEV, true), 'http: to loopback with allowPrivate');
    assert.ok(!addressAllowed('10.1.2.3', DEV, true), 'http: never to a non-loopback address');
    assert.ok(!addressAllowed('127.0.0.1', STRICT_EGRESS, true));
  });

  it('checks every resolved address at registration; a name that does not resolve is refused', async () => {
    const url = 'https://push.example.test/p';
    assert.deepEqual(await checkEndpoint(url, STRICT_EGRESS, fixed('93.184.216.34')), { ok: true });
    assert.deepEqual(await checkEndpoint(url, STRICT_EGRESS, fixed('93.184.216.34', '10.0.0.1')), { ok: false, refusal: 'address-not-allowed' });
    assert.deepEqual(await checkEndpoint(url, STRICT_EGRESS, fixed('::1')), { ok: false, refusal: 'address-not-allowed' });
    assert.deepEqual(await checkEndpoint(url, STRICT_EGRESS, fixed()), { ok: false, refusal: 'unresolvable' });
    const failing: Resolver = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    };
    assert.deepEqual(await checkEndpoint(url, STRICT_EGRESS, failing), { ok: false, refusal: 'unresolvable' });
    assert.deepEqual(await checkEndpoint(url, DEV, fixed('10.0.0.1')), { ok: true });
    // The real resolver: localhost is loopback.
    assert.deepEqual(await checkEndpoint('https://localhost/p', STRICT_EGRESS), { ok: false, refusal: 'address-not-allowed' });
  });

  it('the guarded lookup answers like dns.lookup for allowed addresses and fails refused ones', async () => {
    const lookup = guardedLookup(STRICT_EGRESS, { resolver: fixed('93.184.216.34', '2606:4700::1111') });
    const one = await new Promise<unknown[]>((resolve) => lookup('h.test', {}, (...args) => resolve(args)));
    assert.deepEqual(one, [null, '93.184.216.34', 4]);
    const all = await new Promise<unknown[]>((resolve) => lookup('h.test', { all: true }, (...args) => resolve(args)));
    assert.equal(all[0], null);
    assert.equal((all[1] as LookupAddress[]).length, 2);
    const refused = guardedLookup(STRICT_EGRESS, { resolver: fixed('93.184.216.34', '127.0.0.1') });
    const [err] = await new Promise<unknown[]>((resolve) => refused('h.test', { all: true }, (...args) => resolve(args)));
    assert.equal((err as NodeJS.ErrnoException).code, EGRESS_REFUSED);
  });
});

describe('egress policy: connect time (DNS rebinding)', () => {
  let fake: PushServiceFake;
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@herald.test' };
  before(async () => {
    fake = await startPushService();
  });
  after(async () => fake?.close());

  const deviceFor = (endpoint: string, keys: { p256dh: string; auth: string }): Device => ({
    id: randomUUID(),
    uid: 'u1',
    kind: 'web',
    token: endpoint,
    keys,
    expirationTime: null,
    createdAt: 0,
  });

  it('a name that passed registration and now resolves to loopback is never connected to', async () => {
    const sub = fake.subscription();
    // The fake's certificate names localhost; its port is the fake's.
    const endpoint = sub.endpoint.replace('127.0.0.1', 'localhost');
    let answers = ['93.184.216.34'];
    const resolver: Resolver = async () => answers.map((address) => ({ address, family: 4 }));
    assert.deepEqual(await checkEndpoint(endpoint, STRICT_EGRESS, resolver), { ok: true }, 'allowed at registration');
    answers = ['127.0.0.1'];
    const before = fake.records.length;
    const channel = createWebPushChannel({ vapid, concurrency: 2, ca: testCertificate().cert, resolver });
    try {
      const [result] = await channel.deliver([
        { message: channelTestMessage(), recipient: { uid: 'u1' }, device: deviceFor(endpoint, sub.keys), channel: 'webpush', attempt: 1 },
      ]);
      assert.deepEqual(result, { type: 'failed', reason: 'endpoint-refused' });
      assert.equal(fake.records.length, before, 'the push service saw no request');
    } finally {
      await channel.close();
    }
    // Control: the same channel set-up with allowPrivate reaches the fake through the same resolver.
    const dev = createWebPushChannel({ vapid, concurrency: 2, ca: testCertificate().cert, resolver, egress: DEV });
    try {
      const [result] = await dev.deliver([
        { message: channelTestMessage(), recipient: { uid: 'u1' }, device: deviceFor(endpoint, sub.keys), channel: 'webpush', attempt: 1 },
      ]);
      // It connects and is answered (401: the fake expects a VAPID audience of 127.0.0.1, not localhost).
      assert.deepEqual(result, { type: 'failed', reason: 'http-401' });
      assert.equal(fake.records.length, before + 1, 'the push service saw the request');
    } finally {
      await dev.close();
    }
  });

  it('an IP literal stored before the policy is refused before any connection', async () => {
    const sub = fake.subscription();
    const before = fake.records.length;
    const channel = createWebPushChannel({ vapid, concurrency: 2, ca: testCertificate().cert });
    try {
      const [result] = await channel.deliver([
        { message: channelTestMessage(), recipient: { uid: 'u1' }, device: deviceFor(sub.endpoint, sub.keys), channel: 'webpush', attempt: 1 },
      ]);
      assert.deepEqual(result, { type: 'failed', reason: 'endpoint-refused' });
      assert.equal(fake.records.length, before);
    } finally {
      await channel.close();
    }
  });
});
