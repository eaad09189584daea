/**
 * Sending policy (HERALD_USER_SEND): what a non-admin token may ask of POST /api/v1/send.
 * Pure: it decides from the setting, whether the caller is an admin and the request's options.
 *
 *  - `any`: no restriction (Herald before v1.1).
 *  - `off`: only admins send.
 *  - `inapp` (the default): a non-admin may message any user through the inbox and the in-app
 *    channels (a channel's `inApp` trait: realtime and push — web push, APNs, FCM) at urgency
 *    ≤ `normal`. Refused, each as a field error naming it: `opts.channels` naming a channel
 *    that is not in app (`sms`, `email`), `opts.urgency` `high`, and `opts.email` /
 *    `opts.sms` (options of channels the message can never reach). The accepted message is
 *    marked `inAppOnly`, and triage (src/exchange/plan.ts, fallback.ts) never routes or
 *    escalates it to SMS or email, the digest email included.
 * Admin tokens are never restricted.
 */
import { type ChannelTraitsMap, inAppChannels } from './channel-traits.js';
import { type ChannelName, URGENCIES, type Urgency } from './types.js';

export const USER_SEND_POLICIES = ['inapp', 'off', 'any'] as const;
export type UserSendPolicy = (typeof USER_SEND_POLICIES)[number];

export const USER_CONTACTS_POLICIES = ['admin', 'self'] as const;
export type UserContactsPolicy = (typeof USER_CONTACTS_POLICIES)[number];

/** The highest urgency an in-app-only message may have. */
export const IN_APP_MAX_URGENCY: Urgency = 'normal';

/** What of a send request the policy looks at. */
export interface SendOptionsView {
  channels?: readonly ChannelName[];
  urgency?: Urgency;
  email?: unknown;
  sms?: unknown;
}

export interface PolicyFieldError {
  path: string;
  message: string;
}

export type SendDecision =
  /** The caller may not send at all. */
  | { allowed: false; reason: 'admin-only' }
  /** Refused for the fields named (403). */
  | { allowed: false; reason: 'fields'; errors: PolicyFieldError[] }
  /** Accepted; `inAppOnly` confines the message to the in-app channels. */
  | { allowed: true; inAppOnly: boolean };

export function decideSend(policy: UserSendPolicy, caller: { admin: boolean }, opts: SendOptionsView | undefined, traits: ChannelTraitsMap): SendDecision {
  if (caller.admin || policy === 'any') return { allowed: true, inAppOnly: false };
  if (policy === 'off') return { allowed: false, reason: 'admin-only' };
  const errors: PolicyFieldError[] = [];
  const outside = (opts?.channels ?? []).filter((c) => !traits.get(c)?.inApp);
  if (outside.length > 0)
    errors.push({ path: 'opts.channels', message: `${outside.join(', ')}: admin only (users may send in app: ${inAppChannels(traits).join(', ')})` });
  if (opts?.urgency !== undefined && URGENCIES.indexOf(opts.urgency) > URGENCIES.indexOf(IN_APP_MAX_URGENCY)) {
    errors.push({ path: 'opts.urgency', message: `${opts.urgency}: admin only (users may send up to ${IN_APP_MAX_URGENCY})` });
  }
  if (opts?.email !== undefined) errors.push({ path: 'opts.email', message: 'admin only: messages from users are never emailed' });
  if (opts?.sms !== undefined) errors.push({ path: 'opts.sms', message: 'admin only: messages from users are never sent by SMS' });
  return errors.length > 0 ? { allowed: false, reason: 'fields', errors } : { allowed: true, inAppOnly: true };
}

/** Contact fields a caller may not set on a user (PUT /api/v1/users/{uid}) under HERALD_USER_CONTACTS. */
export function refusedContactFields(policy: UserContactsPolicy, caller: { admin: boolean }, input: { email?: unknown; phone?: unknown }): PolicyFieldError[] {
  if (caller.admin || policy === 'self') return [];
  const errors: PolicyFieldError[] = [];
  if (input.email !== undefined) errors.push({ path: 'email', message: 'admin only (HERALD_USER_CONTACTS=admin)' });
  if (input.phone !== undefined) errors.push({ path: 'phone', message: 'admin only (HERALD_USER_CONTACTS=admin)' });
  return errors;
}
