import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Time-ordered ids (UUIDv7): sorting by id sorts by creation, so `since=<id>` paging works. */
export const newId = (): string => uuidv7();

/** Herald's UUIDv5 namespace (a random UUID, fixed for good: changing it changes every derived id). */
const HERALD_NAMESPACE = '3f1c2f64-8a7e-4d6b-9d2a-5b0e8c1f7a39';

/** An id derived from `name` (UUIDv5): the same name always gives the same id, never time-ordered. */
export const derivedId = (name: string): string => uuidv5(name, HERALD_NAMESPACE);

/** The smallest UUIDv7 text of `ms` (a prefix sorts before every id that starts with it): a lower bound for id ranges; '' before the epoch. */
export function idPrefixAt(ms: number): string {
  if (ms <= 0) return '';
  const hex = Math.floor(ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export const idTime = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isId = (value: string): boolean => UUID.test(value);
