/**
 * GET /demo: the demo inbox, a page built on the browser SDK (client/demo/: plain HTML, CSS and
 * an ES module importing /sdk/herald.js, so it reads as what a web developer would write), and
 * its service worker, which imports the SDK's worker helper (/sdk/herald-sw.js).
 *
 * Public and not counted against the per-address limit, like the SDK: static files whose API
 * calls are authenticated and limited on their own. Each file is read once and kept, cached by
 * the browser for 5 minutes and then revalidated with its ETag. The page's Content-Security-Policy
 * allows only Herald's own scripts, styles and connections: no inline script, no other origin,
 * no framing. Compiled Herald reads the files from dist/client/demo/ (scripts/copy-assets.mjs).
 */
import { answer, open, type Route } from '../route.js';
import { assetAnswer, cachedAsset, fileText } from '../static-asset.js';

const CACHE_CONTROL = 'public, max-age=300';
/** The demo's own files only; `connect-src 'self'` covers the API and the same-origin WebSocket. */
export const DEMO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** From src/api/routes/ (source) and from dist/src/api/routes/ (compiled, beside dist/client/demo/). */
const DEMO_DIR = new URL('../../../client/demo/', import.meta.url);

const FILES = [
  { path: '/demo', file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The demo inbox page' },
  { path: '/demo/demo.js', file: 'demo.js', type: 'text/javascript; charset=utf-8', summary: "The demo inbox's script" },
  { path: '/demo/demo.css', file: 'demo.css', type: 'text/css; charset=utf-8', summary: "The demo inbox's style sheet" },
  { path: '/demo/sw.js', file: 'sw.js', type: 'text/javascript; charset=utf-8', summary: "The demo inbox's service worker" },
] as const;

export function demoRoutes(): Route[] {
  return FILES.map(({ path, file, type, summary }) => {
    const load = cachedAsset(fileText(new URL(file, DEMO_DIR)));
    return open(
      'GET',
      path,
      {
        summary,
        description: 'A static file (client/demo/). Cached for 5 minutes, then revalidated with its ETag. Not rate limited.',
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
        assetAnswer(await load(), headers, { contentType: type, cacheControl: CACHE_CONTROL, headers: { 'content-security-policy': DEMO_CSP } }),
      { unlimited: true },
    );
  });
}
