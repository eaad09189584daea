/**
 * Routes for a page's static files (the demo inbox, the admin console): each file is read once
 * and kept (src/api/static-asset.ts), cached by the browser for 5 minutes and then revalidated
 * with its ETag, and answered with the page's Content-Security-Policy, `nosniff` and no referrer.
 *
 * Public and not counted against the per-address limit: static files holding no data, whose API
 * calls are authenticated and limited on their own. A page's folder is under client/ in the
 * sources and under dist/client/ once compiled (scripts/copy-assets.mjs), so the same relative
 * URL finds it from src/api/routes/ and from dist/src/api/routes/.
 */
import { open, type Route } from '../route.js';
import { ASSET_CACHE_CONTROL, assetAnswer, assetAnswers, cachedAsset, fileText, IF_NONE_MATCH } from '../static-asset.js';

export interface StaticFile {
  path: string;
  /** The file's name in the page's folder. */
  file: string;
  type: string;
  summary: string;
}

export interface StaticPage {
  /** The page's folder under client/, e.g. `demo`. */
  folder: string;
  files: readonly StaticFile[];
  /** The Content-Security-Policy of every file of the page. */
  csp: string;
}

export function staticFileRoutes(page: StaticPage): Route[] {
  const dir = new URL(`../../../client/${page.folder}/`, import.meta.url);
  return page.files.map(({ path, file, type, summary }) => {
    const load = cachedAsset(fileText(new URL(file, dir)));
    return open(
      'GET',
      path,
      {
        summary,
        description: `A static file (client/${page.folder}/). Cached for 5 minutes, then revalidated with its ETag. Not rate limited.`,
        tag: 'pages',
        headers: IF_NONE_MATCH,
        answers: assetAnswers(type, 'The file'),
      },
      async ({ headers }) =>
        assetAnswer(await load(), headers, {
          contentType: type,
          cacheControl: ASSET_CACHE_CONTROL,
          headers: { 'content-security-policy': page.csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' },
        }),
      { unlimited: true },
    );
  });
}
