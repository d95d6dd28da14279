// Node's weight cache: files under $XDG_CACHE_HOME/clora-web (or ~/.cache/clora-web), named by a hash of the URL.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { WeightCache } from './download';

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clora-web', 'weights');
}

/** A cache whose entries are file paths. */
export function nodeWeightCache(dir = defaultCacheDir()): WeightCache<string> {
  const pathFor = (url: string): string => join(dir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.safetensors`);
  return {
    async get(url) {
      const path = pathFor(url);
      return existsSync(path) ? path : undefined;
    },
    async put(url, body) {
      await mkdir(dir, { recursive: true });
      const path = pathFor(url);
      const partial = `${path}.partial`;
      try {
        await pipeline(Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>), createWriteStream(partial));
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      await rename(partial, path); // only a complete download ever appears under the final name
      return path;
    },
    async delete(url) {
      await rm(pathFor(url), { force: true });
    },
  };
}
