/**
 * GET /console: the admin console (client/console/: plain HTML, CSS and an ES module over the
 * admin API — live figures, compose, scheduled messages, search with receipt funnels, user lookup).
 *
 * Static files holding no data (static-files.ts): every figure they show comes from admin-only
 * API routes the page calls with the admin token pasted into it. The Content-Security-Policy
 * allows only Herald's own script, style and connections: no inline script, no other origin, no
 * framing, no form posted anywhere.
 */
import type { Route } from '../route.js';
import { staticFileRoutes } from './static-files.js';

/** `connect-src 'self'` covers the admin API; no image, font, frame or worker is loaded. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const consoleRoutes = (): Route[] =>
  staticFileRoutes({
    folder: 'console',
    csp: CONSOLE_CSP,
    files: [
      { path: '/console', file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The admin console page' },
      { path: '/console/console.js', file: 'console.js', type: 'text/javascript; charset=utf-8', summary: "The admin console's script" },
      { path: '/console/console.css', file: 'console.css', type: 'text/css; charset=utf-8', summary: "The admin console's style sheet" },
    ],
  });
