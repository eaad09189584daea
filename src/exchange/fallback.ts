/**
 * Escalation policy: what happens to a message that stays unread (README.md, "Channels and
 * escalation"), by the address kind of the channels (channel-traits.ts), never by a channel's name:
 *
 *   high      → the phone channel (SMS) after a short delay
 *   normal    → the email channel after a delay
 *   low       → a digest, on the email channel, of the unread low-urgency messages of the period
 *   very-low  → nothing: push only
 *
 * Only the default route escalates: a message that names its channels, whose category the
 * user disabled, or that is in-app only (a user's message, src/exchange/send-policy.ts), does
 * not. A fallback takes the first registered channel of its address kind that is configured and
 * that the user did not switch off, and needs the user's address; it is not planned when the
 * message will have expired by then. The caller schedules the step, cancels it when a `read`
 * arrives, and re-checks at fire time.
 */
import { type ChannelTraitsMap, channelsAddressing } from './channel-traits.js';
import type { RecipientView } from './plan.js';
import type { ChannelName, Message } from './types.js';

export interface FallbackPolicy {
  /** How long an unread high-urgency message waits before the phone fallback. */
  phoneDelayMs: number;
  /** How long an unread normal-urgency message waits before the email fallback. */
  emailDelayMs: number;
  digestIntervalMs: number;
}

export type FallbackStep =
  | { kind: 'channel'; channel: ChannelName; runAt: number }
  /** One digest per user per period: `bucket` numbers the period the message arrived in. */
  | { kind: 'digest'; channel: ChannelName; bucket: number; runAt: number };

export interface FallbackContext {
  now: number;
  available: ReadonlySet<ChannelName>;
  traits: ChannelTraitsMap;
  policy: FallbackPolicy;
}

export function fallbackFor(message: Message, recipient: RecipientView, context: FallbackContext): FallbackStep | undefined {
  if (message.channels !== undefined || message.inAppOnly) return undefined;
  const { preferences, user } = recipient;
  if (message.category !== undefined && preferences.categories[message.category]?.enabled === false) return undefined;
  /** The channel of that address kind the step would use, when the user has the address. */
  const reachable = (address: 'phone' | 'email'): ChannelName | undefined => {
    if (!user?.[address]) return undefined;
    return channelsAddressing(context.traits, address).find((c) => context.available.has(c) && preferences.channels[c] !== false);
  };
  const step = ((): FallbackStep | undefined => {
    switch (message.urgency) {
      case 'high': {
        const channel = reachable('phone');
        return channel ? { kind: 'channel', channel, runAt: context.now + context.policy.phoneDelayMs } : undefined;
      }
      case 'normal': {
        const channel = reachable('email');
        return channel ? { kind: 'channel', channel, runAt: context.now + context.policy.emailDelayMs } : undefined;
      }
      case 'low': {
        const channel = reachable('email');
        if (!channel) return undefined;
        const bucket = Math.floor(message.createdAt / context.policy.digestIntervalMs);
        return { kind: 'digest', channel, bucket, runAt: (bucket + 1) * context.policy.digestIntervalMs };
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
