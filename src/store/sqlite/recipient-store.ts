/**
 * SQLite RecipientStore: the facts of a page of recipients read from the stores that own them
 * (users, preferences, devices, erasures) — one database, so there is nothing to keep in step.
 */
import { contactOf } from '../../exchange/recipient.js';
import type { DeviceStore, ErasureStore, RecipientFacts, RecipientStore, UserStore } from '../port.js';

export function createSqliteRecipientStore(users: UserStore, devices: DeviceStore, erasure: ErasureStore): RecipientStore {
  return {
    factsOf: async (uids) => {
      const [found, preferences, held, erased] = await Promise.all([
        users.getMany(uids),
        users.getPreferencesMany(uids),
        devices.listByUsers(uids),
        erasure.erasedAt(uids),
      ]);
      const userByUid = new Map(found.map((user) => [user.uid, user]));
      const facts = new Map<string, RecipientFacts>();
      for (const uid of uids) {
        const erasedAt = erased.get(uid);
        facts.set(uid, {
          contact: contactOf(userByUid.get(uid)),
          preferences: preferences.get(uid) ?? { channels: {}, categories: {} },
          devices: held.get(uid) ?? [],
          ...(erasedAt !== undefined ? { erasedAt } : {}),
        });
      }
      return facts;
    },
  };
}
