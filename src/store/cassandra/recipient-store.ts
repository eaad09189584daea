/**
 * Cassandra RecipientStore (table: recipient_facts, migration 9; schema.ts): one row per uid
 * holding what triage plans a delivery with — the user's addresses and rendering (email, phone,
 * locale, timezone), the preferences, the devices (a map of JSON by kind and token) and the
 * time of the last erasure — so a page of recipients is one read (`WHERE uid IN ?`, IN_KEYS
 * uids per request) where the tables that own these facts would take four.
 *
 * The row is a copy kept in step by the stores that own the facts, each writing its part in
 * the same request as its own rows (an unlogged batch; a logged one where the owner's rows
 * already are):
 *  - UserStore: `put` copies the addresses and rendering fields it is given (the same columns,
 *    the same column-level last write wins); `putPreferences` the preferences.
 *  - DeviceStore: `register` sets the device (a re-registration too, so a device registered by
 *    a process older than migration 9 is copied when it registers again), a token moving to
 *    another user leaves the old holder's map, `remove` and `removeToken` take it out.
 *  - ErasureStore: the erasure time with the erasure's record, the other columns with the
 *    user's rows.
 * Migration 9 copies what the owning tables held when it ran. What a process older than it
 * writes afterwards (during a rolling upgrade) is not copied until the owner writes it again.
 */
import { CONTACT_FIELDS, type Contact } from '../../exchange/recipient.js';
import type { Device, DeviceKind, Preferences, User } from '../../exchange/types.js';
import type { RecipientFacts, RecipientStore } from '../port.js';
import { type CqlSession, chunks, DEFAULT_CONCURRENCY, IN_KEYS, long, mapLimit, type Statement, text } from './client.js';
import { byCreation, toDevice } from './device-row.js';
import type { MigrationCql } from './migration.js';

/** The map key of a device in recipient_facts.devices: a (kind, token) is held by one user at a time. */
export const deviceKey = (kind: DeviceKind, token: string): string => `${kind} ${token}`;

/** The statements by which the owning stores keep recipient_facts in step (see the header). */
export const recipientFacts = {
  /** The contact fields of a user record that `patch` gives (the others stay, sent as unset); none when it gives none. */
  contact: (uid: string, patch: Partial<User>): Statement[] =>
    CONTACT_FIELDS.some((field) => patch[field] !== undefined)
      ? [
          {
            query: 'UPDATE recipient_facts SET email = ?, phone = ?, locale = ?, timezone = ? WHERE uid = ?',
            params: [patch.email, patch.phone, patch.locale, patch.timezone, uid],
          },
        ]
      : [],
  preferences: (uid: string, preferences: Preferences): Statement => ({
    query: 'UPDATE recipient_facts SET preferences = ? WHERE uid = ?',
    params: [JSON.stringify(preferences), uid],
  }),
  putDevice: (device: Device): Statement => ({
    query: 'UPDATE recipient_facts SET devices[?] = ? WHERE uid = ?',
    params: [deviceKey(device.kind, device.token), JSON.stringify(device), device.uid],
  }),
  dropDevice: (uid: string, kind: DeviceKind, token: string): Statement => ({
    query: 'DELETE devices[?] FROM recipient_facts WHERE uid = ?',
    params: [deviceKey(kind, token), uid],
  }),
  erasedAt: (uid: string, at: number): Statement => ({ query: 'UPDATE recipient_facts SET erased_at = ? WHERE uid = ?', params: [at, uid] }),
  /** Everything but the erasure time. */
  erase: (uid: string): Statement => ({
    query: 'DELETE email, phone, locale, timezone, preferences, devices FROM recipient_facts WHERE uid = ?',
    params: [uid],
  }),
};

type Row = { get(name: string): unknown };

function factsOfRow(row: Row): RecipientFacts {
  const contact: Contact = {};
  for (const field of CONTACT_FIELDS) {
    const value = text(row.get(field));
    if (value !== null) contact[field] = value;
  }
  const preferences = text(row.get('preferences'));
  const devices = (row.get('devices') as Record<string, string> | null) ?? {};
  const erasedAt = long(row.get('erased_at'));
  return {
    contact,
    preferences: preferences === null ? { channels: {}, categories: {} } : (JSON.parse(preferences) as Preferences),
    devices: Object.values(devices)
      .map((json) => JSON.parse(json) as Device)
      .sort(byCreation),
    ...(erasedAt !== null ? { erasedAt } : {}),
  };
}

const noFacts = (): RecipientFacts => ({ contact: {}, preferences: { channels: {}, categories: {} }, devices: [] });

export function createCassandraRecipientStore(session: CqlSession): RecipientStore {
  const SELECT_IN = 'SELECT uid, email, phone, locale, timezone, preferences, devices, erased_at FROM recipient_facts WHERE uid IN ?';
  return {
    factsOf: async (uids) => {
      const facts = new Map<string, RecipientFacts>(uids.map((uid) => [uid, noFacts()]));
      await mapLimit(chunks([...facts.keys()], IN_KEYS), DEFAULT_CONCURRENCY, async (keys) => {
        for await (const row of session.rows(SELECT_IN, [keys])) facts.set(text(row.get('uid')) as string, factsOfRow(row));
      });
      return facts;
    },
  };
}

/**
 * Migration 9's backfill: copies into recipient_facts what the owning tables hold — the contact
 * fields of users, preferences, devices_by_user, erased_users — a table scan each, writes PAGE
 * at a time. Each copy is written at the write time of the cell it copies (`USING TIMESTAMP`
 * from `WRITETIME`), so a change the stores make while the scan runs — a newer value, a device
 * removed, an erasure — wins over the older copy however the two interleave. Idempotent: an
 * interrupted run is run again.
 */
export async function backfillRecipientFacts(cql: MigrationCql, ks: string): Promise<void> {
  const PAGE = 500;
  const pending = new Map<string, unknown[][]>();
  const flush = async (all: boolean): Promise<void> => {
    for (const [update, params] of pending) {
      if (!all && params.length < PAGE) continue;
      await cql.executeMany(update, params);
      pending.delete(update);
    }
  };
  const copy = async (update: string, params: unknown[]): Promise<void> => {
    const list = pending.get(update) ?? [];
    list.push(params);
    pending.set(update, list);
    if (list.length >= PAGE) await flush(false);
  };
  const uid = (row: Row) => text(row.get('uid')) as string;
  const writeTime = (row: Row, column: string) => row.get(`writetime(${column})`);
  const contactColumns = CONTACT_FIELDS.map((field) => `${field}, WRITETIME(${field})`).join(', ');
  for await (const row of cql.rows(`SELECT uid, ${contactColumns} FROM ${ks}.users`)) {
    for (const field of CONTACT_FIELDS) {
      const value = row.get(field);
      if (value !== null) await copy(`UPDATE ${ks}.recipient_facts USING TIMESTAMP ? SET ${field} = ? WHERE uid = ?`, [writeTime(row, field), value, uid(row)]);
    }
  }
  for await (const row of cql.rows(`SELECT uid, body, WRITETIME(body) FROM ${ks}.preferences`)) {
    await copy(`UPDATE ${ks}.recipient_facts USING TIMESTAMP ? SET preferences = ? WHERE uid = ?`, [writeTime(row, 'body'), row.get('body'), uid(row)]);
  }
  for await (const row of cql.rows(`SELECT uid, id, kind, push_token, keys, expiration_time, created_at, WRITETIME(id) FROM ${ks}.devices_by_user`)) {
    const device = toDevice(row, uid(row));
    await copy(`UPDATE ${ks}.recipient_facts USING TIMESTAMP ? SET devices[?] = ? WHERE uid = ?`, [
      writeTime(row, 'id'),
      deviceKey(device.kind, device.token),
      JSON.stringify(device),
      device.uid,
    ]);
  }
  for await (const row of cql.rows(`SELECT uid, erased_at, WRITETIME(erased_at) FROM ${ks}.erased_users`)) {
    await copy(`UPDATE ${ks}.recipient_facts USING TIMESTAMP ? SET erased_at = ? WHERE uid = ?`, [writeTime(row, 'erased_at'), row.get('erased_at'), uid(row)]);
  }
  await flush(true);
}
