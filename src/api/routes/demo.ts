/**
 * GET /demo: the demo inbox, a page built on the browser SDK (client/demo/: plain HTML, CSS and
 * an ES module importing /sdk/herald.js, so it reads as what a web developer would write), and
 * its service worker, which imports the SDK's worker helper (/sdk/herald-sw.js).
 *
 * Static files (static-files.ts). The page's Content-Security-Policy allows only Herald's own
 * scripts, styles, connections and worker: no inline script, no other origin, no framing.
 */
import type { Route } from '../route.js';
import { staticFileRoutes } from './static-files.js';

/** The demo's own files only; `connect-src 'self'` covers the API and the same-origin WebSocket. */
export const DEMO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const demoRoutes = (): Route[] =>
  staticFileRoutes({
    folder: 'demo',
    csp: DEMO_CSP,
    files: [
      { path: '/demo', file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The demo inbox page' },
      { path: '/demo/demo.js', file: 'demo.js', type: 'text/javascript; charset=utf-8', summary: "The demo inbox's script" },
      { path: '/demo/demo.css', file: 'demo.css', type: 'text/css; charset=utf-8', summary: "The demo inbox's style sheet" },
      { path: '/demo/sw.js', file: 'sw.js', type: 'text/javascript; charset=utf-8', summary: "The demo inbox's service worker" },
    ],
  });
