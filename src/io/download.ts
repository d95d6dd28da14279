// Downloading model weights with progress and cancel, into a cache so a reload or an offline classroom
// never fetches the same file twice. The bytes stream straight into the cache; the reader then slices the
// cached copy, so a 346 MB file is not held twice in memory.

export interface DownloadProgress {
  loaded: number;
  /** Content-Length when the server sent it. */
  total: number | undefined;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
}

/** Where downloaded files are kept: the Cache API in the browser, a folder in Node. */
export interface WeightCache<T> {
  get(url: string): Promise<T | undefined>;
  /** Consumes `body`, storing it; resolves with the stored copy. */
  put(url: string, body: ReadableStream<Uint8Array>): Promise<T>;
  delete(url: string): Promise<void>;
}

function describeStatus(url: string, status: number): string {
  if (status === 401 || status === 403) return `The server refused to give ${url} (HTTP ${status}): the model may be gated or private. Download it in a browser where you are signed in and load the file instead.`;
  if (status === 404) return `${url} does not exist (HTTP 404). Check the address, or load a local .safetensors file instead.`;
  return `Downloading ${url} failed with HTTP ${status}. Try again later, or load a local .safetensors file instead.`;
}

/**
 * Counts bytes as they pass, reports progress, and fails the stream if it ends short of Content-Length
 * (a truncated download) or the signal aborts.
 */
function progressStream(body: ReadableStream<Uint8Array>, url: string, total: number | undefined, opts: DownloadOptions): ReadableStream<Uint8Array> {
  let loaded = 0;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (opts.signal?.aborted) {
        await reader.cancel();
        controller.error(new DownloadError(`The download of ${url} was cancelled.`));
        return;
      }
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        controller.error(new DownloadError(`The download of ${url} broke off after ${loaded} bytes (${error instanceof Error ? error.message : String(error)}). Check the connection and try again.`));
        return;
      }
      if (chunk.done) {
        if (total !== undefined && loaded !== total) {
          controller.error(new DownloadError(`The download of ${url} is incomplete: ${loaded} of ${total} bytes arrived. Try again.`));
        } else controller.close();
        return;
      }
      loaded += chunk.value.byteLength;
      opts.onProgress?.({ loaded, total });
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
}

/**
 * Returns the cached copy of `url`, downloading it first when it is not cached. A failed or cancelled
 * download leaves nothing in the cache.
 */
export async function fetchCached<T>(url: string, cache: WeightCache<T>, opts: DownloadOptions = {}): Promise<{ data: T; fromCache: boolean }> {
  const hit = await cache.get(url);
  if (hit !== undefined) return { data: hit, fromCache: true };
  let response: Response;
  try {
    response = await fetch(url, { signal: opts.signal });
  } catch (error) {
    if (opts.signal?.aborted) throw new DownloadError(`The download of ${url} was cancelled.`);
    throw new DownloadError(`Could not reach ${url} (${error instanceof Error ? error.message : String(error)}). Check the address and the connection, or load a local file instead.`);
  }
  if (!response.ok) throw new DownloadError(describeStatus(url, response.status));
  const type = response.headers.get('content-type') ?? '';
  if (/text\/html/i.test(type)) {
    await response.body?.cancel();
    throw new DownloadError(`${url} returned a web page, not weights. Use the file's direct download address (on the Hugging Face hub: …/resolve/main/model.safetensors).`);
  }
  if (!response.body) throw new DownloadError(`${url} returned no data.`);
  const length = response.headers.get('content-length');
  const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
  try {
    const data = await cache.put(url, progressStream(response.body, url, total, opts));
    return { data, fromCache: false };
  } catch (error) {
    await cache.delete(url).catch(() => undefined);
    if (opts.signal?.aborted && !(error instanceof DownloadError)) throw new DownloadError(`The download of ${url} was cancelled.`);
    throw error;
  }
}
