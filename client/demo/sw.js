// The demo inbox's service worker: all of it is Herald's helper (GET /sdk/herald-sw.js), which
// shows pushes as notifications and reports their receipts. A site's own worker adds its
// caching or other handlers beside this line.
importScripts('/sdk/herald-sw.js');
