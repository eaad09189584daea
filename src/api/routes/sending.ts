/** POST /api/v1/send, /multicast, /broadcast: validate, accept (durably), answer 202. */
import { ProblemError } from '../../errors.js';
import type { Target } from '../../exchange/types.js';
import { accept } from '../../pipeline/accept.js';
import type { ApiDeps } from '../deps.js';
import { authed, json, type Route } from '../route.js';
import { broadcastBody, type MessageOptionsInput, multicastBody, sendBody } from '../schemas.js';
import { validate } from '../validate.js';

export function sendingRoutes(deps: ApiDeps): Route[] {
  const checkTemplate = (opts: MessageOptionsInput | undefined) => {
    const template = opts?.email?.template;
    if (template !== undefined && !deps.hasEmailTemplate(template)) {
      throw new ProblemError('HERALD_INVALID_REQUEST', `unknown email template "${template}"`, {
        errors: [{ path: 'opts.email.template', message: `no template named "${template}"` }],
      });
    }
  };
  const acceptFrom = async (sender: string, target: Target, msg: string, opts: MessageOptionsInput | undefined) => {
    checkTemplate(opts);
    return accept(deps, { sender, target, msg, opts });
  };

  return [
    authed(
      'POST',
      '/api/v1/send',
      'user',
      async ({ body, caller }) => {
        const input = validate(sendBody, body);
        const { id } = await acceptFrom(caller.uid, { kind: 'user', uid: input.uid }, input.msg, input.opts);
        return json(202, { id });
      },
      { body: true },
    ),
    authed(
      'POST',
      '/api/v1/multicast',
      'admin',
      async ({ body, caller }) => {
        const input = validate(multicastBody, body);
        const uids = input.uids ? [...new Set(input.uids)] : undefined;
        const target: Target = uids ? { kind: 'users', uids } : { kind: 'audience', audience: input.audience ?? {} };
        const { id } = await acceptFrom(caller.uid, target, input.msg, input.opts);
        return json(202, { id, recipients: uids ? uids.length : null });
      },
      { body: true },
    ),
    authed(
      'POST',
      '/api/v1/broadcast',
      'admin',
      async ({ body, caller }) => {
        const input = validate(broadcastBody, body);
        const { id } = await acceptFrom(caller.uid, { kind: 'everyone' }, input.msg, input.opts);
        return json(202, { id });
      },
      { body: true },
    ),
  ];
}
