/**
 * The renewal capability of the worker's subscription (src/auth/capabilities.ts), kept in the
 * worker's Cache Storage under its scope: the latest push's replaces the one before, and
 * `pushsubscriptionchange` uses it once.
 */
export interface Renewal {
  /** Herald's base URL when the capability was received. */
  url: string;
  capability: string;
}

const CACHE = 'herald-sw';
const keyOf = (scope: string) => new Request(new URL('__herald/renewal', scope).href);

export async function keepRenewal(scope: string, renewal: Renewal): Promise<void> {
  const cache = await caches.open(CACHE);
  await cache.put(keyOf(scope), new Response(JSON.stringify(renewal), { headers: { 'content-type': 'application/json' } }));
}

export async function readRenewal(scope: string): Promise<Renewal | undefined> {
  const cache = await caches.open(CACHE);
  const stored = await cache.match(keyOf(scope));
  if (!stored) return undefined;
  try {
    const value = (await stored.json()) as Partial<Renewal>;
    return typeof value.url === 'string' && typeof value.capability === 'string' ? { url: value.url, capability: value.capability } : undefined;
  } catch {
    return undefined;
  }
}

export async function forgetRenewal(scope: string): Promise<void> {
  const cache = await caches.open(CACHE);
  await cache.delete(keyOf(scope));
}
