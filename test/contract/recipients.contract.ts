/**
 * Contract suite for the RecipientStore port (src/store/port.ts): after every kind of change the
 * owning stores make (user, preferences, devices, erasure), `factsOf` answers what those stores
 * answer — the Cassandra adapter keeps a copy of them, which this suite checks stays in step.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contactOf } from '../../src/exchange/recipient.js';
import type { RecipientFacts, Stores } from '../../src/store/port.js';
import { webDevice } from './contract-helpers.js';
import type { StoresHarness } from './stores.contract.js';

/** What the owning stores answer for `uid`, as RecipientFacts. */
async function owned(stores: Stores, uid: string): Promise<RecipientFacts> {
  const [user, preferences, devices, erased] = await Promise.all([
    stores.users.get(uid),
    stores.users.getPreferences(uid),
    stores.devices.listByUser(uid),
    stores.erasure.erasedAt([uid]),
  ]);
  const contact = contactOf(user);
  const erasedAt = erased.get(uid);
  return { contact, preferences, devices, ...(erasedAt !== undefined ? { erasedAt } : {}) };
}

/** `factsOf` with the contact fields that are absent left out, as `owned` builds them. */
async function factsOf(stores: Stores, uids: string[]): Promise<Map<string, RecipientFacts>> {
  const facts = await stores.recipients.factsOf(uids);
  for (const fact of facts.values()) {
    for (const [field, value] of Object.entries(fact.contact)) if (value === undefined) delete fact.contact[field as keyof RecipientFacts['contact']];
  }
  return facts;
}

export function recipientsContract(name: string, open: () => Promise<StoresHarness>): void {
  describe(`RecipientStore contract: ${name}`, () => {
    let harness: StoresHarness;
    let stores: Stores;

    beforeEach(async () => {
      harness = await open();
      stores = harness.stores;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const assertInStep = async (uids: string[]) => {
      const facts = await factsOf(stores, uids);
      assert.deepEqual([...facts.keys()].sort(), [...new Set(uids)].sort(), 'every uid asked is answered');
      for (const uid of uids) assert.deepEqual(facts.get(uid), await owned(stores, uid), uid);
    };

    it('answers an unknown uid with no contact, empty preferences and no device', async () => {
      const facts = await factsOf(stores, ['nobody']);
      assert.deepEqual(facts.get('nobody'), { contact: {}, preferences: { channels: {}, categories: {} }, devices: [] });
    });

    it('answers the contact fields and preferences as put, a field given later beside the earlier ones', async () => {
      await stores.users.put({ uid: 'a', email: 'a@example.com', locale: 'fr', attributes: { plan: 'pro' } }, 1);
      await stores.users.put({ uid: 'a', phone: '+33600000001' }, 2);
      await stores.users.put({ uid: 'a', attributes: { plan: 'free' } }, 3);
      await stores.users.ensure('b', 4);
      await stores.users.put({ uid: 'c', timezone: 'Europe/Paris' }, 5);
      await stores.users.putPreferences('a', { channels: { sms: false }, categories: { news: { enabled: false } } });
      await stores.users.putPreferences('d', { channels: { email: false }, categories: {} });
      await assertInStep(['a', 'b', 'c', 'd']);
      assert.deepEqual((await factsOf(stores, ['a'])).get('a')?.contact, { email: 'a@example.com', phone: '+33600000001', locale: 'fr' });
    });

    it('answers the devices as registered, renewed, moved to another user and removed', async () => {
      await stores.devices.register('a', { kind: 'ios', token: 'ios-1' }, 'd1', 10);
      await stores.devices.register('a', webDevice('https://push.example/1'), 'd2', 20);
      await stores.devices.register('a', { kind: 'android', token: 'fcm-1' }, 'd3', 30);
      // Renewed: new keys for the same subscription.
      await stores.devices.register('a', { ...webDevice('https://push.example/1'), keys: { p256dh: 'renewed', auth: 'renewed' } }, 'd2-again', 40);
      await assertInStep(['a']);
      // Moved: b registers a's token.
      await stores.devices.register('b', { kind: 'ios', token: 'ios-1' }, 'd4', 50);
      await assertInStep(['a', 'b']);
      assert.deepEqual(
        (await factsOf(stores, ['b'])).get('b')?.devices.map((d) => d.id),
        ['d4'],
      );
      await stores.devices.remove('a', 'android', 'fcm-1');
      await stores.devices.removeToken('web', 'https://push.example/1');
      await assertInStep(['a', 'b']);
      assert.deepEqual((await factsOf(stores, ['a'])).get('a')?.devices, []);
    });

    it('answers an erasure time, and nothing else of the erased user, until it is created again', async () => {
      await stores.users.put({ uid: 'gone', email: 'gone@example.com' }, 1);
      await stores.users.putPreferences('gone', { channels: { email: false }, categories: {} });
      await stores.devices.register('gone', { kind: 'ios', token: 'gone-ios' }, 'dg', 2);
      await stores.erasure.eraseUser('gone', 100);
      await assertInStep(['gone']);
      assert.deepEqual((await factsOf(stores, ['gone'])).get('gone'), {
        contact: {},
        preferences: { channels: {}, categories: {} },
        devices: [],
        erasedAt: 100,
      });
      await stores.users.put({ uid: 'gone', phone: '+33600000002' }, 200);
      await stores.devices.register('gone', { kind: 'android', token: 'again' }, 'dg2', 201);
      await assertInStep(['gone']);
    });
  });
}
