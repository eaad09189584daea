/**
 * The request schemas of API v1 (docs/api.md). They validate requests, and the routes declare
 * them in their documents, so GET /openapi.json describes exactly what is validated. Objects
 * are strict: an unknown field is an error that names it, so a misspelt option never silently
 * does nothing.
 */
import { z } from 'zod';
import { CHANNEL_NAMES } from '../../channels/registry.js';
import { LIMITS, THREAD_PATTERN, UID_PATTERN } from '../exchange/limits.js';
import type { MessageOptions } from '../exchange/message.js';
import { URGENCIES } from '../exchange/types.js';

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

export const uid = z.string().regex(UID_PATTERN, 'must be 1-128 printable characters without spaces');
export const messageId = z.uuid({ message: 'must be a message id (UUID)' });
/** Device ids are UUIDv7 too (src/ids.ts newId at registration). */
export const deviceId = z.uuid({ message: 'must be a device id (UUID)' });
/** A registered channel's name (channels/registry.ts). */
const channel = z.enum(CHANNEL_NAMES);
const scalar = z.union([z.string().max(256), z.number(), z.boolean()]);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Europe/Paris');

export const messageOptions = z
  .strictObject({
    data: z
      .record(z.string(), z.unknown())
      .refine((d) => jsonBytes(d) <= LIMITS.dataBytes, `must serialise to at most ${LIMITS.dataBytes} bytes`)
      .optional(),
    title: z.string().min(1).max(LIMITS.titleLength).optional(),
    urgency: z.enum(URGENCIES).optional(),
    channels: z
      .array(channel)
      .min(1)
      .max(LIMITS.channelsPerMessage)
      .refine((list) => new Set(list).size === list.length, 'must not repeat a channel')
      .optional(),
    ttl: z.number().int().min(0).max(LIMITS.maxTtl).optional(),
    at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset' }).optional(),
    delay: z.number().int().min(0).max(LIMITS.maxDelay).optional(),
    topic: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 URL-safe base64 characters')
      .optional(),
    link: z.url().max(LIMITS.linkLength).optional(),
    category: z.string().min(1).max(LIMITS.categoryLength).optional(),
    idempotencyKey: z.string().min(1).max(LIMITS.idempotencyKeyLength).optional(),
    email: z
      .strictObject({
        subject: z.string().min(1).max(LIMITS.titleLength).optional(),
        template: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a template name')
          .optional(),
        vars: z
          .record(z.string(), z.unknown())
          .refine((v) => jsonBytes(v) <= LIMITS.dataBytes, `must serialise to at most ${LIMITS.dataBytes} bytes`)
          .optional(),
      })
      .optional(),
    sms: z.strictObject({ text: z.string().min(1).max(1600) }).optional(),
  })
  .refine((o) => o.at === undefined || o.delay === undefined, { message: 'give at or delay, not both', path: ['delay'] });

export type MessageOptionsInput = z.output<typeof messageOptions>;

/**
 * Fails to compile when the schema and the domain's MessageOptions (src/exchange/message.ts)
 * drift: every field the schema yields has a type the domain takes, and they have the same fields.
 */
type AssertTrue<T extends true> = T;
type SameFields<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
export type MessageOptionsMatchTheDomain = [
  AssertTrue<MessageOptionsInput extends MessageOptions ? true : false>,
  AssertTrue<SameFields<MessageOptionsInput, MessageOptions>>,
];

const msg = z.string().min(1).max(LIMITS.msgLength);

export const sendBody = z.strictObject({ msg, uid, opts: messageOptions.optional() });

/** Keys that would reach object prototypes; an audience made only of them would select everyone. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const threadName = z.string().regex(THREAD_PATTERN, 'must be 1-128 letters, digits or . _ ~ : -');

/** An audience's conditions, none required (stored targets; requests take `audience`, which requires one). */
export const audienceConditions = z.strictObject({
  where: z
    .record(z.string().min(1).max(64), z.union([scalar, z.array(scalar).min(1).max(100)]))
    .refine((w) => Object.keys(w).length > 0, 'must name at least one attribute (an empty where would select everyone)')
    .refine((w) => !Object.keys(w).some((k) => RESERVED_KEYS.has(k)), 'must not use the keys __proto__, constructor or prototype')
    .optional(),
  has: z.enum(['ios', 'android', 'web', 'email', 'phone']).optional(),
  online: z.boolean().optional(),
  thread: threadName.optional().describe('Members of this thread now'),
});

export const audience = audienceConditions.refine(
  (a) => a.where !== undefined || a.has !== undefined || a.online !== undefined || a.thread !== undefined,
  'must give at least one of where, has, online, thread',
);

export const multicastBody = z
  .strictObject({
    msg,
    uids: z.array(uid).min(1).max(LIMITS.uidsPerMulticast).optional(),
    audience: audience.optional(),
    thread: threadName
      .optional()
      .describe('A thread: every member at the time it is sent sees it, until they leave (PUT /api/v1/threads/{thread}/members/{uid})'),
    opts: messageOptions.optional(),
  })
  .refine((b) => [b.uids, b.audience, b.thread].filter((v) => v !== undefined).length === 1, {
    message: 'give uids, audience or thread, exactly one',
    path: ['uids'],
  });

export const broadcastBody = z.strictObject({ msg, opts: messageOptions.optional() });

const base64url = z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url');

export const webPushSubscription = z.strictObject({
  // http: too, so the egress policy (src/egress) answers: it allows http: to loopback with HERALD_WEBPUSH_ALLOW_PRIVATE.
  endpoint: z.url({ protocol: /^https?$/, message: 'must be an https URL' }).max(LIMITS.endpointLength),
  expirationTime: z.number().int().nonnegative().nullable().optional(),
  keys: z.strictObject({
    p256dh: base64url.min(80).max(100),
    auth: base64url.min(16).max(32),
  }),
});

export const nativeDevice = z.discriminatedUnion('os', [
  z.strictObject({ os: z.literal('ios'), token: z.string().regex(/^[0-9a-fA-F]{64,200}$/, 'must be a hex APNs device token') }),
  z.strictObject({ os: z.literal('android'), token: z.string().regex(/^[\w:.-]{20,4096}$/, 'must be an FCM registration token') }),
]);

/** POST /api/v1/native/renew: a service worker replaces its rotated subscription with the renewal capability of its last push. */
export const renewalBody = z.strictObject({
  capability: z.string().min(1).max(2048).describe('The `renew` of the last web push payload'),
  subscription: webPushSubscription,
});

/** POST / DELETE /api/v1/native/subscribe: a native device or a web push subscription (routes/devices.ts parseDevice tells them apart by `endpoint`). */
export const deviceBody = z.union([nativeDevice, webPushSubscription]);

export const userBody = z.strictObject({
  email: z.email().max(254).optional(),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +33612345678')
    .optional(),
  locale: z
    .string()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag')
    .optional(),
  timezone: timezone.optional(),
  attributes: z
    .record(z.string().min(1).max(64), z.union([scalar, z.array(scalar).max(100)]))
    .refine((a) => jsonBytes(a) <= LIMITS.attributesBytes, `must serialise to at most ${LIMITS.attributesBytes} bytes`)
    .optional(),
});

export const preferencesBody = z.strictObject({
  channels: z.partialRecord(channel, z.boolean()).optional(),
  categories: z
    .record(z.string().min(1).max(LIMITS.categoryLength), z.strictObject({ enabled: z.boolean() }))
    .refine((c) => Object.keys(c).length <= 100, 'at most 100 categories')
    .optional(),
  quietHours: z.strictObject({ start: hhmm, end: hhmm }).nullable().optional(),
});

export const receiptsBody = z.strictObject({
  ids: z.array(messageId).min(1).max(LIMITS.idsPerReceipt),
  state: z.enum(['delivered', 'read', 'clicked', 'archived']),
  channel: z.enum([...CHANNEL_NAMES, 'inbox']).optional(),
});

/** `{"all": true, "state": "read"}`: every unread message of the caller (mark all read). */
export const allReadBody = z.strictObject({
  all: z.literal(true),
  state: z.literal('read', { message: 'only read applies to all messages' }),
  channel: z.enum([...CHANNEL_NAMES, 'inbox']).optional(),
});

/** `{"capability", "state"}`: a service worker's receipt, with the capability its push carried instead of a token (src/auth/capabilities.ts). */
export const capabilityReceiptBody = z.strictObject({
  capability: z.string().min(1).max(2048).describe('The `receipt` of the web push payload'),
  state: z.enum(['delivered', 'read', 'clicked']),
});

/**
 * What POST /api/v1/receipts takes, for its document. The route validates a body that has `all`
 * with allReadBody, one that has `capability` with capabilityReceiptBody, and any other with receiptsBody, so each error names its field (a union's
 * error would name none).
 */
export const receiptsRequest = z.union([receiptsBody, allReadBody, capabilityReceiptBody]);

const limit = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(LIMITS.pageLimit)).optional();

export const inboxQuery = z.strictObject({
  limit,
  since: messageId.optional(),
  state: z.enum(['unread', 'all']).optional(),
  cursor: messageId.optional(),
});

/** GET /api/v1/messages/count: `state` is required, so a count never silently means "all". */
export const countQuery = z.strictObject({
  state: z.enum(['unread'], { message: 'must be unread (the only state counted)' }),
});

/** Report and search periods: 1970-01-01 to the end of 9999 (dates beyond do not round-trip as ISO 8601). */
const LATEST_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const epochOrIso = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 date-time')
  .transform((v) => Date.parse(v))
  .refine((t) => t >= 0 && t <= LATEST_DATE, 'must be between 1970-01-01 and 9999-12-31');

export const searchQuery = z
  .strictObject({
    q: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters (NUL, newlines, ...)'),
    from: epochOrIso.optional(),
    to: epochOrIso.optional(),
    uid: uid.optional(),
    limit,
    cursor: messageId.optional(),
  })
  .refine((query) => query.from === undefined || query.to === undefined || query.from <= query.to, { message: 'must not be after to', path: ['from'] });

export const reportQuery = z.strictObject({
  from: epochOrIso.optional(),
  to: epochOrIso.optional(),
  groupBy: z.enum(['channel', 'urgency', 'state']).optional(),
});

/** GET /api/v1/threads (the caller's threads, by name) and GET /api/v1/threads/{thread}/members (by uid). */
export const threadsQuery = z.strictObject({ limit, cursor: threadName.optional() });
export const membersQuery = z.strictObject({ limit, cursor: uid.optional() });

/** GET /api/v1/messages/scheduled. */
export const scheduledQuery = z.strictObject({ limit, cursor: messageId.optional() });

/** GET /api/v1/users/{uid}/messages (admin): a user's inbox, paged like the user's own. */
export const userInboxQuery = inboxQuery;

/**
 * POST /api/v1/audience/count: an audience as multicast takes it, or everyone (a broadcast).
 * The route validates a body with `everyone` by everyoneCountBody and any other by
 * audienceOnlyBody, so each error names its field; audienceCountBody is their union, for the document.
 */
export const audienceOnlyBody = z.strictObject({ audience });
export const everyoneCountBody = z.strictObject({ everyone: z.literal(true) });
export const audienceCountBody = z.union([audienceOnlyBody, everyoneCountBody]);
