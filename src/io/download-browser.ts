// The browser's weight cache: the Cache API (survives reloads, works offline, counted in the site's quota).
import type { WeightCache } from './download';

const CACHE_NAME = 'clora-web-weights-v1';

export const browserWeightCache: WeightCache<Blob> = {
  async get(url) {
    const hit = await (await caches.open(CACHE_NAME)).match(url);
    return hit ? hit.blob() : undefined;
  },
  async put(url, body) {
    const cache = await caches.open(CACHE_NAME);
    // The cache consumes the stream itself, so the download is written to disk, not gathered in memory.
    await cache.put(url, new Response(body, { headers: { 'content-type': 'application/octet-stream' } }));
    const stored = await cache.match(url);
    if (!stored) throw new Error(`The browser did not keep the download of ${url}; storage may be full.`);
    return stored.blob();
  },
  async delete(url) {
    await (await caches.open(CACHE_NAME)).delete(url);
  },
};
