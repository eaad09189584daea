/**
 * What a delivery carries of its recipient: the addresses a channel may send to and the locale
 * and time zone its content is rendered in. Built in one place from the user's record, so a new
 * address field is added here once, not in every step that queues a delivery.
 */
import type { User } from './types.js';

/** The fields of a user's record a delivery is addressed and rendered with. */
export const CONTACT_FIELDS = ['email', 'phone', 'locale', 'timezone'] as const;

/** A user's contact fields (a field absent: none stored). */
export type Contact = Pick<User, (typeof CONTACT_FIELDS)[number]>;

export type DeliveryRecipient = Pick<User, 'uid'> & Contact;

/** The contact fields `user` holds, absent ones left out (none for a user Herald has no record of). */
export function contactOf(user: Partial<Contact> | undefined): Contact {
  const contact: Contact = {};
  for (const field of CONTACT_FIELDS) {
    const value = user?.[field];
    if (value !== undefined) contact[field] = value;
  }
  return contact;
}

/** The recipient `uid` as a delivery sees it; only the uid when Herald has no record of the user. */
export const deliveryRecipient = (uid: string, user: Contact | undefined): DeliveryRecipient => ({
  uid,
  email: user?.email,
  phone: user?.phone,
  locale: user?.locale,
  timezone: user?.timezone,
});
