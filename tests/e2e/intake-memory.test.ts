// The tab's memory for 5,000 dropped images: samples go to IndexedDB as small RGB arrays, not bitmaps, so
// the page's JavaScript heap and the renderer process stay small. Measured with the DevTools protocol
// (JS heap after a forced GC) and /proc (the renderer's resident and peak memory); the figures are written
// to test-results/memory-5000.json and printed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession } from 'playwright-core';
import { app, artifact, openApp } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

const COUNT = 5000;
const CLASSES = 10;
const SIDE = 96;

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

/** 5,000 distinct 96×96 PNGs in ten class folders (made once per machine, then reused). */
function makeImages(): string {
  const root = join(tmpdir(), `clora-intake-${COUNT}-v1`, 'photos');
  const done = join(root, '..', 'complete');
  if (existsSync(done)) return root;
  for (let i = 0; i < COUNT; i++) {
    const cls = i % CLASSES;
    const dir = join(root, `class-${cls}`);
    if (i < CLASSES) mkdirSync(dir, { recursive: true });
    const image = new PNG({ width: SIDE, height: SIDE });
    for (let p = 0; p < SIDE * SIDE; p++) {
      const x = p % SIDE;
      const y = Math.floor(p / SIDE);
      image.data[p * 4] = (x * (cls + 1) + i) & 255;
      image.data[p * 4 + 1] = (y * 2 + i * 3) & 255;
      image.data[p * 4 + 2] = ((x ^ y) + cls * 25) & 255;
      image.data[p * 4 + 3] = 255;
    }
    writeFileSync(join(dir, `${String(i).padStart(5, '0')}.png`), PNG.sync.write(image));
  }
  writeFileSync(done, 'ok');
  return root;
}

async function jsHeap(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
}

/** Resident and peak memory (bytes) of every renderer process of the browser. */
async function renderers(browserCdp: CDPSession): Promise<{ pid: number; rss: number; peak: number }[]> {
  const info = (await browserCdp.send('SystemInfo.getProcessInfo' as never)) as unknown as { processInfo: { type: string; id: number }[] };
  const out: { pid: number; rss: number; peak: number }[] = [];
  for (const p of info.processInfo.filter((x) => x.type === 'renderer')) {
    try {
      const status = readFileSync(`/proc/${p.id}/status`, 'utf8');
      const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      out.push({ pid: p.id, rss: kb('VmRSS'), peak: kb('VmHWM') });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;

describe('intake memory', () => {
  it(`keeps the tab small while ${COUNT} images are added`, async () => {
    const root = makeImages();
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const browserCdp = await env.browser.newBrowserCDPSession();
    const heapBefore = await jsHeap(cdp);
    const before = await renderers(browserCdp);

    const started = Date.now();
    await app(page).getByLabel('Add a folder').setInputFiles(root);
    let peakRss = 0;
    let peakHeap = 0;
    const message = app(page).getByTestId('data-message');
    for (;;) {
      const text = (await message.textContent().catch(() => '')) ?? '';
      const now = await renderers(browserCdp);
      peakRss = Math.max(peakRss, ...now.map((r) => r.rss));
      const { metrics } = await cdp.send('Performance.getMetrics');
      peakHeap = Math.max(peakHeap, metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0);
      if (/Adding the folder: added/.test(text)) break;
      if (Date.now() - started > 600_000) throw new Error('intake of 5,000 images took over 10 minutes');
      await page.waitForTimeout(1000);
    }
    const seconds = (Date.now() - started) / 1000;
    expect(await message.textContent()).toContain(`added ${COUNT.toLocaleString('en-US')} images`);
    expect(await app(page).getByTestId('data-summary').textContent()).toMatch(new RegExp(`^${COUNT.toLocaleString('en-US')} images in ${CLASSES} classes`));
    const heapAfter = await jsHeap(cdp);
    const after = await renderers(browserCdp);
    const tab = after.reduce((a, b) => (b.rss > a.rss ? b : a), after[0]!);
    const storage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
    const report = {
      images: COUNT,
      imageSize: `${SIDE}x${SIDE} PNG`,
      seconds: Math.round(seconds),
      jsHeapMB: { before: mb(heapBefore), peakDuringIntake: mb(peakHeap), afterGc: mb(heapAfter) },
      rendererMB: { before: mb(Math.max(...before.map((r) => r.rss))), peakSampled: mb(peakRss), after: mb(tab.rss), highWaterMark: mb(tab.peak) },
      indexedDbMB: mb(storage),
    };
    writeFileSync(artifact('memory-5000.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`intake memory for ${COUNT} images: ${JSON.stringify(report)}\n`);
    // Samples are stored, not held: the heap does not grow with the image count.
    expect(heapAfter - heapBefore).toBeLessThan(50e6);
    expect(tab.peak).toBeLessThan(1.5e9);
    expect(problems).toEqual([]);
    await context.close();
  });
});
