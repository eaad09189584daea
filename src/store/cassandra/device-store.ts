/**
 * Cassandra DeviceStore (tables: devices_by_token, devices_by_user; schema.ts). Guarantees,
 * beyond the DeviceStore port contract — the same as the SQLite adapter's:
 *  - devices_by_token says who holds a (kind, token): one holder at a time.
 *  - Re-registering a token the same uid holds returns the stored device (same id, original
 *    `createdAt`, `created: false`); for web, the subscription keys and expiration are updated.
 *  - Registering a token another uid holds moves it: the old holder's row is removed and the
 *    new one (the given id, `created: true`) stored. Both tables change in one logged batch
 *    (all or nothing, eventually). Two users registering one token at the same instant may
 *    both keep a devices_by_user row until either re-registers or the provider rejects it.
 *  - `listByUser` is ordered by creation time, then id; `listByUsers` reads devices_by_user
 *    IN_KEYS uids per request (`WHERE uid IN ?`), each user's list ordered the same way.
 *  - Every change is copied to the holder's recipient_facts row (recipient-store.ts) in the
 *    same batch; a re-registration that changes nothing writes only that copy.
 *  - `get(uid, id)` reads the user's devices_by_user partition (no table is keyed by device
 *    id): a user holds a handful of devices (HERALD_MAX_DEVICES_PER_USER), so it stays small.
 */
import type { Device, DeviceKind } from '../../exchange/types.js';
import type { DeviceStore, NewDevice } from '../port.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, mapLimit, type Statement, text } from './client.js';
import { byCreation, toDevice } from './device-row.js';
import { recipientFacts } from './recipient-store.js';
import { reachableShard } from './schema.js';

export function createCassandraDeviceStore(session: CqlSession): DeviceStore {
  const COLUMNS = 'id, uid, kind, push_token, keys, expiration_time, created_at';
  const SELECT_BY_TOKEN = `SELECT ${COLUMNS} FROM devices_by_token WHERE kind = ? AND push_token = ?`;
  const SELECT_BY_USER = `SELECT ${COLUMNS} FROM devices_by_user WHERE uid = ?`;
  const SELECT_BY_USERS = `SELECT ${COLUMNS} FROM devices_by_user WHERE uid IN ?`;
  const SELECT_OWNED = 'SELECT id FROM devices_by_user WHERE uid = ? AND kind = ? AND push_token = ?';
  const INSERT_BY_TOKEN = `INSERT INTO devices_by_token (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`;
  const INSERT_BY_USER = `INSERT INTO devices_by_user (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`;
  const UPDATE_SUBSCRIPTION_BY_TOKEN = 'UPDATE devices_by_token SET keys = ?, expiration_time = ? WHERE kind = ? AND push_token = ?';
  const UPDATE_SUBSCRIPTION_BY_USER = 'UPDATE devices_by_user SET keys = ?, expiration_time = ? WHERE uid = ? AND kind = ? AND push_token = ?';
  const DELETE_BY_TOKEN = 'DELETE FROM devices_by_token WHERE kind = ? AND push_token = ?';
  const DELETE_BY_USER = 'DELETE FROM devices_by_user WHERE uid = ? AND kind = ? AND push_token = ?';
  const INSERT_REACHABLE = 'INSERT INTO reachable_users (shard, uid) VALUES (?, ?)';

  const holderOf = async (kind: DeviceKind, token: string) => (await session.execute(SELECT_BY_TOKEN, [kind, token])).first();

  return {
    register: async (uid, device: NewDevice, id, at) => {
      // A device holder is reachable outside the app (UserStore.pageReachable); the index keeps it until the erasure.
      await session.execute(INSERT_REACHABLE, [reachableShard(uid), uid]);
      const keys = device.kind === 'web' ? JSON.stringify(device.keys) : undefined;
      const expirationTime = device.kind === 'web' ? device.expirationTime : undefined;
      const existing = await holderOf(device.kind, device.token);
      if (existing && existing.get('uid') === uid) {
        const stored = toDevice(existing, uid);
        if (device.kind !== 'web' || stored.kind !== 'web') {
          // Copied again: the device may predate recipient_facts (registered by an older process).
          await session.batch([recipientFacts.putDevice(stored)], false);
          return { device: stored, created: false };
        }
        const renewed: Device = { ...stored, keys: device.keys, expirationTime: device.expirationTime };
        await session.batch(
          [
            { query: UPDATE_SUBSCRIPTION_BY_TOKEN, params: [keys, expirationTime, device.kind, device.token] },
            { query: UPDATE_SUBSCRIPTION_BY_USER, params: [keys, expirationTime, uid, device.kind, device.token] },
            recipientFacts.putDevice(renewed),
          ],
          true,
        );
        return { device: renewed, created: false };
      }
      const values = [id, uid, device.kind, device.token, keys, expirationTime, at];
      const created: Device =
        device.kind === 'web'
          ? { id, uid, kind: 'web', token: device.token, keys: device.keys, expirationTime: device.expirationTime, createdAt: at }
          : { id, uid, kind: device.kind, token: device.token, createdAt: at };
      const statements: Statement[] = [
        { query: INSERT_BY_TOKEN, params: values },
        { query: INSERT_BY_USER, params: values },
        recipientFacts.putDevice(created),
      ];
      const previousHolder = existing ? text(existing.get('uid')) : null;
      if (previousHolder !== null) {
        statements.push({ query: DELETE_BY_USER, params: [previousHolder, device.kind, device.token] });
        statements.push(recipientFacts.dropDevice(previousHolder, device.kind, device.token));
      }
      await session.batch(statements, true);
      return { device: created, created: true };
    },

    remove: async (uid, kind, token) => {
      if ((await session.execute(SELECT_OWNED, [uid, kind, token])).rowLength === 0) return false;
      const statements: Statement[] = [{ query: DELETE_BY_USER, params: [uid, kind, token] }, recipientFacts.dropDevice(uid, kind, token)];
      if ((await holderOf(kind, token))?.get('uid') === uid) statements.push({ query: DELETE_BY_TOKEN, params: [kind, token] });
      await session.batch(statements, true);
      return true;
    },

    removeToken: async (kind, token) => {
      const holder = await holderOf(kind, token);
      if (!holder) return;
      const uid = text(holder.get('uid')) as string;
      await session.batch(
        [{ query: DELETE_BY_TOKEN, params: [kind, token] }, { query: DELETE_BY_USER, params: [uid, kind, token] }, recipientFacts.dropDevice(uid, kind, token)],
        true,
      );
    },

    listByUser: async (uid) => {
      const devices: Device[] = [];
      for await (const row of session.rows(SELECT_BY_USER, [uid])) devices.push(toDevice(row, uid));
      return devices.sort(byCreation);
    },

    get: async (uid, id) => {
      for await (const row of session.rows(SELECT_BY_USER, [uid])) if (row.get('id') === id) return toDevice(row, uid);
      return undefined;
    },

    listByUsers: async (uids) => {
      const found = new Map<string, Device[]>(uids.map((uid) => [uid, []]));
      await mapLimit(chunks([...found.keys()], IN_KEYS), DEFAULT_CONCURRENCY, async (keys) => {
        for await (const row of session.rows(SELECT_BY_USERS, [keys])) {
          const uid = text(row.get('uid')) as string;
          found.get(uid)?.push(toDevice(row, uid));
        }
      });
      for (const devices of found.values()) devices.sort(byCreation);
      return found;
    },
  };
}
