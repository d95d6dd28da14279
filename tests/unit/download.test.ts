// Weight downloads against a real HTTP server on 127.0.0.1: progress, cache, cancel, and bad responses.
import { readFileSync } from 'node:fs';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError, fetchCached, type DownloadProgress } from '../../src/io/download';
import { nodeWeightCache } from '../../src/io/download-node';
import { openSafetensors } from '../../src/io/safetensors';
import { fileSource } from '../../src/io/safetensors-node';

const weights = readFileSync(new URL('../fixtures/vit_p4_t5.safetensors', import.meta.url));
const hits = new Map<string, number>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/model.safetensors') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': weights.length });
      res.end(weights);
    } else if (path === '/truncated.safetensors') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': weights.length });
      res.write(weights.subarray(0, 1000), () => res.destroy());
    } else if (path === '/login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Sign in</title>');
    } else if (path === '/slow.safetensors') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': weights.length });
      let offset = 0;
      const timer = setInterval(() => {
        if (res.destroyed || offset >= weights.length) return clearInterval(timer);
        res.write(weights.subarray(offset, offset + 4096));
        offset += 4096;
      }, 20);
      res.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const freshCache = () => {
  const dir = mkdtempSync(join(tmpdir(), 'clora-cache-'));
  return { dir, cache: nodeWeightCache(dir) };
};

describe('weight downloads', () => {
  it('reports progress in bytes of total, caches the file, and does not fetch it again', async () => {
    const { cache } = freshCache();
    const progress: DownloadProgress[] = [];
    const first = await fetchCached(`${base}/model.safetensors`, cache, { onProgress: (p) => progress.push(p) });
    expect(first.fromCache).toBe(false);
    expect(progress.at(-1)).toEqual({ loaded: weights.length, total: weights.length });
    expect(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1]!.loaded)).toBe(true);
    const second = await fetchCached(`${base}/model.safetensors`, cache);
    expect(second).toEqual({ data: first.data, fromCache: true });
    expect(hits.get('/model.safetensors')).toBe(1);
    const source = await fileSource(second.data);
    const file = await openSafetensors(source);
    expect(file.has('blocks.0.attn.qkv.weight')).toBe(true);
    await source.close();
  });

  it('a truncated download is reported and nothing is cached', async () => {
    const { dir, cache } = freshCache();
    await expect(fetchCached(`${base}/truncated.safetensors`, cache)).rejects.toThrow(DownloadError);
    await expect(fetchCached(`${base}/truncated.safetensors`, cache)).rejects.toThrow(/incomplete|broke off/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a web page instead of weights is named as such', async () => {
    const { cache } = freshCache();
    await expect(fetchCached(`${base}/login`, cache)).rejects.toThrow(/returned a web page, not weights.*resolve\/main\/model\.safetensors/);
  });

  it('a missing file says so', async () => {
    const { cache } = freshCache();
    await expect(fetchCached(`${base}/nope.safetensors`, cache)).rejects.toThrow(/does not exist \(HTTP 404\)/);
  });

  it('cancel stops the download and leaves nothing in the cache', async () => {
    const { dir, cache } = freshCache();
    const controller = new AbortController();
    const started = Date.now();
    const pending = fetchCached(`${base}/slow.safetensors`, cache, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.loaded >= 8192) controller.abort();
      },
    });
    await expect(pending).rejects.toThrow(/cancelled/);
    expect(Date.now() - started).toBeLessThan(weights.length / 4096 * 20);
    expect(readdirSync(dir)).toEqual([]);
  });
});
