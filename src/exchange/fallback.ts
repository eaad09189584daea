/**
 * Escalation policy: what happens to a message that stays unread (DESIGN.md, urgency table).
 *
 *   high      → SMS after a short delay
 *   normal    → email after a delay
 *   low       → an email digest of the unread low-urgency messages of the period
 *   very-low  → nothing: push only
 *
 * Only the default route escalates: a message that names its channels, whose category the
 * user disabled, or that is in-app only (a user's message, src/exchange/send-policy.ts), does not. A fallback needs the channel configured, the user's address, and the
 * channel not switched off; it is not planned when the message will have expired by then. The
 * caller schedules the step, cancels it when a `read` arrives, and re-checks at fire time.
 */
import type { RecipientView } from './plan.js';
import type { ChannelName, Message } from './types.js';

export interface FallbackPolicy {
  smsDelayMs: number;
  emailDelayMs: number;
  digestIntervalMs: number;
}

export type FallbackStep =
  | { kind: 'channel'; channel: 'sms' | 'email'; runAt: number }
  /** One digest per user per period: `bucket` numbers the period the message arrived in. */
  | { kind: 'digest'; bucket: number; runAt: number };

export function fallbackFor(
  message: Message,
  recipient: RecipientView,
  context: { now: number; available: ReadonlySet<ChannelName>; policy: FallbackPolicy },
): FallbackStep | undefined {
  if (message.channels !== undefined || message.inAppOnly) return undefined;
  const { preferences, user } = recipient;
  if (message.category !== undefined && preferences.categories[message.category]?.enabled === false) return undefined;
  const allowed = (channel: 'sms' | 'email') => context.available.has(channel) && preferences.channels[channel] !== false;
  const step = ((): FallbackStep | undefined => {
    switch (message.urgency) {
      case 'high':
        return allowed('sms') && user?.phone ? { kind: 'channel', channel: 'sms', runAt: context.now + context.policy.smsDelayMs } : undefined;
      case 'normal':
        return allowed('email') && user?.email ? { kind: 'channel', channel: 'email', runAt: context.now + context.policy.emailDelayMs } : undefined;
      case 'low': {
        if (!allowed('email') || !user?.email) return undefined;
        const bucket = Math.floor(message.createdAt / context.policy.digestIntervalMs);
        return { kind: 'digest', bucket, runAt: (bucket + 1) * context.policy.digestIntervalMs };
      }
      case 'very-low':
        return undefined;
    }
  })();
  if (step && message.expiresAt !== undefined && step.runAt >= message.expiresAt) return undefined;
  return step;
}

export const fallbackJobId = (messageId: string, uid: string) => `fallback:${messageId}:${uid}`;
export const digestJobId = (uid: string, bucket: number) => `digest:${uid}:${bucket}`;
