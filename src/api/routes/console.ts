/**
 * GET /console: the admin console (client/console/: plain HTML, CSS and an ES module over the
 * admin API — live figures, compose, scheduled messages, search with receipt funnels, user lookup).
 *
 * Public and not counted against the per-address limit, like /demo: static files holding no
 * data; every figure they show comes from admin-only API routes the page calls with the admin
 * token pasted into it. Each file is read once and kept, cached for 5 minutes and then
 * revalidated with its ETag. The Content-Security-Policy allows only Herald's own script, style
 * and connections: no inline script, no other origin, no framing, no form posted elsewhere.
 * Compiled Herald reads the files from dist/client/console/ (scripts/copy-assets.mjs).
 */
import { answer, open, type Route } from '../route.js';
import { assetAnswer, cachedAsset, fileText } from '../static-asset.js';

const CACHE_CONTROL = 'public, max-age=300';
/** `connect-src 'self'` covers the admin API; no image, font, frame or worker is loaded. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** From src/api/routes/ (source) and from dist/src/api/routes/ (compiled, beside dist/client/console/). */
const CONSOLE_DIR = new URL('../../../client/console/', import.meta.url);

const FILES = [
  { path: '/console', file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The admin console page' },
  { path: '/console/console.js', file: 'console.js', type: 'text/javascript; charset=utf-8', summary: "The admin console's script" },
  { path: '/console/console.css', file: 'console.css', type: 'text/css; charset=utf-8', summary: "The admin console's style sheet" },
] as const;

export function consoleRoutes(): Route[] {
  return FILES.map(({ path, file, type, summary }) => {
    const load = cachedAsset(fileText(new URL(file, CONSOLE_DIR)));
    return open(
      'GET',
      path,
      {
        summary,
        description: 'A static file (client/console/). Cached for 5 minutes, then revalidated with its ETag. Not rate limited.',
        tag: 'pages',
        headers: { 'If-None-Match': { description: 'The ETag of a copy held: 304 when it is still the current one' } },
        answers: {
          200: {
            description: `The file (${type})`,
            mediaType: type.split(';')[0] as string,
            headers: { ETag: 'A hash of the text', 'Cache-Control': CACHE_CONTROL },
          },
          304: answer('The copy held (If-None-Match) is current', undefined, { ETag: 'A hash of the text', 'Cache-Control': CACHE_CONTROL }),
        },
      },
      async ({ headers }) =>
        assetAnswer(await load(), headers, {
          contentType: type,
          cacheControl: CACHE_CONTROL,
          headers: { 'content-security-policy': CONSOLE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' },
        }),
      { unlimited: true },
    );
  });
}
