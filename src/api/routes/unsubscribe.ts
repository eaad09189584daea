/**
 * One-click unsubscribe (RFC 8058): the URL the `List-Unsubscribe` header of every email names,
 * `<HERALD_PUBLIC_URL>/unsubscribe?token=<signed token>` (src/auth/unsubscribe.ts). No login: the
 * token is the authority, for its one user and its one scope.
 *
 *  - POST with the form body `List-Unsubscribe=One-Click` (application/x-www-form-urlencoded, as
 *    mail clients send it) switches the token's category off in the user's preferences (every
 *    channel, as the preferences do), or the email channel for a token without a category.
 *    Idempotent; answers a small HTML page (the confirmation button of the GET page posts here).
 *  - GET never changes anything (mail scanners follow links): it answers an HTML page saying what
 *    the button will switch off, with the button (a form posting the same URL).
 *  - A missing, tampered, expired or foreign token is 400: problem+json naming `token`, or for a
 *    GET from a browser (Accept: text/html) an HTML page saying the link does not work; another media type is 415, a body over HERALD_BODY_LIMIT 413, a form without the
 *    one-click field 400 naming it.
 *  - A token signed before its user was erased switches nothing on for that user again: nothing
 *    is written (the preferences are gone with the user).
 *  - Not counted against the per-address limit of unauthenticated requests: mail providers post
 *    from a few addresses for many users, and every request carries a signature checked first.
 *  - The pages: no script, no style from elsewhere, no framing, no referrer (the token is in the
 *    URL), and every text from the token escaped.
 */
import { z } from 'zod';
import { UNSUBSCRIBE_TOKEN_MAX, type UnsubscribeGrant, type UnsubscribeScope, type UnsubscribeTokens } from '../../auth/unsubscribe.js';
import { subjects } from '../../bus/port.js';
import { ProblemError } from '../../errors.js';
import type { Preferences } from '../../exchange/types.js';
import type { ApiDeps } from '../deps.js';
import { open, type Route, type RouteResult, refusals } from '../route.js';

export const UNSUBSCRIBE_PATH = '/unsubscribe';
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';
/** Categories a user's preferences may hold (as PUT /api/v1/preferences allows). */
const MAX_CATEGORIES = 100;

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const tokenQuery = z.object({ token: z.string().max(UNSUBSCRIBE_TOKEN_MAX).optional().describe('The signed token of the link') });

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const what = (scope: UnsubscribeScope): string => ('category' in scope ? `messages of the category “${escapeHtml(scope.category)}”` : 'emails');

const page = (status: number, title: string, body: string): RouteResult => ({
  status,
  headers: PAGE_HEADERS,
  text: `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title></head>
<body>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`,
});

/** The preferences with the scope switched off (a category beyond the limit switches email off instead). */
export function switchedOff(preferences: Preferences, scope: UnsubscribeScope): Preferences {
  if ('category' in scope) {
    const known = scope.category in preferences.categories;
    if (known || Object.keys(preferences.categories).length < MAX_CATEGORIES) {
      return { ...preferences, categories: { ...preferences.categories, [scope.category]: { enabled: false } } };
    }
  }
  return { ...preferences, channels: { ...preferences.channels, email: false } };
}

export function unsubscribeRoutes(deps: ApiDeps, tokens: UnsubscribeTokens): Route[] {
  const grantOf = async (query: URLSearchParams): Promise<UnsubscribeGrant | undefined> => {
    const token = query.get('token');
    return token ? tokens.verify(token) : undefined;
  };

  const unsubscribe = async ({ uid, scope, issuedAt }: UnsubscribeGrant): Promise<void> => {
    const erased = (await deps.stores.erasure.erasedAt([uid])).get(uid);
    if (erased !== undefined && erased >= issuedAt) return;
    const preferences = switchedOff(await deps.stores.users.getPreferences(uid), scope);
    await deps.stores.users.putPreferences(uid, preferences);
    deps.bus.emit(subjects.preferencesChanged, { uid, realtime: preferences.channels.realtime !== false });
    deps.log.info({ scope: 'category' in scope ? 'category' : 'email' }, 'unsubscribed by a one-click link');
  };

  const invalidToken = () =>
    new ProblemError('HERALD_INVALID_REQUEST', 'the unsubscribe token is missing, invalid or expired', {
      errors: [{ path: 'token', message: 'is invalid or expired' }],
    });
  const invalidLinkPage = () =>
    page(
      400,
      'This unsubscribe link does not work',
      '<p>It is incomplete, was changed, or has expired. The newest email you received has a link that works.</p>',
    );

  return [
    open(
      'GET',
      UNSUBSCRIBE_PATH,
      {
        summary: 'The confirmation page of a one-click unsubscribe link',
        description:
          'Changes nothing (mail scanners follow links): an HTML page naming what the link switches off, with a button that POSTs the one-click form to the same URL. ' +
          'An invalid or expired token is a 400 HTML page. Not rate limited.',
        tag: 'pages',
        query: tokenQuery,
        answers: {
          200: { description: 'The confirmation page (text/html)', mediaType: 'text/html' },
          400: {
            description: 'The token is missing, invalid or expired: an HTML page for a browser (Accept: text/html), problem+json naming `token` otherwise',
            codes: ['HERALD_INVALID_REQUEST'],
            mediaType: 'text/html',
          },
        },
      },
      async ({ query, headers }) => {
        const grant = await grantOf(query);
        if (!grant) {
          if ((headers.accept ?? '').includes('text/html')) return invalidLinkPage();
          throw invalidToken();
        }
        return page(
          200,
          'Unsubscribe',
          `<p>Stop receiving ${what(grant.scope)}?</p>
<form method="post" action=""><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
        );
      },
      { unlimited: true },
    ),
    open(
      'POST',
      UNSUBSCRIBE_PATH,
      {
        summary: 'One-click unsubscribe (RFC 8058)',
        description:
          'The form body `List-Unsubscribe=One-Click` switches off, in the preferences of the token’s user, the token’s category (every channel) or, for a message without one, the email channel. ' +
          'No login: the signed token (in the query) is the authority. Idempotent. Not rate limited.',
        tag: 'pages',
        query: tokenQuery,
        rawBody: { mediaType: FORM_MEDIA_TYPE, description: '`List-Unsubscribe=One-Click`' },
        answers: {
          200: { description: 'Unsubscribed: a small page saying so (text/html)', mediaType: 'text/html' },
          ...refusals({
            HERALD_INVALID_REQUEST: 'the token is missing, invalid or expired (errors[] names `token`), or the form lacks List-Unsubscribe=One-Click',
            HERALD_UNSUPPORTED_MEDIA_TYPE: 'the body is not application/x-www-form-urlencoded',
          }),
        },
      },
      async ({ query, headers, body }) => {
        const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (mediaType !== FORM_MEDIA_TYPE) {
          throw new ProblemError(
            'HERALD_UNSUPPORTED_MEDIA_TYPE',
            `Content-Type must be ${FORM_MEDIA_TYPE}, not ${mediaType ? `"${mediaType.slice(0, 64)}"` : 'missing'}`,
            {
              errors: [{ path: 'content-type', message: `must be ${FORM_MEDIA_TYPE}` }],
            },
          );
        }
        const grant = await grantOf(query);
        if (!grant)
          throw new ProblemError('HERALD_INVALID_REQUEST', 'the unsubscribe token is missing, invalid or expired', {
            errors: [{ path: 'token', message: 'is invalid or expired' }],
          });
        const form = new URLSearchParams(typeof body === 'string' ? body : '');
        if (form.get('List-Unsubscribe') !== 'One-Click') {
          throw new ProblemError('HERALD_INVALID_REQUEST', 'the form must be List-Unsubscribe=One-Click', {
            errors: [{ path: 'List-Unsubscribe', message: 'must be One-Click' }],
          });
        }
        await unsubscribe(grant);
        return page(200, 'Unsubscribed', `<p>You will no longer receive ${what(grant.scope)}.</p>`);
      },
      { body: 'raw', unlimited: true },
    ),
  ];
}
