/**
 * SQLite DeviceStore. Guarantees, beyond the DeviceStore port contract:
 *  - (kind, token) is unique: one registration per token, whoever holds it.
 *  - Re-registering a token the same uid holds returns the stored device (same id, original
 *    `createdAt`, `created: false`); for web, the subscription keys and expiration are updated.
 *  - Registering a token another uid holds moves it: the old registration is removed and a new
 *    one (the given id, `created: true`) is stored for the new uid, in one transaction.
 *  - `listByUser` is ordered by creation time, then id; `get(uid, id)` is a primary-key read.
 */
import type { Device, DeviceKind } from '../../exchange/types.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import { sqlite } from '../../sqlite/unavailable.js';
import type { DeviceStore, NewDevice } from '../port.js';

interface DeviceRow {
  id: string;
  uid: string;
  kind: DeviceKind;
  token: string;
  keys: string | null;
  expiration_time: number | null;
  created_at: number;
}

const COLUMNS = 'id, uid, kind, token, keys, expiration_time, created_at';

function toDevice(row: DeviceRow): Device {
  if (row.kind === 'web') {
    return {
      id: row.id,
      uid: row.uid,
      kind: 'web',
      token: row.token,
      keys: JSON.parse(row.keys ?? '{}') as { p256dh: string; auth: string },
      expirationTime: row.expiration_time,
      createdAt: row.created_at,
    };
  }
  return { id: row.id, uid: row.uid, kind: row.kind, token: row.token, createdAt: row.created_at };
}

export function createSqliteDeviceStore(db: SqliteDatabase): DeviceStore {
  const selectByToken = db.prepare<[string, string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE kind = ? AND token = ?`);
  const selectById = db.prepare<[string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = ?`);
  const selectOwnedById = db.prepare<[string, string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = ? AND uid = ?`);
  const selectByUser = db.prepare<[string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE uid = ? ORDER BY created_at, id`);
  const selectByUsers = db.prepare<[string], DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE uid IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`);
  const insertDevice = db.prepare(`INSERT INTO devices (${COLUMNS}) VALUES (@id, @uid, @kind, @token, @keys, @expirationTime, @createdAt)`);
  const updateSubscription = db.prepare('UPDATE devices SET keys = ?, expiration_time = ? WHERE id = ?');
  const deleteById = db.prepare('DELETE FROM devices WHERE id = ?');
  const deleteOwned = db.prepare('DELETE FROM devices WHERE uid = ? AND kind = ? AND token = ?');
  const deleteToken = db.prepare('DELETE FROM devices WHERE kind = ? AND token = ?');

  const registerTx = db.transaction((uid: string, device: NewDevice, id: string, at: number) => {
    const keys = device.kind === 'web' ? JSON.stringify(device.keys) : null;
    const expirationTime = device.kind === 'web' ? device.expirationTime : null;
    const existing = selectByToken.get(device.kind, device.token);
    if (existing && existing.uid === uid) {
      if (device.kind === 'web') updateSubscription.run(keys, expirationTime, existing.id);
      return { device: toDevice(selectById.get(existing.id) as DeviceRow), created: false };
    }
    if (existing) deleteById.run(existing.id);
    insertDevice.run({ id, uid, kind: device.kind, token: device.token, keys, expirationTime, createdAt: at });
    return { device: toDevice(selectById.get(id) as DeviceRow), created: true };
  });

  return {
    register: (uid, device, id, at) => sqlite(() => registerTx.immediate(uid, device, id, at)),
    remove: (uid, kind, token) => sqlite(() => deleteOwned.run(uid, kind, token).changes > 0),
    removeToken: (kind, token) =>
      sqlite(() => {
        deleteToken.run(kind, token);
      }),
    listByUser: (uid) => sqlite(() => selectByUser.all(uid).map(toDevice)),
    get: (uid, id) =>
      sqlite(() => {
        const row = selectOwnedById.get(id, uid);
        return row ? toDevice(row) : undefined;
      }),
    listByUsers: (uids) =>
      sqlite(() => {
        const found = new Map<string, Device[]>(uids.map((uid) => [uid, []]));
        if (uids.length > 0) for (const row of selectByUsers.all(JSON.stringify(uids))) found.get(row.uid)?.push(toDevice(row));
        return found;
      }),
  };
}
