/**
 * Inbox and receipts: GET /api/v1/messages (own inbox), GET /api/v1/messages/count (own unread
 * entries), GET /api/v1/messages/{id} (owner or admin), DELETE /api/v1/messages/{id} (recall: sender
 * or admin), GET /api/v1/messages/search (admin),
 * POST /api/v1/receipts (own messages), GET /api/v1/reports (admin).
 */
import { ProblemError } from '../../errors.js';
import { LIMITS } from '../../exchange/limits.js';
import { recordAllRead, recordArchived, recordClientReceipts } from '../../pipeline/client-receipts.js';
import { recallMessage } from '../../pipeline/recall.js';
import type { ApiDeps } from '../deps.js';
import { inboxPageOf, page } from '../paging.js';
import { inboxCount, inboxPage, messageDetail, report, searchPage } from '../responses.js';
import { answer, authed, authedOrAnonymous, json, type Route, refusals } from '../route.js';
import { allReadBody, capabilityReceiptBody, countQuery, inboxQuery, messageId, receiptsBody, receiptsRequest, reportQuery, searchQuery } from '../schemas.js';
import { queryObject, validate } from '../validate.js';
import { inboxView, messageView, receiptView, tallyView } from '../views.js';

const DAY_MS = 24 * 3600 * 1000;

export function messageRoutes(deps: ApiDeps): Route[] {
  return [
    authed(
      'GET',
      '/api/v1/messages',
      'user',
      {
        summary: "The caller's inbox, newest first",
        description:
          'Pages of `limit` (default 50, at most 200). `since` keeps only messages newer than that id; `cursor` (the previous page `next`) continues with older ones; `state=unread` keeps the unread ones.',
        tag: 'inbox',
        query: inboxQuery,
        answers: { 200: answer('One page', inboxPage), ...refusals({ HERALD_INVALID_REQUEST: 'a query parameter is invalid or unknown (each in errors[])' }) },
      },
      async ({ query, caller }) => {
        const q = validate(inboxQuery, queryObject(query));
        return json(200, await inboxPageOf(deps.stores.inbox, caller.uid, q));
      },
    ),

    authed(
      'GET',
      '/api/v1/messages/count',
      'user',
      {
        summary: "How many messages of the caller's inbox are unread",
        description:
          '`state=unread` (required; the only state counted): as many as paging GET /api/v1/messages?state=unread to its end lists. ' +
          "It reads the caller's own entries, and the broadcasts and thread messages posted since the oldest one still unread; poll it sparingly (the WebSocket says when a message arrives).",
        tag: 'inbox',
        query: countQuery,
        answers: {
          200: answer('The count', inboxCount),
          ...refusals({ HERALD_INVALID_REQUEST: 'state is missing or not unread, or a query parameter is unknown (each in errors[])' }),
        },
      },
      async ({ query, caller }) => {
        validate(countQuery, queryObject(query));
        return json(200, { count: await deps.stores.inbox.countUnread(caller.uid) });
      },
    ),

    authed(
      'GET',
      '/api/v1/messages/search',
      'admin',
      {
        summary: 'Full-text search over messages, newest first',
        description: 'Matches message text and title; `from` / `to` bound the creation time, `uid` keeps one recipient. Paged like the inbox.',
        tag: 'inbox',
        query: searchQuery,
        answers: {
          200: answer('One page', searchPage),
          ...refusals({ HERALD_INVALID_REQUEST: 'a query parameter is invalid, unknown or missing (q), or from is after to' }),
        },
      },
      async ({ query }) => {
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
      },
    ),

    authed(
      'GET',
      '/api/v1/messages/:id',
      'user',
      {
        summary: 'One message with its receipts',
        description:
          'A recipient sees its inbox entry and its own receipts. An admin sees any message: its target, its progress (status), every receipt with the stored detail, ' +
          'and the tallies of what a broadcast or thread message reached without a receipt per user (the sockets its publishes reached). ' +
          'A message the caller may not see is 404, never 403.',
        tag: 'inbox',
        params: { id: messageId },
        answers: {
          200: answer("The message: the recipient's view or the admin's", messageDetail),
          ...refusals({ HERALD_INVALID_REQUEST: 'the id is not a message id', HERALD_NOT_FOUND: 'no such message for this caller' }),
        },
      },
      async ({ params, caller }) => {
        const id = validate(messageId, params.id, 'id');
        const own = await deps.stores.inbox.get(caller.uid, id);
        if (own && !caller.admin) {
          const receipts = await deps.stores.receipts.forMessage(id, caller.uid);
          return json(200, { ...inboxView(own), receipts: receipts.map((r) => receiptView(r)) });
        }
        const stored = caller.admin ? await deps.stores.messages.get(id) : undefined;
        if (!stored) throw new ProblemError('HERALD_NOT_FOUND', `no message ${id} for this user`);
        const [receipts, tallies] = await Promise.all([deps.stores.receipts.forMessage(id), deps.stores.receipts.talliesOf(id)]);
        return json(200, {
          ...(own ? inboxView(own) : messageView(stored.message)),
          sender: stored.message.sender,
          target: stored.message.target,
          status: stored.status,
          receipts: receipts.map((r) => receiptView(r, { admin: true })),
          tallies: tallies.map(tallyView),
        });
      },
    ),

    authed(
      'DELETE',
      '/api/v1/messages/:id',
      'user',
      {
        summary: 'Recall a message: cancel it when scheduled, take it out of every inbox when sent',
        description:
          'By its sender or an admin. A scheduled message is never sent. A sent one is no longer listed, counted or shown in any inbox at once; ' +
          'its pending fallbacks are cancelled, deliveries not yet made are dropped (`suppressed`, reason `recalled`), live sockets get ' +
          '`{"type": "recall", "id"}`, and push copies are withdrawn where the platform allows (a close push to the service worker; APNs and FCM updates with the collapse id). ' +
          'Receipts and reports keep what happened; an admin still reads the message, with status `recalled`. Recalling it again is 204. ' +
          'A message the caller may not recall is 404, never 403.',
        tag: 'inbox',
        params: { id: messageId },
        answers: {
          204: answer('Recalled (or already)'),
          ...refusals({
            HERALD_INVALID_REQUEST: 'the id is not a message id',
            HERALD_NOT_FOUND: 'no such message, or the caller is neither its sender nor an admin',
          }),
        },
      },
      async ({ params, caller }) => {
        const id = validate(messageId, params.id, 'id');
        const outcome = await recallMessage(deps, { uid: caller.uid, admin: caller.admin }, id);
        if (outcome === 'not-found') throw new ProblemError('HERALD_NOT_FOUND', `no message ${id} this caller may recall`);
        return json(204);
      },
    ),

    authedOrAnonymous(
      'POST',
      '/api/v1/receipts',
      {
        summary: 'Report that messages of the caller were delivered, read or clicked',
        description:
          "Ids that are not the caller's messages are ignored. `channel` (default inbox) is the channel the state was reached on. States only move forward: a read message does not go back to delivered. " +
          '`state: "archived"` removes the messages from the caller\'s inbox (no longer listed or counted; still in reports; no receipt). ' +
          '`{"all": true, "state": "read"}` marks read every message of the caller that was unread when the request came (mark all read). ' +
          '`{"capability": "<receipt>", "state": ...}` needs no token: a service worker reports the receipt of the one message, user and device its push capability names (docs/security.md). ' +
          "A read or click withdraws the message's copies on the user's other sockets and devices.",
        tag: 'inbox',
        body: receiptsRequest,
        capability: 'a receipt capability in the body (`capability`: the `receipt` of a web push payload)',
        answers: {
          204: answer('Recorded'),
          ...refusals({
            HERALD_INVALID_REQUEST: 'a field is invalid (each in errors[])',
            HERALD_UNAUTHORIZED: 'no token and no capability, or a capability that is invalid, expired or tampered with',
          }),
        },
      },
      async ({ body, caller }) => {
        if (typeof body === 'object' && body !== null && 'capability' in body) {
          const input = validate(capabilityReceiptBody, body);
          const grant = await deps.capabilities.verifyReceipt(input.capability);
          if (!grant) throw new ProblemError('HERALD_UNAUTHORIZED', 'capability is invalid, expired or not a receipt capability');
          await recordClientReceipts(deps, grant.uid, [grant.messageId], input.state, grant.channel, deps.now(), { device: grant.deviceId });
          return json(204);
        }
        if (!caller) throw new ProblemError('HERALD_UNAUTHORIZED', 'missing bearer token in Authorization header (or a receipt capability in the body)');
        if (typeof body === 'object' && body !== null && 'all' in body) {
          const all = validate(allReadBody, body);
          await recordAllRead(deps, caller.uid, all.channel ?? 'inbox', deps.now());
          return json(204);
        }
        const input = validate(receiptsBody, body);
        if (input.state === 'archived') await recordArchived(deps, caller.uid, input.ids, deps.now());
        else await recordClientReceipts(deps, caller.uid, input.ids, input.state, input.channel ?? 'inbox', deps.now());
        return json(204);
      },
      { body: true },
    ),

    authed(
      'GET',
      '/api/v1/reports',
      'admin',
      {
        summary: 'Delivery counts for a period, grouped',
        description: 'Receipts counted by channel, urgency or state (default) between `from` and `to` (default: the 24 hours before now).',
        tag: 'inbox',
        query: reportQuery,
        answers: {
          200: answer('The counts', report),
          ...refusals({ HERALD_INVALID_REQUEST: 'a query parameter is invalid or unknown, or from is not before to' }),
        },
      },
      async ({ query }) => {
        const q = validate(reportQuery, queryObject(query));
        const to = q.to ?? deps.now();
        const from = q.from ?? to - DAY_MS;
        if (from >= to)
          throw new ProblemError('HERALD_INVALID_REQUEST', 'from must be before to', { errors: [{ path: 'from', message: 'must be before to' }] });
        const groupBy = q.groupBy ?? 'state';
        const rows = await deps.search.report({ from, to, groupBy });
        return json(200, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy, rows });
      },
    ),
  ];
}
