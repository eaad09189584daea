/**
 * @herald/client: the browser SDK of Herald (docs/api.md, "Browser SDK"). Herald serves this
 * module, bundled, at GET /sdk/herald.js:
 *
 *   import { HeraldClient } from 'https://herald.example/sdk/herald.js';
 *   const herald = new HeraldClient({ url: 'https://herald.example', token: async () => myJwt() });
 *   herald.on('message', (m) => show(m));
 *   await herald.connect();
 *
 * No runtime dependencies: fetch, WebSocket and, for web push, the Push API of the browser.
 */
export { HeraldClient, type HeraldClientOptions } from './client.js';
export { type FieldError, HeraldError } from './errors.js';
export type { ActionResult, HeraldEvents, HeraldMessage, HeraldStatus, InboxMessage, InboxPage, MessagesQuery, Urgency } from './types.js';
