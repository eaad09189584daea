/**
 * Inbound hooks: the HTTP endpoints channels declare for their providers to call (e.g. Twilio's
 * SMS status callback, channels/sms/status-hook.ts), mounted as public routes. This file knows
 * no provider: a hook authenticates its caller itself and answers a status, receipts and text.
 *  - Receipts are recorded (store, metric, search index) before the answer, so a provider that
 *    gets its 2xx knows the status is durable.
 *  - A status of 400 or more is answered as problem+json (403 → HERALD_FORBIDDEN, and so on),
 *    the hook's text as its detail.
 *  - The body reaches the hook unparsed (providers sign the exact bytes), and hooks are not
 *    limited per client address: providers call from many addresses and sign every request.
 */
import { z } from 'zod';
import type { InboundHook } from '../../../channels/port.js';
import { PROBLEM_CODES, type ProblemCode, ProblemError } from '../../errors.js';
import type { Receipt } from '../../exchange/types.js';
import { recordReceipts } from '../../pipeline/receipts.js';
import { withdrawCopies } from '../../pipeline/withdraw.js';
import type { ApiDeps } from '../deps.js';
import { type Answers, json, open, type Route, type RouteDoc } from '../route.js';

/** The problem code a hook's refusal is answered with: the first code of that status (src/errors.ts). */
const PROBLEM_BY_STATUS: ReadonlyMap<number, ProblemCode> = new Map(
  (Object.entries(PROBLEM_CODES) as Array<[ProblemCode, { status: number }]>).reverse().map(([code, { status }]) => [status, code]),
);

/** The route document of a hook, from what it declares. */
function docOf(hook: InboundHook): RouteDoc {
  const answers: Answers = Object.fromEntries(
    Object.entries(hook.answers).map(([status, description]) => {
      const code = Number(status) >= 400 ? PROBLEM_BY_STATUS.get(Number(status)) : undefined;
      return [status, code ? { description, codes: [code] } : { description }];
    }),
  );
  return {
    summary: hook.summary,
    description: hook.description,
    tag: 'webhooks',
    rawBody: hook.body,
    answers,
    ...(hook.query
      ? { query: z.object(Object.fromEntries(Object.entries(hook.query).map(([name, meaning]) => [name, z.string().optional().describe(meaning)]))) }
      : {}),
    ...(hook.headers
      ? { headers: Object.fromEntries(Object.entries(hook.headers).map(([name, description]) => [name, { description, required: true }])) }
      : {}),
  };
}

export function inboundRoutes(deps: ApiDeps, hooks: readonly InboundHook[]): Route[] {
  return hooks.map((hook) =>
    open(
      hook.method,
      hook.path,
      docOf(hook),
      async ({ headers, query, body, log }) => {
        const answer = await hook.handle({ headers, query, body: typeof body === 'string' ? body : undefined, log, now: deps.now() });
        if (answer.status >= 400) throw new ProblemError(PROBLEM_BY_STATUS.get(answer.status) ?? 'HERALD_INTERNAL', answer.text ?? 'refused');
        if (answer.receipts) {
          await recordReceipts(deps, answer.receipts);
          await withdrawReadCopies(deps, answer.receipts);
        }
        return answer.text === undefined ? json(answer.status) : { status: answer.status, text: answer.text };
      },
      { body: 'raw', unlimited: true },
    ),
  );
}

/** A provider that reports a read or click (an opened email, a tapped notification) quiets the message's copies elsewhere. */
async function withdrawReadCopies(deps: ApiDeps, receipts: readonly Receipt[]): Promise<void> {
  for (const r of receipts) {
    if (r.state !== 'read' && r.state !== 'clicked') continue;
    await withdrawCopies(deps, r.uid, [r.messageId], 'read', r.device !== undefined ? { device: r.device } : {});
  }
}
