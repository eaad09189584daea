/**
 * GET /sdk/herald.js: the browser SDK (client/, bundled by src/api/sdk-bundle.ts), for pages to
 * import as an ES module.
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
import { answer, open, type Route, refusals } from '../route.js';
import { loadSdk, SdkUnavailableError } from '../sdk-bundle.js';
import { assetAnswer, cachedAsset, type StaticAsset } from '../static-asset.js';

const CACHE_CONTROL = 'public, max-age=300';
/** Seconds a client is asked to wait when the bundle is missing (an installation to fix, not a blip). */
const RETRY_AFTER_MISSING = 60;

export function sdkRoutes(): Route[] {
  const load = cachedAsset(loadSdk);
  let reported = false;
  return [
    open(
      'GET',
      '/sdk/herald.js',
      {
        summary: 'The browser SDK, as one ES module',
        description:
          '`import { HeraldClient } from "<herald>/sdk/herald.js"` (docs/api.md, "Browser SDK"). Cached for 5 minutes, then revalidated with its ETag. ' +
          'A page of another origin needs HERALD_CORS_ORIGINS to list it. Not rate limited.',
        tag: 'realtime',
        headers: { 'If-None-Match': { description: 'The ETag of a copy held: 304 when it is still the current one' } },
        answers: {
          200: {
            description: 'The module (application/javascript; charset=utf-8)',
            mediaType: 'application/javascript',
            headers: { ETag: 'A hash of the text', 'Cache-Control': CACHE_CONTROL },
          },
          304: answer('The copy held (If-None-Match) is current', undefined, { ETag: 'A hash of the text', 'Cache-Control': CACHE_CONTROL }),
          ...refusals({ HERALD_UNAVAILABLE: 'the bundle is missing: a compiled Herald without dist/client/herald.js (npm run build writes it)' }),
        },
      },
      async ({ headers, log }) => {
        let sdk: StaticAsset;
        try {
          sdk = await load();
        } catch (error) {
          if (!(error instanceof SdkUnavailableError)) throw error;
          if (!reported) log.error({ err: error }, 'the browser SDK cannot be served');
          reported = true;
          // The log names the path; the public answer does not.
          throw new ProblemError('HERALD_UNAVAILABLE', 'this Herald was installed without its SDK bundle (npm run build writes dist/client/herald.js)', {
            retryAfterSeconds: RETRY_AFTER_MISSING,
          });
        }
        return assetAnswer(sdk, headers, { contentType: 'application/javascript; charset=utf-8', cacheControl: CACHE_CONTROL });
      },
      { unlimited: true },
    ),
  ];
}
