/**
 * GET /sdk/herald.js: the browser SDK (client/, bundled by src/api/sdk-bundle.ts), for pages to
 * import as an ES module; GET /sdk/herald-sw.js: the service worker helper (client/sw), for a
 * site's worker to importScripts. What follows holds for both.
 *
 * Public and not counted against the per-address limit: it is a static asset that every page
 * view may load, and the API it drives is authenticated and limited on its own. The text is
 * loaded (or bundled) once, on the first request, and kept. Caching: unlike the API's answers
 * (no-store), the module may be cached for 5 minutes (`public, max-age=300`), then revalidated
 * with its ETag (a hash of the text: 304 when unchanged), so an upgraded Herald's SDK reaches
 * pages within minutes while a page view normally costs no request. Cross-origin pages load it
 * under HERALD_CORS_ORIGINS like the API (module scripts are fetched with CORS), which they need
 * anyway to call the API.
 */
import { ProblemError } from '../../errors.js';
import { open, type Route, refusals } from '../route.js';
import { loadSdk, loadServiceWorkerHelper, SdkUnavailableError } from '../sdk-bundle.js';
import { ASSET_CACHE_CONTROL, assetAnswer, assetAnswers, cachedAsset, IF_NONE_MATCH, type StaticAsset } from '../static-asset.js';

const CONTENT_TYPE = 'application/javascript; charset=utf-8';
/** Seconds a client is asked to wait when the bundle is missing (an installation to fix, not a blip). */
const RETRY_AFTER_MISSING = 60;

interface BundleRoute {
  path: string;
  file: string;
  summary: string;
  description: string;
  load: () => Promise<string>;
}

/** One bundle served as a static asset: loaded once, 5 minutes of cache, then its ETag. */
function bundleRoute(bundle: BundleRoute): Route {
  const load = cachedAsset(bundle.load);
  let reported = false;
  return open(
    'GET',
    bundle.path,
    {
      summary: bundle.summary,
      description: `${bundle.description} Cached for 5 minutes, then revalidated with its ETag. Not rate limited.`,
      tag: 'realtime',
      headers: IF_NONE_MATCH,
      answers: {
        ...assetAnswers(CONTENT_TYPE, 'The script'),
        ...refusals({ HERALD_UNAVAILABLE: `the bundle is missing: a compiled Herald without dist/client/${bundle.file} (npm run build writes it)` }),
      },
    },
    async ({ headers, log }) => {
      let asset: StaticAsset;
      try {
        asset = await load();
      } catch (error) {
        if (!(error instanceof SdkUnavailableError)) throw error;
        if (!reported) log.error({ err: error }, `${bundle.path} cannot be served`);
        reported = true;
        // The log names the path; the public answer does not.
        throw new ProblemError('HERALD_UNAVAILABLE', `this Herald was installed without its bundle (npm run build writes dist/client/${bundle.file})`, {
          retryAfterSeconds: RETRY_AFTER_MISSING,
        });
      }
      return assetAnswer(asset, headers, { contentType: CONTENT_TYPE, cacheControl: ASSET_CACHE_CONTROL });
    },
    { unlimited: true },
  );
}

export function sdkRoutes(): Route[] {
  return [
    bundleRoute({
      path: '/sdk/herald.js',
      file: 'herald.js',
      summary: 'The browser SDK, as one ES module',
      description:
        '`import { HeraldClient } from "<herald>/sdk/herald.js"` (docs/api.md, "Browser SDK"). A page of another origin needs HERALD_CORS_ORIGINS to list it.',
      load: loadSdk,
    }),
    bundleRoute({
      path: '/sdk/herald-sw.js',
      file: 'herald-sw.js',
      summary: "The service worker helper, as one classic script for a site's worker",
      description:
        '`importScripts("<herald>/sdk/herald-sw.js")` in the site\'s own service worker (docs/api.md, "Service worker helper"): shows pushes as notifications, ' +
        'reports delivered and clicked with their receipt capability, closes notifications read or recalled elsewhere, renews the subscription. ' +
        'The worker posts its receipts to Herald: a worker of another origin needs HERALD_CORS_ORIGINS to list that origin.',
      load: loadServiceWorkerHelper,
    }),
  ];
}
