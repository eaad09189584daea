/**
 * Triage: expands a message's recipients page by page and turns each recipient's plan
 * (src/exchange/plan.ts) into inbox entries, receipts and delivery work.
 *
 * One consumer per urgency subject, so a backlog of low-urgency work never stands in front of
 * a high-urgency message. Recipients are read in pages (never all in memory) and the message's
 * cursor is saved after each page, so a crash resumes where it stopped; every write is
 * idempotent, so the page in progress at the crash is simply planned again.
 *
 * With HERALD_CAP_PER_HOUR, a recipient over their cap gets no intrusive delivery of a message
 * below `high` (`suppressed` / `cap`) and the message joins their digest (src/exchange/caps.ts).
 *
 * A broadcast or a thread message is written once, to its timeline (timeline.ts), before any
 * frame goes out — so a client reconnecting with `since=` finds it — and reaches live sockets
 * through one signal (each gateway publishes it to its sockets in one call). No inbox entry and
 * no `sent` receipt is written per user: triage visits only the users who need work of their
 * own — a broadcast's reachable users (a device, an email, a phone), a thread's members — for
 * their devices, fallbacks and caps.
 *
 * What it costs a message (the cluster bench prints it per send): a just accepted message comes
 * in its event, not read back, when the process would have heard of its recall (storedMessage);
 * a page of recipients' facts is one read (RecipientStore), with their presence; the inbox
 * entries one write; frames to live sockets go out from here, not through a delivery worker (their checks —
 * recall, erasure, expiry — are the ones triage has just made), and the last page's move to
 * `triaged` goes with their `sent` receipts — the Cassandra stores send the plain writes of one
 * event-loop turn together (src/store/cassandra/turn-batch.ts).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Channel } from '../../channels/port.js';
import { type Subscription, subjects } from '../bus/port.js';
import { capPlan, cappedFallback, countsAgainstCap } from '../exchange/caps.js';
import { addressesDevices, addressesSockets } from '../exchange/channel-traits.js';
import { type FallbackStep, fallbackFor } from '../exchange/fallback.js';
import { messageFrame } from '../exchange/message.js';
import { type PlanDelivery, planRecipient } from '../exchange/plan.js';
import { type Contact, deliveryRecipient } from '../exchange/recipient.js';
import { type ChannelName, type Message, type Receipt, URGENCIES, type Urgency } from '../exchange/types.js';
import type { RecipientFacts, StoredMessage, TimelineId } from '../store/port.js';
import type { TriageEvent } from './accept.js';
import { audiencePage } from './audience.js';
import { deliverPlannedToSockets } from './delivery.js';
import { DELIVERY_BATCH_SIZE, type DeliveryBatch, type DeliveryItem } from './delivery-batch.js';
import type { PipelineDeps } from './deps.js';
import { recipientsNotErased } from './erasure.js';
import { scheduleFallback } from './fallback.js';
import { recordReceipts } from './receipts.js';
import { broadcastVisitsEveryone, emitToTimeline, publishesToSockets, timelineOf } from './timeline.js';

export const TRIAGE_PAGE_SIZE = 500;
/**
 * Messages triaged at once, per urgency subject. The embedded stores commit the writes of one
 * event-loop turn together (src/sqlite/group-commit.ts): triage keeps pace with ingest
 * only when enough messages are in flight to share those commits.
 */
const TRIAGE_CONCURRENCY: Record<Urgency, number> = { high: 128, normal: 128, low: 32, 'very-low': 32 };

export function startTriage(deps: PipelineDeps): Subscription[] {
  return URGENCIES.map((urgency) =>
    deps.bus.consume<TriageEvent>(subjects.accepted(urgency), 'triage', ({ data, fresh }) => triageMessage(deps, data, fresh), {
      concurrency: TRIAGE_CONCURRENCY[urgency],
    }),
  );
}

/** `fresh`: the bus's word that no triage can have had this event before (WorkMessage.fresh). */
export async function triageMessage(deps: PipelineDeps, event: TriageEvent, fresh: boolean): Promise<void> {
  const stored = await storedMessage(deps, event, fresh);
  // Scheduled messages are published again when their time comes; triaged ones are done.
  if (stored?.status !== 'accepted') return;
  const { message } = stored;
  let cursor = stored.cursor;
  let timeline = timelineOf(message);
  // A broadcast part-way through its expansion and not on the timeline was begun by a Herald
  // without timelines (before the upgrade, or an older process in a rolling one): it has written
  // an inbox entry per user so far, so it goes on that way and is not posted — nobody sees it twice.
  const legacy = timeline === 'everyone' && cursor !== undefined && !(await deps.stores.timelines.posted(timeline, message.id));
  if (legacy) timeline = undefined;
  const expired = message.expiresAt !== undefined && deps.now() >= message.expiresAt;
  // Nobody is to see an expired timeline message: it is not posted, and no one needs a receipt of it.
  if (timeline !== undefined && expired) return deps.stores.messages.setStatus(message.id, 'triaged');
  // A post repeated after a crash keeps its first time, which its frame names again.
  const post = timeline === undefined ? undefined : await deps.stores.timelines.post(timeline, message, deps.now());
  if (timeline !== undefined) await giveBackIfRecalled(deps, message, { timeline });
  const toTimeline: TimelinePlan | undefined = post === undefined ? undefined : { replaces: post.replaces, viaTopic: publishesToSockets(deps, message) };
  if (post !== undefined && toTimeline?.viaTopic && cursor === undefined && !heardRecalled(deps, message)) {
    emitToTimeline(deps.bus, message, messageFrame(message, toTimeline.replaces), post.postedAt);
    // Let the gateway write the frames before the first page of work takes the loop.
    await yieldToEventLoop();
  }

  // Page n + 1 is read (recipients, users, preferences, devices, presence: reads only) while
  // page n is written; the cursor still moves only after a page's writes are done.
  const expansion = { everyUser: legacy };
  let loading = loadPage(deps, message, cursor, expansion);
  const finish = () => deps.stores.messages.setStatus(message.id, 'triaged');
  for (;;) {
    const page = await loading;
    if (page.next !== undefined) {
      loading = loadPage(deps, message, page.next, expansion);
      // Awaited at the next turn; until then, a failure must not count as unhandled.
      loading.catch(() => undefined);
    }
    const last = page.next === undefined;
    if (page.uids.length > 0) await planPage(deps, message, page, toTimeline, last ? finish : undefined);
    else if (last) await finish();
    if (last) return;
    // Recalled meanwhile (recall.ts): the rest of the audience gets nothing; what is written is hidden.
    if ((await deps.stores.messages.get(message.id))?.status === 'recalled') return;
    cursor = page.next;
    await deps.stores.messages.setStatus(message.id, 'accepted', cursor);
    // Embedded stores answer synchronously, so awaiting them never lets I/O in: yield to the
    // event loop between pages, or a long expansion would hold up requests and urgent work.
    await yieldToEventLoop();
  }
}

/**
 * The message to triage, as stored. The event of a just accepted message carries it
 * (TriageEvent): its insert resolved before the publish, and since then only a recall can have
 * changed it — which must stop it before any frame goes out, for the recall's sweep, due at
 * once, may have run already. The copy is used, not read back, only when both hold:
 *  - the event is fresh: no triage can have had it before. A redelivery (a triage that failed
 *    or died part-way has a status and maybe a cursor to resume from) and work a re-created
 *    consumer replays (maybe triaged already: framed, pushed, mailed) are not;
 *  - this process would have heard of every recall of the message (src/pipeline/recent-recalls.ts).
 * Anything else — a recovery, a scheduled send, an old or unheard-of message — is read back.
 */
async function storedMessage(deps: PipelineDeps, event: TriageEvent, fresh: boolean): Promise<StoredMessage | undefined> {
  const known = event.accepted !== undefined && fresh ? deps.recalls?.status(event.messageId) : undefined;
  if (known === 'recalled') return undefined;
  if (event.accepted === undefined || known !== 'not-recalled') return deps.stores.messages.get(event.messageId);
  deps.stores.messages.remember?.(event.messageId);
  return { message: event.accepted, status: 'accepted' };
}

/**
 * A message of a topic written (inbox entries, a timeline post) after its recall's sweep passed
 * them would hide the older message of its topic again, which the sweep gave back
 * (src/pipeline/recall.ts): once its writes are durable, a recalled one gives it back itself.
 * One more read of the message per page, for messages with a topic only.
 */
async function giveBackIfRecalled(deps: PipelineDeps, message: Message, where: TopicPlace): Promise<void> {
  if (message.topic === undefined || ('uids' in where && where.uids.length === 0)) return;
  if ((await deps.stores.messages.get(message.id))?.status !== 'recalled') return;
  await giveBack(deps, message, where);
}

/** Where a message's topic is collapsed: its timeline, or the inboxes of these users. */
export type TopicPlace = { uids: string[] } | { timeline: TimelineId };

/** A recalled message of a topic gives back, in `where`, what it replaced (restoreTopic); the recall's sweep and triage. */
export async function giveBack(deps: Pick<PipelineDeps, 'stores'>, message: Message, where: TopicPlace): Promise<void> {
  const { topic } = message;
  if (topic === undefined) return;
  if ('timeline' in where) await deps.stores.timelines.restoreTopic(where.timeline, topic);
  else for (const uid of where.uids) await deps.stores.inbox.restoreTopic(uid, topic);
}

/** Whether this process has heard of the message's recall (recent-recalls.ts): a check without a read, made before frames go out. */
const heardRecalled = (deps: PipelineDeps, message: Message): boolean => deps.recalls?.status(message.id) === 'recalled';

/** How a timeline message's recipients are planned: what its post replaced, and whether sockets got it by one publish. */
interface TimelinePlan {
  replaces: string | undefined;
  viaTopic: boolean;
}

/** A page of recipients. */
interface RecipientPage {
  uids: string[];
  next?: string;
}

/** What planning a page needs, all read before any of its writes. */
interface LoadedPage {
  uids: string[];
  next?: string;
  facts: Map<string, RecipientFacts>;
  online: Set<string>;
}

async function loadPage(deps: PipelineDeps, message: Message, cursor: string | undefined, expansion: Expansion): Promise<LoadedPage> {
  const page = await recipientPage(deps, message, cursor, expansion);
  if (page.uids.length === 0) return { uids: [], next: page.next, facts: new Map(), online: new Set() };
  const [facts, online] = await Promise.all([deps.stores.recipients.factsOf(page.uids), deps.presence.onlineAmong(page.uids)]);
  // Erased users get nothing of a message addressed to them before their erasure (erasure.ts).
  return { uids: recipientsNotErased(message, page.uids, facts), next: page.next, facts, online };
}

/** How a broadcast is expanded: `everyUser`, every user rather than only those triage must visit (timeline.ts). */
interface Expansion {
  everyUser?: boolean;
}

/** A page of the message's recipients from `cursor` on (`next`: where the following page starts; absent: the last). Also the recall's sweep (recall.ts). */
export async function recipientPage(
  deps: Pick<PipelineDeps, 'stores' | 'search' | 'presence' | 'traits' | 'channels'>,
  message: Message,
  cursor: string | undefined,
  expansion: Expansion = {},
): Promise<RecipientPage> {
  const target = message.target;
  switch (target.kind) {
    case 'user':
      return { uids: [target.uid] };
    case 'users': {
      const start = cursor === undefined ? 0 : Number(cursor);
      const end = start + TRIAGE_PAGE_SIZE;
      return { uids: target.uids.slice(start, end), next: end < target.uids.length ? String(end) : undefined };
    }
    case 'everyone': {
      if (expansion.everyUser === true || broadcastVisitsEveryone(deps, message)) {
        const users = await deps.stores.users.page(cursor, TRIAGE_PAGE_SIZE);
        return { uids: users.map((u) => u.uid), next: users.length === TRIAGE_PAGE_SIZE ? users[users.length - 1]?.uid : undefined };
      }
      // A page of the reachable may hold fewer than asked and more follow (Cassandra filters a
      // page of all users): only an empty page is the end.
      const users = await deps.stores.users.pageReachable(cursor, TRIAGE_PAGE_SIZE);
      return { uids: users.map((u) => u.uid), next: users.at(-1)?.uid };
    }
    case 'thread': {
      const members = await deps.stores.timelines.members(target.thread, TRIAGE_PAGE_SIZE, cursor);
      const uids = members.map((m) => m.uid);
      return { uids, next: uids.length === TRIAGE_PAGE_SIZE ? uids[uids.length - 1] : undefined };
    }
    case 'audience':
      return audiencePage(deps, target.audience, cursor, TRIAGE_PAGE_SIZE);
    case 'members':
      return audiencePage(deps, { ...target.audience, thread: target.thread }, cursor, TRIAGE_PAGE_SIZE);
  }
}

/**
 * Plans and writes one page. `finish` (the last page's): the message's move to `triaged`, made
 * once every other write of the page is durable and every frame out — alongside the frames'
 * `sent` receipts, which the store may then send in one request (the receipts of frames already
 * out are all that a crash in between could lose).
 */
async function planPage(
  deps: PipelineDeps,
  message: Message,
  page: LoadedPage,
  toTimeline: TimelinePlan | undefined,
  finish?: () => Promise<void>,
): Promise<void> {
  const { stores } = deps;
  const now = deps.now();
  const { uids, online } = page;
  const wantsDevices = addressesDevices(deps.traits, deps.channels.keys());

  const inboxUids: string[] = [];
  const receipts: Receipt[] = [];
  const work = new Map<ChannelName, DeliveryItem[]>();
  const fallbacks: Array<{ uid: string; step: FallbackStep }> = [];
  const available = new Set(deps.channels.keys());
  const planned = uids.map((uid) => {
    const facts = page.facts.get(uid);
    const user = facts?.contact;
    const preferences = facts?.preferences ?? { channels: {}, categories: {} };
    const devices = wantsDevices ? (facts?.devices ?? []) : [];
    const view = { uid, user, preferences, online: online.has(uid), devices };
    return { uid, user, view, plan: planRecipient(message, view, { now, available, traits: deps.traits }) };
  });
  // The cap (caps.ts): recipients over it lose their intrusive deliveries and join the digest.
  const counted = deps.caps ? planned.filter(({ plan }) => countsAgainstCap(message, plan, deps.traits)).map(({ uid }) => uid) : [];
  const overCap = deps.caps && counted.length > 0 ? await deps.caps.over(message.id, counted) : new Set<string>();
  for (const { uid, user, view, plan: asPlanned } of planned) {
    const capped = overCap.has(uid);
    const plan = capped ? capPlan(asPlanned, deps.traits) : asPlanned;
    if (plan.inbox) {
      // A timeline message is already in every inbox that sees it.
      if (toTimeline === undefined) inboxUids.push(uid);
      const context = { now, available, traits: deps.traits, policy: deps.policy };
      const step = capped ? cappedFallback(message, view, context) : fallbackFor(message, view, context);
      if (step) fallbacks.push({ uid, step });
    }
    for (const skip of plan.skipped) receipts.push({ messageId: message.id, uid, channel: skip.channel, state: skip.state, reason: skip.reason, at: now });
    for (const delivery of plan.deliver) {
      const toSockets = addressesSockets(deps.traits, delivery.channel);
      // Published to the timeline's sockets already: no delivery and no receipt per user.
      if (toTimeline?.viaTopic && toSockets) continue;
      // Push deliveries are queued per device, so each device's push is tracked (and recovered) on its own.
      if (!toSockets) {
        receipts.push({
          messageId: message.id,
          uid,
          channel: delivery.channel,
          ...(delivery.device ? { device: delivery.device.id } : {}),
          state: 'queued',
          at: now,
        });
      }
      const items = work.get(delivery.channel) ?? [];
      items.push(deliveryItem(user, uid, delivery));
      work.set(delivery.channel, items);
    }
  }
  const replaced = toTimeline === undefined ? await stores.inbox.add(inboxUids, message) : sameForAll(uids, toTimeline.replaces);
  if (toTimeline === undefined) await giveBackIfRecalled(deps, message, { uids: inboxUids });
  if (replaced.size > 0) {
    // Topic collapse: the frame tells the recipient's client which older message this one replaces.
    for (const [channel, items] of work) {
      if (!addressesSockets(deps.traits, channel)) continue;
      for (const item of items) {
        const older = replaced.get(item.recipient.uid);
        if (older !== undefined) item.replaces = older;
      }
    }
  }
  // Receipts before fallbacks: the digest a capped message joins finds it by its `cap` receipt.
  await recordReceipts(deps, receipts, message.urgency);
  for (const { uid, step } of fallbacks) await scheduleFallback(deps, message, uid, step);
  // Provider deliveries on the bus first; socket deliveries then go out from here (one emit
  // each, no provider to wait for), and with them the last page's status move.
  const toSockets: Array<{ channel: Channel; batch: DeliveryBatch }> = [];
  for (const [channel, items] of work) {
    const socketChannel = addressesSockets(deps.traits, channel) ? deps.channels.get(channel) : undefined;
    for (let i = 0; i < items.length; i += DELIVERY_BATCH_SIZE) {
      const batch: DeliveryBatch = { channel, message, items: items.slice(i, i + DELIVERY_BATCH_SIZE) };
      if (socketChannel) toSockets.push({ channel: socketChannel, batch });
      else await deps.bus.publish(subjects.deliver(channel, batch.message.urgency), batch);
    }
  }
  // Recalled while the page was planned, and heard of: its frames stay unsent.
  if (heardRecalled(deps, message)) return finish?.();
  for (const [index, { channel, batch }] of toSockets.entries()) {
    await deliverPlannedToSockets(deps, channel, batch, index === toSockets.length - 1 ? finish : undefined);
  }
  if (toSockets.length === 0) await finish?.();
}

/** What a timeline post replaced, as `InboxStore.add` answers it: the same older message for every recipient. */
function sameForAll(uids: string[], replaces: string | undefined): Map<string, string> {
  return replaces === undefined ? new Map() : new Map(uids.map((uid) => [uid, replaces]));
}

function deliveryItem(user: Contact | undefined, uid: string, delivery: PlanDelivery): DeliveryItem {
  const recipient = deliveryRecipient(uid, user);
  return delivery.device ? { recipient, device: delivery.device, attempt: 1 } : { recipient, attempt: 1 };
}
