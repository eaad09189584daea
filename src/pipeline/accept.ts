/**
 * Accepting a message: the step behind a 202. When `accept` resolves the message is durable —
 * stored, and either scheduled or published for triage. A crash after the store write and
 * before the publish is repaired at start-up by recovery.ts, which republishes every message
 * still `accepted`.
 */
import { createHash } from 'node:crypto';
import { subjects } from '../bus/port.js';
import { buildMessage, type MessageOptions } from '../exchange/message.js';
import type { Message, Target } from '../exchange/types.js';
import { newId } from '../ids.js';
import type { PipelineDeps } from './deps.js';
import { IdempotencyConflictError } from './errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
export const SCHEDULED_SEND = 'scheduled-send';

export interface AcceptRequest {
  sender: string;
  /** Whether the sender's token was an admin's. */
  senderAdmin: boolean;
  /** Confine the message to in-app channels (the sending policy's decision). */
  inAppOnly?: boolean;
  target: Target;
  msg: string;
  opts: MessageOptions | undefined;
}

export async function accept(deps: PipelineDeps, request: AcceptRequest): Promise<{ id: string; replayed: boolean }> {
  const message = buildMessage({
    id: newId(),
    sender: request.sender,
    senderAdmin: request.senderAdmin,
    inAppOnly: request.inAppOnly ?? false,
    target: request.target,
    msg: request.msg,
    opts: request.opts,
    now: deps.now(),
  });
  const key = request.opts?.idempotencyKey;
  const idempotency = key ? { key, bodyHash: hashRequest(request), ttlMs: IDEMPOTENCY_TTL_MS } : undefined;

  // A scheduled message's job is written first: if we crash before the message is stored, the
  // job finds nothing and does nothing, and the client, having had no 202, retries.
  if (message.notBefore !== undefined) {
    await deps.scheduler.schedule({ id: scheduledSendJobId(message.id), kind: SCHEDULED_SEND, runAt: message.notBefore, payload: { messageId: message.id } });
  }
  const stored = await deps.stores.messages.insert({ message, status: message.notBefore !== undefined ? 'scheduled' : 'accepted' }, idempotency);
  if (!stored.inserted) {
    if (message.notBefore !== undefined) await deps.scheduler.cancel(scheduledSendJobId(message.id));
    if (idempotency && stored.bodyHash !== idempotency.bodyHash) {
      throw new IdempotencyConflictError(idempotency.key);
    }
    return { id: stored.existingId, replayed: true };
  }
  if (message.notBefore === undefined) await publishForTriage(deps, message, { justAccepted: true });
  deps.metrics.acceptedMessages.inc({ urgency: message.urgency, target: message.target.kind });
  deps.search.indexMessage(message).catch((error: unknown) => deps.log.warn({ err: error, messageId: message.id }, 'message not indexed for search'));
  return { id: message.id, replayed: false };
}

/**
 * What triage consumes on `herald.accepted.<urgency>`. `accepted`: the message as its accept has
 * just stored it (status accepted, no cursor), so that its first triage need not read it back
 * (triage.ts); absent for a long uid list (the event stays far below the bus's payload limit)
 * and for every other publish (a scheduled send whose time came, a recovery).
 */
export interface TriageEvent {
  messageId: string;
  accepted?: Message;
}

/** The longest uid list a triage event carries with its message. */
const CARRIED_UIDS = 500;

/** Publishes `message` for triage; `justAccepted` when its accept has just stored it. */
export const publishForTriage = (deps: Pick<PipelineDeps, 'bus'>, message: Message, options: { justAccepted?: boolean } = {}) => {
  const carried = options.justAccepted === true && (message.target.kind !== 'users' || message.target.uids.length <= CARRIED_UIDS);
  return deps.bus.publish(subjects.accepted(message.urgency), { messageId: message.id, ...(carried ? { accepted: message } : {}) } satisfies TriageEvent);
};

export const scheduledSendJobId = (messageId: string) => `send:${messageId}`;

/** The same request hashes the same whatever its key order. */
function hashRequest(request: AcceptRequest): string {
  return createHash('sha256')
    .update(canonicalJson({ target: request.target, msg: request.msg, opts: request.opts ?? {} }))
    .digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
