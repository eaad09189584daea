// Bundles the browser SDK (client/src) into dist/client/herald.js and the service worker helper
// (client/sw) into dist/client/herald-sw.js, the files the compiled server serves at
// GET /sdk/herald.js and GET /sdk/herald-sw.js (src/api/sdk-bundle.ts). Runs after tsc in `npm run build`.
import fs from 'node:fs';
import { BUILT_SDK, BUILT_SW, bundleSdk } from '../dist/src/api/sdk-bundle.js';

const text = await bundleSdk(new URL('../client/src/index.ts', import.meta.url));
fs.mkdirSync(new URL('.', BUILT_SDK), { recursive: true });
fs.writeFileSync(BUILT_SDK, text);
console.log(`SDK bundle: ${BUILT_SDK.pathname} (${text.length} bytes)`);

const worker = await bundleSdk(new URL('../client/sw/herald-sw.ts', import.meta.url), 'iife');
fs.writeFileSync(BUILT_SW, worker);
console.log(`Service worker helper bundle: ${BUILT_SW.pathname} (${worker.length} bytes)`);
