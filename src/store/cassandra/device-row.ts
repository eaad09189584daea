/** A row of devices_by_user / devices_by_token as a Device, and the order devices are listed in. */
import type { Device, DeviceKind } from '../../exchange/types.js';
import { long, text } from './client.js';

type Row = { get(name: string): unknown };

export function toDevice(row: Row, uid: string): Device {
  const kind = text(row.get('kind')) as DeviceKind;
  const base = { id: text(row.get('id')) as string, uid, token: text(row.get('push_token')) as string, createdAt: long(row.get('created_at')) ?? 0 };
  if (kind === 'web') {
    return {
      ...base,
      kind: 'web',
      keys: JSON.parse(text(row.get('keys')) ?? '{}') as { p256dh: string; auth: string },
      expirationTime: long(row.get('expiration_time')),
    };
  }
  return { ...base, kind };
}

/** Creation time, then id. */
export const byCreation = (a: Device, b: Device) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
