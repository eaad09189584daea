/**
 * POST /api/v1/send, /multicast, /broadcast: validate, apply the sending policy and the link
 * rule, accept (durably), answer 202. The policy (HERALD_USER_SEND, src/exchange/send-policy.ts)
 * binds non-admin callers of /send; the link rule (src/exchange/links.ts) binds everyone.
 */
import type { Caller } from '../../auth/tokens.js';
import { type FieldError, invalid, ProblemError } from '../../errors.js';
import { linkProblem, varsLinkProblems } from '../../exchange/links.js';
import { decideSend, type UserSendPolicy } from '../../exchange/send-policy.js';
import type { Audience, Target } from '../../exchange/types.js';
import { accept } from '../../pipeline/accept.js';
import type { ApiDeps } from '../deps.js';
import { accepted, multicastAccepted } from '../responses.js';
import { answer, authed, json, type Route, refusals } from '../route.js';
import { broadcastBody, type MessageOptionsInput, multicastBody, sendBody } from '../schemas.js';
import { validate } from '../validate.js';

export interface SendingOptions {
  /** HERALD_USER_SEND; default `inapp`. */
  userSend?: UserSendPolicy;
  /** HERALD_LINK_SCHEMES: app schemes accepted in links besides http(s). */
  linkSchemes?: readonly string[];
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': 'The send limit closest to refusing, per its window (absent when none applies)',
  'RateLimit-Remaining': 'What is left of it',
  'RateLimit-Reset': 'Seconds until it resets',
};

const OPTIONS_REFUSED = {
  HERALD_INVALID_REQUEST:
    'a field is invalid, missing or unknown (each in errors[]); a link with a scheme HERALD_LINK_SCHEMES does not allow; an unknown opts.email.template',
  HERALD_IDEMPOTENCY_CONFLICT: 'opts.idempotencyKey was used by this sender within 24 h for a different request',
} as const;

/** An audience's target: among a thread's members when it names one (Target `members`). */
function audienceTarget(audience: Audience): Target {
  const { thread, ...rest } = audience;
  return thread === undefined ? { kind: 'audience', audience } : { kind: 'members', thread, audience: rest };
}

export function sendingRoutes(deps: ApiDeps, options: SendingOptions = {}): Route[] {
  const userSend = options.userSend ?? 'inapp';
  const linkSchemes: ReadonlySet<string> = new Set(options.linkSchemes ?? []);
  const checkLinks = (opts: MessageOptionsInput | undefined) => {
    const errors: FieldError[] = [];
    const linkError = opts?.link === undefined ? undefined : linkProblem(opts.link, linkSchemes);
    if (linkError) errors.push({ path: 'opts.link', message: linkError });
    if (opts?.email?.vars !== undefined) errors.push(...varsLinkProblems(opts.email.vars, linkSchemes, 'opts.email.vars'));
    if (errors.length > 0) throw invalid(errors);
  };
  /** Whether `caller` may send this; throws the 403 naming what it may not ask for. */
  const policyFor = (caller: Caller, opts: MessageOptionsInput | undefined): { inAppOnly: boolean } => {
    const decision = decideSend(userSend, caller, opts, deps.traits);
    if (decision.allowed) return { inAppOnly: decision.inAppOnly };
    if (decision.reason === 'admin-only') throw new ProblemError('HERALD_FORBIDDEN', 'only an admin may send messages here (HERALD_USER_SEND=off)');
    throw new ProblemError('HERALD_FORBIDDEN', `not allowed for a user's message: ${decision.errors.map((e) => e.path).join(', ')}`, {
      errors: decision.errors,
    });
  };
  const checkTemplate = (opts: MessageOptionsInput | undefined) => {
    const template = opts?.email?.template;
    if (template !== undefined && !deps.hasEmailTemplate(template)) {
      throw new ProblemError('HERALD_INVALID_REQUEST', `unknown email template "${template}"`, {
        errors: [{ path: 'opts.email.template', message: `no template named "${template}"` }],
      });
    }
  };
  /** The checks every sender's options pass, admins' included: the link rule and a known template. */
  const checkOptions = (opts: MessageOptionsInput | undefined) => {
    checkLinks(opts);
    checkTemplate(opts);
  };
  /** Accepts options that already passed `checkOptions`. */
  const acceptFrom = (caller: Caller, target: Target, msg: string, opts: MessageOptionsInput | undefined, policy = { inAppOnly: false }) =>
    accept(deps, { sender: caller.uid, senderAdmin: caller.admin, inAppOnly: policy.inAppOnly, target, msg, opts });

  return [
    authed(
      'POST',
      '/api/v1/send',
      'user',
      {
        summary: 'Send a message to one user',
        description:
          'Answers once the message is stored durably; delivery follows asynchronously. A non-admin caller is bound by HERALD_USER_SEND ' +
          '(inapp by default: in-app channels only, urgency at most normal); its recipients see it as `sender`. ' +
          'Limited per sender and per recipient (HERALD_RATE_SEND, HERALD_RATE_SEND_BURST, HERALD_RATE_RECIPIENT; admins only with HERALD_RATE_ADMINS).',
        tag: 'sending',
        body: sendBody,
        answers: {
          202: answer('Accepted: stored durably (the same id again for a repeated idempotencyKey)', accepted, RATE_LIMIT_HEADERS),
          ...refusals({
            ...OPTIONS_REFUSED,
            HERALD_FORBIDDEN: 'HERALD_USER_SEND does not let a non-admin send this (off, or an option beyond inapp: each in errors[])',
            HERALD_RATE_LIMITED: 'a send limit of this sender or recipient is reached',
          }),
        },
      },
      async ({ body, caller }) => {
        if (!caller.admin && userSend === 'off') policyFor(caller, undefined);
        const input = validate(sendBody, body);
        const policy = policyFor(caller, input.opts);
        checkOptions(input.opts);
        // Counted once the request is valid and allowed, before it is accepted (admins: not by default).
        const limited = await deps.rateLimits?.send(caller, input.uid);
        const { id } = await acceptFrom(caller, { kind: 'user', uid: input.uid }, input.msg, input.opts, policy);
        return json(202, { id }, limited);
      },
      { body: true },
    ),
    authed(
      'POST',
      '/api/v1/multicast',
      'admin',
      {
        summary: 'Send a message to a list of users, an audience or a thread',
        description:
          'Give `uids` (repeats are sent once), `audience` (every condition must hold: `where` on user attributes, `has` a device or contact kind, `online` a live socket) ' +
          'or `thread`, exactly one. An audience is resolved asynchronously, page by page. A thread message is written once, to the thread, before any frame of it goes out: ' +
          'every member sees it in their inbox, live sockets get it at once, and devices and fallbacks follow per member by the usual rules.',
        tag: 'sending',
        body: multicastBody,
        answers: { 202: answer('Accepted: stored durably', multicastAccepted), ...refusals(OPTIONS_REFUSED) },
      },
      async ({ body, caller }) => {
        const input = validate(multicastBody, body);
        const uids = input.uids ? [...new Set(input.uids)] : undefined;
        const target: Target = uids
          ? { kind: 'users', uids }
          : input.thread !== undefined
            ? { kind: 'thread', thread: input.thread }
            : audienceTarget(input.audience ?? {});
        checkOptions(input.opts);
        const { id } = await acceptFrom(caller, target, input.msg, input.opts);
        return json(202, { id, recipients: uids ? uids.length : null });
      },
      { body: true },
    ),
    authed(
      'POST',
      '/api/v1/broadcast',
      'admin',
      {
        summary: 'Send a message to every known user',
        tag: 'sending',
        body: broadcastBody,
        answers: { 202: answer('Accepted: stored durably', accepted), ...refusals(OPTIONS_REFUSED) },
      },
      async ({ body, caller }) => {
        const input = validate(broadcastBody, body);
        checkOptions(input.opts);
        const { id } = await acceptFrom(caller, { kind: 'everyone' }, input.msg, input.opts);
        return json(202, { id });
      },
      { body: true },
    ),
  ];
}
