/**
 * Triage policy: what to do with one message for one recipient, as a pure function of what is
 * known about them. The I/O around it (reading users, presence, devices; writing the inbox,
 * receipts and delivery work) lives in src/pipeline/triage.ts.
 *
 * Rules, in order:
 *  1. An expired message goes nowhere (receipt `expired` on the inbox).
 *  2. Every other message lands in the recipient's inbox: the inbox is the record.
 *  3. Candidate channels are `message.channels` when given, else the default route: the socket
 *     channels (realtime), and when the user is offline each channel addressing a kind of device
 *     they have.
 *  4. A candidate is skipped, with a `suppressed` receipt naming why, when: the user switched the
 *     channel off; the message's category is disabled; the channel is not configured in this
 *     deployment (only when asked for explicitly); the user lacks the address (email, phone);
 *     or quiet hours hold an intrusive channel (push, SMS) for a message below `high`; or the
 *     message is in-app only (a user's, src/exchange/send-policy.ts) and the channel is not.
 *  5. A socket channel goes only to a user with a live socket; offline, the message waits in the
 *     inbox and is sent on reconnect (`since=`), without a receipt until then. A device channel
 *     goes to each of the user's devices of its kind.
 * What a channel is addressed to, whether it is intrusive or in app, are its traits
 * (channel-traits.ts), given by the caller: this file names no channel.
 */
import { type ChannelTraitsMap, channelsAddressing } from './channel-traits.js';
import { inQuietHours } from './quiet-hours.js';
import type { Contact } from './recipient.js';
import type { ChannelName, Device, Message, Preferences } from './types.js';

export interface RecipientView {
  uid: string;
  /** The addresses and rendering of the user's record; undefined (or fields absent) when Herald has none. */
  user: Contact | undefined;
  preferences: Preferences;
  online: boolean;
  devices: Device[];
}

export type PlanSkip = { channel: ChannelName | 'inbox'; state: 'suppressed' | 'expired'; reason: string };
export type PlanDelivery = { channel: ChannelName; device?: Device };

export interface DeliveryPlan {
  inbox: boolean;
  deliver: PlanDelivery[];
  skipped: PlanSkip[];
}

export interface PlanContext {
  now: number;
  /** The channels this deployment runs (configured). */
  available: ReadonlySet<ChannelName>;
  /** Every registered channel's traits. */
  traits: ChannelTraitsMap;
}

export function planRecipient(message: Message, recipient: RecipientView, context: PlanContext): DeliveryPlan {
  if (message.expiresAt !== undefined && context.now >= message.expiresAt) {
    return { inbox: false, deliver: [], skipped: [{ channel: 'inbox', state: 'expired', reason: 'ttl' }] };
  }
  const plan: DeliveryPlan = { inbox: true, deliver: [], skipped: [] };
  const explicit = message.channels !== undefined;
  const candidates = message.channels ?? defaultRoute(recipient, context.traits);
  const categoryOff = message.category !== undefined && recipient.preferences.categories[message.category]?.enabled === false;
  const quiet = message.urgency !== 'high' && inQuietHours(recipient.preferences, recipient.user?.timezone, context.now);

  for (const channel of candidates) {
    const skip = (reason: string) => plan.skipped.push({ channel, state: 'suppressed', reason });
    const traits = context.traits.get(channel);
    if (message.inAppOnly && !traits?.inApp) {
      skip('in-app-only');
      continue;
    }
    if (!traits || !context.available.has(channel)) {
      if (explicit) skip('channel-not-configured');
      continue;
    }
    if (recipient.preferences.channels[channel] === false) skip('preference');
    else if (categoryOff) skip(`category:${message.category}`);
    else if (quiet && traits.intrusive) skip('quiet-hours');
    else if (traits.address === 'socket') {
      if (recipient.online) plan.deliver.push({ channel });
    } else if (traits.address === 'email') {
      if (recipient.user?.email) plan.deliver.push({ channel });
      else skip('no-email-address');
    } else if (traits.address === 'phone') {
      if (recipient.user?.phone) plan.deliver.push({ channel });
      else skip('no-phone-number');
    } else {
      const devices = recipient.devices.filter((d) => traits.address === `device:${d.kind}`);
      if (devices.length === 0) {
        if (explicit) skip('no-device');
      } else for (const device of devices) plan.deliver.push({ channel, device });
    }
  }
  return plan;
}

/** The socket channels; offline, also the channels of each kind of device the user has (in the order first seen). */
function defaultRoute(recipient: RecipientView, traits: ChannelTraitsMap): ChannelName[] {
  const route = channelsAddressing(traits, 'socket');
  if (!recipient.online) {
    for (const kind of new Set(recipient.devices.map((d) => d.kind))) route.push(...channelsAddressing(traits, `device:${kind}`));
  }
  return route;
}
