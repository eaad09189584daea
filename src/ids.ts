import { v7 as uuidv7 } from 'uuid';

/** Time-ordered ids (UUIDv7): sorting by id sorts by creation, so `since=<id>` paging works. */
export const newId = (): string => uuidv7();

/** Milliseconds since the epoch encoded in a UUIDv7. */
export const idTime = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isId = (value: string): boolean => UUID.test(value);
