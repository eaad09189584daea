/**
 * Inbox and receipts: GET /api/v1/messages (own inbox), GET /api/v1/messages/{id} (owner or
 * admin), GET /api/v1/messages/search (admin), POST /api/v1/receipts (own messages),
 * GET /api/v1/reports (admin).
 */
import { ProblemError } from '../../errors.js';
import { LIMITS } from '../../exchange/limits.js';
import { recordClientReceipts } from '../../pipeline/client-receipts.js';
import type { ApiDeps } from '../deps.js';
import { authed, json, type Route } from '../route.js';
import { inboxQuery, messageId, receiptsBody, reportQuery, searchQuery } from '../schemas.js';
import { queryObject, validate } from '../validate.js';
import { inboxView, messageView, receiptView } from '../views.js';

const DAY_MS = 24 * 3600 * 1000;

/** One page plus whether another follows: asks for one more than it returns. */
function page<T extends { id: string }>(rows: T[], limit: number) {
  const shown = rows.slice(0, limit);
  return { rows: shown, next: rows.length > limit ? (shown[shown.length - 1]?.id ?? null) : null };
}

export function messageRoutes(deps: ApiDeps): Route[] {
  return [
    authed('GET', '/api/v1/messages', 'user', async ({ query, caller }) => {
      const q = validate(inboxQuery, queryObject(query));
      const limit = q.limit ?? LIMITS.defaultPageLimit;
      const items = await deps.stores.inbox.list(caller.uid, {
        limit: limit + 1,
        ...(q.since ? { since: q.since } : {}),
        ...(q.cursor ? { before: q.cursor } : {}),
        unreadOnly: q.state === 'unread',
      });
      const { rows, next } = page(items.map(inboxView), limit);
      return json(200, { messages: rows, next });
    }),

    authed('GET', '/api/v1/messages/search', 'admin', async ({ query }) => {
      const q = validate(searchQuery, queryObject(query));
      const limit = q.limit ?? LIMITS.defaultPageLimit;
      const found = await deps.search.searchMessages({
        q: q.q,
        limit: limit + 1,
        ...(q.from !== undefined ? { from: q.from } : {}),
        ...(q.to !== undefined ? { to: q.to } : {}),
        ...(q.uid ? { uid: q.uid } : {}),
        ...(q.cursor ? { before: q.cursor } : {}),
      });
      const { rows, next } = page(found.map(messageView), limit);
      return json(200, { messages: rows, next });
    }),

    authed('GET', '/api/v1/messages/:id', 'user', async ({ params, caller }) => {
      const id = validate(messageId, params.id, 'id');
      const own = await deps.stores.inbox.get(caller.uid, id);
      if (own && !caller.admin) {
        const receipts = await deps.stores.receipts.forMessage(id, caller.uid);
        return json(200, { ...inboxView(own), receipts: receipts.map((r) => receiptView(r)) });
      }
      const stored = caller.admin ? await deps.stores.messages.get(id) : undefined;
      if (!stored) throw new ProblemError('HERALD_NOT_FOUND', `no message ${id} for this user`);
      const receipts = await deps.stores.receipts.forMessage(id);
      return json(200, {
        ...(own ? inboxView(own) : messageView(stored.message)),
        sender: stored.message.sender,
        target: stored.message.target,
        status: stored.status,
        receipts: receipts.map((r) => receiptView(r, { admin: true })),
      });
    }),

    authed(
      'POST',
      '/api/v1/receipts',
      'user',
      async ({ body, caller }) => {
        const input = validate(receiptsBody, body);
        await recordClientReceipts(deps, caller.uid, input.ids, input.state, input.channel ?? 'inbox', deps.now());
        return json(204);
      },
      { body: true },
    ),

    authed('GET', '/api/v1/reports', 'admin', async ({ query }) => {
      const q = validate(reportQuery, queryObject(query));
      const to = q.to ?? deps.now();
      const from = q.from ?? to - DAY_MS;
      if (from >= to) throw new ProblemError('HERALD_INVALID_REQUEST', 'from must be before to', { errors: [{ path: 'from', message: 'must be before to' }] });
      const groupBy = q.groupBy ?? 'state';
      const rows = await deps.search.report({ from, to, groupBy });
      return json(200, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy, rows });
    }),
  ];
}
