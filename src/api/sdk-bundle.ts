/**
 * The browser SDK's bundle: client/src (the @herald/client package) as one minified ES2020
 * module, served at GET /sdk/herald.js (src/api/routes/sdk.ts); and the service worker helper,
 * client/sw, as one minified classic script (an IIFE, for importScripts), served at
 * GET /sdk/herald-sw.js.
 *
 * Where it comes from, so that both ways of running Herald serve it:
 *  - compiled (`npm run build`, the Docker image, `npm start`): scripts/build-sdk.mjs bundles it
 *    into dist/client/herald.js beside the compiled server, which reads that file and needs no
 *    bundler (esbuild is a devDependency, pruned from production installs);
 *  - from source (tsx: tests, development): there is no such file, so it is bundled from
 *    client/src with esbuild's API on the first request (esbuild is installed with the dev
 *    dependencies that running from source needs anyway).
 * A compiled server whose dist lacks the file and which has no esbuild rejects with
 * SdkUnavailableError, naming what is missing.
 */
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** From the compiled dist/src/api/sdk-bundle.js: dist/client/herald.js. (From src/api/ it is client/herald.js, which nothing writes.) */
export const BUILT_SDK = new URL('../../client/herald.js', import.meta.url);
/** The SDK's entry point as seen from src/api/ (from dist/src/api/ it does not exist). */
export const SDK_ENTRY = new URL('../../client/src/index.ts', import.meta.url);
/** The service worker helper, built and from source, as for the SDK. */
export const BUILT_SW = new URL('../../client/herald-sw.js', import.meta.url);
export const SW_ENTRY = new URL('../../client/sw/herald-sw.ts', import.meta.url);

/** The bundle cannot be had: neither the built file nor the sources with esbuild. */
export class SdkUnavailableError extends Error {
  override name = 'SdkUnavailableError';
}

/**
 * Bundles the SDK from `entry` with esbuild (a devDependency); the same options for the build and
 * for a server run from source. `format`: esm for the SDK, iife for the worker helper (a classic script).
 */
export async function bundleSdk(entry: URL = SDK_ENTRY, format: 'esm' | 'iife' = 'esm'): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new SdkUnavailableError(
      `${fileURLToPath(BUILT_SDK)} is missing (npm run build writes it) and esbuild, which bundles the SDK from client/src, is not installed`,
      { cause: error },
    );
  }
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format,
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output for the SDK');
  return output.text;
}

/** A bundle's text: the built file when there is one, else bundled from the sources. */
async function loadBundle(built: URL, entry: URL, format: 'esm' | 'iife'): Promise<string> {
  try {
    return await readFile(built, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await access(entry);
  } catch (error) {
    throw new SdkUnavailableError(`${fileURLToPath(built)} is missing: npm run build writes it (scripts/build-sdk.mjs)`, { cause: error });
  }
  return bundleSdk(entry, format);
}

/** The SDK's text. */
export const loadSdk = (): Promise<string> => loadBundle(BUILT_SDK, SDK_ENTRY, 'esm');

/** The service worker helper's text. */
export const loadServiceWorkerHelper = (): Promise<string> => loadBundle(BUILT_SW, SW_ENTRY, 'iife');
