/**
 * The right to erasure as the pipeline sees it (DELETE /api/v1/users/{uid}).
 *
 * `eraseUser` erases, in this order: the stores' data (ErasureStore, which records the erasure
 * first), then the search documents, then signals the gateways to close the user's sockets
 * (close code 4410). It resolves once the stores and search no longer hold the user's data.
 *
 * In-flight work: triage drops, from every page of recipients, each one erased at or after
 * the message was created (`recipientsNotErased`, by the erasure time in the page's facts), so
 * a scheduled message, a redelivered triage, recovery after a crash or a broadcast page read
 * while the erasure runs never writes an erased user's inbox entry or receipts again, nor sends
 * the user a frame. A message created after the erasure reaches the uid like any new user's.
 */
import { subjects } from '../bus/port.js';
import type { Message } from '../exchange/types.js';
import type { RecipientFacts } from '../store/port.js';
import type { PipelineDeps } from './deps.js';
import type { UserErased } from './recent-erasures.js';

/** WebSocket close code of a socket whose user was erased: final, a client must not reconnect. */
export const ERASED_CLOSE_CODE = 4410;

export async function eraseUser(deps: Pick<PipelineDeps, 'stores' | 'search' | 'bus' | 'now' | 'erasures'>, uid: string): Promise<void> {
  const at = deps.now();
  deps.erasures?.note({ uid, at });
  await deps.stores.erasure.eraseUser(uid, at);
  await deps.search.eraseUser(uid);
  deps.bus.emit(subjects.userErased, { uid, at } satisfies UserErased);
}

/**
 * The `uids` of a page of `message`'s recipients that were not erased since the message was
 * created, by their facts (RecipientStore), whatever the target: a broadcast, thread or
 * audience page read while an erasure is under way may still name the user.
 */
export function recipientsNotErased(message: Message, uids: string[], facts: ReadonlyMap<string, RecipientFacts>): string[] {
  return uids.filter((uid) => !erasedSince(message, facts.get(uid)?.erasedAt));
}

/** Whether an erasure at `erasedAt` (undefined: none) came at or after `message` was created. */
const erasedSince = (message: Message, erasedAt: number | undefined): boolean => erasedAt !== undefined && erasedAt >= message.createdAt;

/**
 * The `uids` not erased at or after `message` was created, whatever its target: for work planned
 * before an erasure and done after it (a delivery batch waiting on the bus or for its retry, a
 * receipt capability signed before). One read of the erasure record per call.
 */
export async function notErasedSince(deps: Pick<PipelineDeps, 'stores'>, message: Message, uids: string[]): Promise<string[]> {
  if (uids.length === 0) return uids;
  const erased = await deps.stores.erasure.erasedAt(uids);
  if (erased.size === 0) return uids;
  return uids.filter((uid) => !erasedSince(message, erased.get(uid)));
}
