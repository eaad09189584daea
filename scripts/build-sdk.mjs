// Bundles the browser SDK (client/src) into dist/client/herald.js, the file the compiled server
// serves at GET /sdk/herald.js (src/api/sdk-bundle.ts). Runs after tsc in `npm run build`.
import fs from 'node:fs';
import { BUILT_SDK, bundleSdk } from '../dist/src/api/sdk-bundle.js';

const text = await bundleSdk(new URL('../client/src/index.ts', import.meta.url));
fs.mkdirSync(new URL('.', BUILT_SDK), { recursive: true });
fs.writeFileSync(BUILT_SDK, text);
console.log(`SDK bundle: ${BUILT_SDK.pathname} (${text.length} bytes)`);
