/**
 * What a delivery carries of its recipient: the addresses a channel may send to and the locale
 * and time zone its content is rendered in. Built in one place from the user's record, so a new
 * address field is added here once, not in every step that queues a delivery.
 */
import type { User } from './types.js';

export type DeliveryRecipient = Pick<User, 'uid' | 'email' | 'phone' | 'locale' | 'timezone'>;

/** The recipient `uid` as a delivery sees it; only the uid when Herald has no record of the user. */
export const deliveryRecipient = (uid: string, user: Omit<DeliveryRecipient, 'uid'> | undefined): DeliveryRecipient => ({
  uid,
  email: user?.email,
  phone: user?.phone,
  locale: user?.locale,
  timezone: user?.timezone,
});
