/**
 * Caps that digest instead of drop (HERALD_CAP_PER_HOUR): the domain half, pure. The counting
 * lives in src/pipeline/caps.ts, the wiring in src/pipeline/triage.ts.
 *
 *  - A recipient's plan counts against their cap when the message is below `high` and the plan
 *    delivers on at least one intrusive channel (push, SMS: channel-traits.ts): one count per
 *    message per user, however many devices. `high` is never counted and always passes; a plan
 *    reaching the user only in the app's socket, the inbox or email is not counted either.
 *  - Over the cap, the plan keeps its inbox entry and its non-intrusive deliveries; each
 *    intrusive channel it would have used gets one channel-wide `suppressed` receipt with reason
 *    `cap` instead of its deliveries.
 *  - A capped message joins the user's digest of the period it arrived in, as a low-urgency
 *    message does (fallback.ts): the digest step replaces its own escalation (a normal message's
 *    email fallback), so the user is told once. It needs what any digest needs (an email channel
 *    the user did not switch off, an address, a category still on, not expired by then) and is
 *    never planned for an in-app-only message (a user's, send-policy.ts), which is never emailed.
 *    It is planned also for a message that named its channels: the cap held back what it asked.
 *  - The digest (src/pipeline/digest.ts) recognises a capped message by its `cap` receipt.
 */
import type { ChannelTraitsMap } from './channel-traits.js';
import { type FallbackContext, type FallbackStep, fallbackFor } from './fallback.js';
import type { DeliveryPlan, RecipientView } from './plan.js';
import type { ChannelName, Message, Receipt } from './types.js';

/** The reason of a receipt a cap suppressed. */
export const CAP_REASON = 'cap';

const intrusive = (traits: ChannelTraitsMap, channel: ChannelName): boolean => traits.get(channel)?.intrusive ?? false;

/** Whether this plan of `message` counts against its recipient's cap. */
export function countsAgainstCap(message: Message, plan: DeliveryPlan, traits: ChannelTraitsMap): boolean {
  return message.urgency !== 'high' && plan.deliver.some((d) => intrusive(traits, d.channel));
}

/** The plan of a recipient over their cap: its intrusive deliveries become one `suppressed` / `cap` skip per channel. */
export function capPlan(plan: DeliveryPlan, traits: ChannelTraitsMap): DeliveryPlan {
  const held = new Set<ChannelName>();
  const deliver = plan.deliver.filter((d) => {
    if (!intrusive(traits, d.channel)) return true;
    held.add(d.channel);
    return false;
  });
  return {
    inbox: plan.inbox,
    deliver,
    skipped: [...plan.skipped, ...[...held].map((channel) => ({ channel, state: 'suppressed' as const, reason: CAP_REASON }))],
  };
}

/** The escalation of a capped message: the digest of the period it arrived in, whatever its urgency (see above). */
export function cappedFallback(message: Message, recipient: RecipientView, context: FallbackContext): FallbackStep | undefined {
  const { channels: _named, ...rest } = message;
  return fallbackFor({ ...rest, urgency: 'low' }, recipient, context);
}

/** Whether a receipt records that a cap held the message back. */
export const isCapReceipt = (receipt: Pick<Receipt, 'state' | 'reason'>): boolean => receipt.state === 'suppressed' && receipt.reason === CAP_REASON;
