/**
 * Serving a static text asset (the browser SDK, the /demo page): loaded once and kept, answered
 * with an ETag (a hash of the text) so a client holding the current copy gets a 304, and a
 * Cache-Control of the route's choosing instead of the API's `no-store`.
 *
 * `cachedAsset` loads on the first request and keeps the promise; a failed load is forgotten, so
 * the next request tries again (a missing file may be put back without a restart).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Answers, answer, type RouteDoc, type RouteResult } from './route.js';

/** Static assets may be cached for 5 minutes, then revalidated with their ETag. */
export const ASSET_CACHE_CONTROL = 'public, max-age=300';

/** The request header an asset route reads, as its document says it. */
export const IF_NONE_MATCH: NonNullable<RouteDoc['headers']> = {
  'If-None-Match': { description: 'The ETag of a copy held: 304 when it is still the current one' },
};

/** The document of an asset route's 200 (a body of `contentType`) and 304. */
export function assetAnswers(contentType: string, what: string): Answers {
  const headers = { ETag: 'A hash of the text', 'Cache-Control': ASSET_CACHE_CONTROL };
  return {
    200: { description: `${what} (${contentType})`, mediaType: contentType.split(';')[0] as string, headers },
    304: answer('The copy held (If-None-Match) is current', undefined, headers),
  };
}

export interface StaticAsset {
  text: string;
  etag: string;
}

/** A strong validator: the first 32 characters of the text's SHA-256, base64url, quoted. */
export const etagOf = (text: string): string => `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;

/** Whether If-None-Match names `etag` (a list, weak validators and `*` included). */
export const matchesEtag = (ifNoneMatch: string | undefined, etag: string): boolean =>
  ifNoneMatch?.split(',').some((tag) => ['*', etag].includes(tag.trim().replace(/^W\//, ''))) === true;

/** Loads `load()` once, on first use, and keeps it; a failure is not kept. */
export function cachedAsset(load: () => Promise<string>): () => Promise<StaticAsset> {
  let asset: Promise<StaticAsset> | undefined;
  return () =>
    (asset ??= load().then(
      (text) => ({ text, etag: etagOf(text) }),
      (error: unknown) => {
        asset = undefined;
        throw error;
      },
    ));
}

/** The text of a file shipped beside the code (a URL relative to the module that reads it). */
export const fileText = (file: URL) => () => readFile(file, 'utf8');

/** 200 with the asset, or 304 when If-None-Match holds its ETag; `headers` are added to both. */
export function assetAnswer(
  asset: StaticAsset,
  request: Record<string, string>,
  options: { contentType: string; cacheControl: string; headers?: Record<string, string> },
): RouteResult {
  const headers = { etag: asset.etag, 'cache-control': options.cacheControl, ...options.headers };
  if (matchesEtag(request['if-none-match'], asset.etag)) return { status: 304, headers };
  return { status: 200, text: asset.text, headers: { ...headers, 'content-type': options.contentType } };
}
