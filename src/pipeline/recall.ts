/**
 * Recall (DELETE /api/v1/messages/{id}): the sender or an admin takes a message back.
 *
 *  - A scheduled message is cancelled: its send job is removed, and the recalled status keeps
 *    it from being triaged should the job fire anyway (triage only takes `accepted` messages).
 *  - A sent one leaves every inbox at once: MessageStore.recall is one write, and no inbox lists,
 *    counts or gets the entries of a recalled message (src/store/port.ts), so the cost of the
 *    request does not grow with the audience. Triage still running stops after its current page
 *    of recipients, and whatever it added stays hidden; deliveries not yet sent are dropped
 *    (src/pipeline/delivery.ts); a fallback due later finds no entry and sends nothing.
 *  - Every triage process hears of the recall (`herald.messages.recalled`, from the recall and
 *    again from its sweep): one about to triage the message from the copy its event carries
 *    drops it instead (recent-recalls.ts).
 *  - Then the sweep, a scheduler job due at once (`recall:<id>`, so durable and run by a worker
 *    after the answer), recipient page by recipient page (the same pages as triage): each
 *    recipient's pending fallback job is cancelled, its sockets get `{"type":"recall","id"}`
 *    (one broadcast frame for a message to everyone), and its push copies are withdrawn
 *    (withdraw.ts: a close push to the service worker, APNs/FCM updates with the collapse id).
 *    A message of a topic gives back what it replaced: before the recall frames, its timeline's
 *    topic, or each recipient's, is collapsed again without it (restoreTopic), so the newest
 *    message of the topic not recalled is listed once more. Until the sweep has run, the ones it
 *    replaced stay hidden. A page of triage written after the sweep passed its recipients would
 *    hide them again: triage reads the status once a topic message's page or post is written,
 *    and gives back itself (triage.ts giveBack). An audience is evaluated again for
 *    the sweep: someone who no longer matches it gets neither the frame nor the give-back.
 *    A job interrupted by a crash runs again from the start: every step is idempotent. A second
 *    DELETE schedules it again (the same job id), which covers a crash between the recall's write
 *    and the job's.
 */
import { subjects } from '../bus/port.js';
import { fallbackJobId } from '../exchange/fallback.js';
import type { Message } from '../exchange/types.js';
import { scheduledSendJobId } from './accept.js';
import type { PipelineDeps } from './deps.js';
import type { MessageRecalled } from './recent-recalls.js';
import { emitToTimeline, timelineOf } from './timeline.js';
import { giveBack, recipientPage } from './triage.js';
import { withdrawCopies } from './withdraw.js';

export type RecallDeps = Pick<PipelineDeps, 'stores' | 'bus' | 'search' | 'presence' | 'scheduler' | 'log' | 'traits' | 'channels' | 'now'>;

/** The frame a recalled message's recipients' sockets get. */
export interface RecallFrame {
  type: 'recall';
  id: string;
}

export type RecallOutcome = 'recalled' | 'not-found';

/**
 * Recalls message `id` for `caller` (its sender, or an admin). `not-found` when there is no such
 * message or the caller may not recall it (the same answer: nothing tells them it exists).
 * Recalling a recalled message again is `recalled` and does nothing more.
 */
export async function recallMessage(deps: RecallDeps, caller: { uid: string; admin: boolean }, id: string): Promise<RecallOutcome> {
  const stored = await deps.stores.messages.get(id);
  if (!stored || (!caller.admin && stored.message.sender !== caller.uid)) return 'not-found';
  if (stored.status === 'scheduled') {
    await deps.stores.messages.recall(id, deps.now());
    await deps.scheduler.cancel(scheduledSendJobId(id));
    return 'recalled';
  }
  if (stored.status !== 'recalled') await deps.stores.messages.recall(id, deps.now());
  announceRecall(deps, id);
  await deps.scheduler.schedule({ id: `recall:${id}`, kind: RECALL_SWEEP, runAt: deps.now(), payload: { messageId: id } });
  return 'recalled';
}

export const RECALL_SWEEP = 'recall-sweep';

/**
 * Tells every triage process of the recall: one holding the message's event, copy and all,
 * drops it (recent-recalls.ts). Said by the recall and again by its sweep, so a signal the
 * recalling process could not send (its bus connection was down: the signal waits in its
 * buffer) is sent by a worker before any recall frame goes out.
 */
const announceRecall = (deps: Pick<RecallDeps, 'bus'>, id: string): void => deps.bus.emit(subjects.messageRecalled, { id } satisfies MessageRecalled);

/** Runs the sweeps of recalled messages (a worker role, beside the other scheduler handlers). */
export function handleRecallSweeps(deps: RecallDeps): void {
  deps.scheduler.handle<{ messageId: string }>(RECALL_SWEEP, async (job) => {
    const stored = await deps.stores.messages.get(job.payload.messageId);
    if (stored?.status !== 'recalled') return;
    announceRecall(deps, stored.message.id);
    await sweepRecipients(deps, stored.message);
  });
}

async function sweepRecipients(deps: RecallDeps, message: Message): Promise<void> {
  const frame: RecallFrame = { type: 'recall', id: message.id };
  // A timeline message's sockets get one frame per gateway; others', one per recipient. What
  // the message replaced of its topic is listed again before the frame, which has a client
  // that shows the topic fetch its inbox again (client/src/client.ts).
  const timeline = timelineOf(message);
  if (timeline !== undefined) {
    await giveBack(deps, message, { timeline });
    emitToTimeline(deps.bus, message, frame, deps.now());
  }
  let cursor: string | undefined;
  do {
    const page = await recipientPage(deps, message, cursor);
    for (const uid of page.uids) {
      await deps.scheduler.cancel(fallbackJobId(message.id, uid));
      if (timeline === undefined) {
        await giveBack(deps, message, { uids: [uid] });
        deps.bus.emit(subjects.userFrames(uid), frame);
      }
      await withdrawCopies(deps, uid, [message.id], 'recall');
    }
    cursor = page.next;
  } while (cursor !== undefined);
}
