/**
 * The response bodies of API v1 as zod schemas: what each route answers, field by field. The
 * views (src/api/views.ts) are typed by them, the OpenAPI document (src/api/openapi.ts) is built
 * from them, and with response checking on (tests) every answer is validated against them
 * (src/api/response-check.ts). Objects are strict: a field the document does not list is a
 * mismatch, so a new field cannot reach clients undocumented.
 */
import { z } from 'zod';
import { CHANNEL_NAMES } from '../../channels/registry.js';
import { PROBLEM_CODES, type ProblemCode } from '../errors.js';
import { RECEIPT_STATES, URGENCIES } from '../exchange/types.js';
import type { MessageStatus } from '../store/port.js';
import { audience, audienceConditions } from './schemas.js';

const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 date-time (UTC)');
const nullableIso = isoTime.nullable();
const id = z.string().describe('Message id (UUIDv7: time-ordered)');

export const pong = z.strictObject({ pong: z.literal(true) });

export const accepted = z.strictObject({ id: id.describe('The id of the accepted message') });

export const multicastAccepted = z.strictObject({
  id: id.describe('The id of the accepted message'),
  recipients: z.number().int().nullable().describe('How many distinct uids were given; null for an audience (resolved asynchronously)'),
});

export const deviceRegistered = z.strictObject({ id: z.string().describe('The device id') });

/** A device of the caller (views.ts deviceView): never its token, endpoint or keys. */
export const deviceItem = z.strictObject({
  id: z.string().describe('The device id (DELETE /api/v1/devices/{id} removes it)'),
  kind: z.enum(['ios', 'android', 'web']),
  createdAt: isoTime.describe('When it was first registered'),
  origin: z.string().optional().describe('Web push only: the origin of its push service (https://fcm.googleapis.com), never the endpoint'),
});

export const deviceList = z.strictObject({ devices: z.array(deviceItem).describe('Oldest first') });

export const vapidKey = z.strictObject({ key: z.string().describe('The VAPID public key, base64url (applicationServerKey for PushManager.subscribe)') });

export const wsTicket = z.strictObject({
  token: z.string().describe('A single-use ticket: pass it as GET /ws?token='),
  expiresIn: z.number().int().describe('Seconds the ticket stays valid (HERALD_WS_TICKET_TTL)'),
});

export const health = z.strictObject({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.string()).describe('Per dependency (store, bus, search, channel:<name>): "ok", "disabled" or what is wrong'),
  providers: z
    .array(
      z.strictObject({
        channel: z.string(),
        provider: z.string().describe('The provider: a push service origin, or the channel and its position in the list (smtp-1, twilio-2)'),
        circuit: z.enum(['closed', 'open', 'half-open']).describe('open: nothing is sent to it until a probe succeeds (deliveries wait or fail over)'),
        pausedUntil: z.string().optional().describe('Until when it asked not to be called (Retry-After), ISO 8601'),
        concurrency: z.number().int().describe('Requests it is allowed in flight now (adaptive)'),
        active: z.number().int().describe('Requests in flight now'),
        queued: z.record(z.enum(URGENCIES), z.number().int()).describe('Requests waiting, per urgency'),
      }),
    )
    .describe(
      "This process's providers, each behind a gate; one that is idle with a closed circuit may be left out. Informational: an open circuit does not make the process unhealthy",
    ),
});

/** A message as its recipients see it (views.ts messageView). */
export const messageBody = z.strictObject({
  id,
  sender: z.string().optional().describe('The sending uid; only when a non-admin token sent the message'),
  msg: z.string(),
  title: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
  urgency: z.enum(URGENCIES),
  link: z.string().nullable(),
  topic: z.string().nullable(),
  category: z.string().nullable(),
  createdAt: isoTime,
  scheduledFor: isoTime.optional().describe('Only for a scheduled message (opts.at / opts.delay in the future when sent)'),
  expiresAt: isoTime.optional().describe('Only for a message with opts.ttl'),
});

const readState = z.strictObject({
  delivered: nullableIso.describe('When a client acknowledged it (ack frame, or a delivered receipt)'),
  read: nullableIso,
  archived: nullableIso.describe('When the user archived it: no longer listed (GET /api/v1/messages/{id} still shows it)'),
});

/** An inbox entry: the message with the caller's read state (views.ts inboxView). */
export const inboxItemBody = messageBody.extend({ state: readState });

/** A receipt (views.ts receiptView); `detail` only in the admin view. */
export const receiptBody = z.strictObject({
  uid: z.string(),
  channel: z.enum([...CHANNEL_NAMES, 'inbox']),
  device: z.string().nullable().describe('The device of a push delivery; null for a channel-wide receipt'),
  state: z.enum(RECEIPT_STATES),
  reason: z.string().nullable().describe('A stable reason code (src/exchange/receipt-reasons.ts), never a provider text'),
  detail: z.string().nullable().optional().describe('Admin view only: the stored reason (provider id, status, error)'),
  provider: z.string().optional().describe('Admin view only, on a sent receipt of a channel with several providers: the one that sent it (smtp-1, smtp-2…)'),
  at: isoTime,
});

/** A tally (ReceiptStore.talliesOf): receipts counted, not written per user — the sockets the publishes of a broadcast or thread message reached. */
export const tallyBody = z.strictObject({
  channel: z.enum(CHANNEL_NAMES),
  state: z.enum(RECEIPT_STATES),
  count: z.number().int().nonnegative(),
  at: isoTime.describe('When it was first counted'),
});

export const userBody = z.strictObject({
  uid: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  locale: z.string().nullable(),
  timezone: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const preferences = z.strictObject({
  channels: z.partialRecord(z.enum(CHANNEL_NAMES), z.boolean()),
  categories: z.record(z.string(), z.strictObject({ enabled: z.boolean() })),
  quietHours: z.strictObject({ start: z.string(), end: z.string() }).nullable(),
});

const next = z.string().nullable().describe('Cursor of the next (older) page, passed back as `cursor`; null on the last page');

export const inboxPage = z.strictObject({ messages: z.array(inboxItemBody), next });

export const inboxCount = z.strictObject({ count: z.number().int().nonnegative().describe('How many entries GET /api/v1/messages?state=unread lists') });

export const searchPage = z.strictObject({ messages: z.array(messageBody), next });

const target = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), uid: z.string() }),
  z.strictObject({ kind: z.literal('users'), uids: z.array(z.string()) }),
  z.strictObject({ kind: z.literal('audience'), audience }),
  z.strictObject({ kind: z.literal('everyone') }),
  z.strictObject({ kind: z.literal('thread'), thread: z.string() }),
  z.strictObject({
    kind: z.literal('members'),
    thread: z.string(),
    audience: audienceConditions.omit({ thread: true }).describe('The other conditions, checked among the members'),
  }),
]);

const messageStatus = z.enum(['scheduled', 'accepted', 'triaged', 'recalled'] as const satisfies readonly MessageStatus[]);

/** GET /api/v1/messages/{id} for its recipient (not an admin): the inbox entry and the caller's receipts. */
const ownMessage = inboxItemBody.extend({ receipts: z.array(receiptBody) });

/** GET /api/v1/messages/{id} for an admin: the message (with the admin's own read state when it is also a recipient), its target, its progress and every receipt. */
const adminMessage = messageBody.extend({
  state: readState.optional().describe('Only when the admin is also a recipient'),
  sender: z.string().describe('The sending uid'),
  target,
  status: messageStatus.describe('Progress through the pipeline'),
  receipts: z.array(receiptBody),
  tallies: z
    .array(tallyBody)
    .describe('What a broadcast or thread message reached without a receipt per user: the sockets its publishes reached, summed over the gateways'),
});

export const messageDetail = z.union([ownMessage, adminMessage]);

export const report = z.strictObject({
  from: isoTime,
  to: isoTime,
  groupBy: z.enum(['channel', 'urgency', 'state']),
  rows: z.array(z.strictObject({ key: z.string(), count: z.number().int() })),
});

/** GET /api/v1/admin/stats: this process's live figures (src/api/admin-stats.ts). */
const perMinute = z.number().nullable().describe('Per minute over the last windowSeconds; null until the process has a baseline');
export const adminStats = z.strictObject({
  at: isoTime,
  sockets: z.number().int().nonnegative().describe('WebSocket connections open on this process'),
  scheduledJobs: z.number().int().nonnegative().describe('Jobs waiting in the scheduler (scheduled sends, fallback steps, retries)'),
  windowSeconds: z.number().int().nullable().describe('What the per-minute rates are measured over (about a minute)'),
  accepted: z
    .array(z.strictObject({ urgency: z.string(), total: z.number(), perMinute }))
    .describe('Messages accepted (202) since the process started, by urgency'),
  deliveries: z
    .array(z.strictObject({ channel: z.string(), result: z.string(), total: z.number(), perMinute }))
    .describe('Delivery attempts since the process started, by channel and classified result'),
  queues: z.array(z.strictObject({ subject: z.string(), depth: z.number() })).describe('Work waiting on the bus, by subject'),
});

/** GET /api/v1/messages/scheduled: messages waiting for their time, newest first. */
export const threadMembership = z.strictObject({
  thread: z.string().describe('The thread name'),
  uid: z.string().describe('The member'),
  joinedAt: isoTime.describe('When this membership began: the member sees what the thread is sent from then on'),
});
const nextName = z.string().nullable().describe('Cursor of the next page (the last name shown), passed back as `cursor`; null on the last page');
export const threadsPage = z.strictObject({ threads: z.array(threadMembership).describe('By thread name'), next: nextName });
export const membersPage = z.strictObject({ members: z.array(threadMembership).describe('By uid'), next: nextName });

export const scheduledPage = z.strictObject({
  messages: z.array(messageBody.extend({ sender: z.string().describe('The sending uid'), target })),
  next,
});

export const audienceCount = z.strictObject({
  count: z.number().int().nonnegative().describe('Users the message would go to (at least this many when capped)'),
  capped: z.boolean().describe('True when counting stopped at 10,000 users: the audience is at least that large'),
});

const problemCode = z.enum(Object.keys(PROBLEM_CODES) as [ProblemCode, ...ProblemCode[]]);

/** RFC 9457 problem+json, as src/problem.ts builds it (docs/errors.md lists the codes). */
export const problem = z.strictObject({
  type: z.string().describe('https://herald.dev/problems/<code in kebab case>'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: problemCode.describe('Stable: clients may branch on it (docs/errors.md)'),
  errors: z
    .array(z.strictObject({ path: z.string(), message: z.string() }))
    .optional()
    .describe('Every invalid field: a dotted path into the body, or the parameter name'),
  errorId: z.string().optional().describe('On a 500: the id logged with the cause'),
});

/** The OpenAPI document served at GET /openapi.json (its outline; openapi.ts builds the rest). */
export const openApiOutline = z.object({
  openapi: z.literal('3.1.0'),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});
