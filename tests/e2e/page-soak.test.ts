// The page soak (headless Chromium, the small fixture backbone): one run taken through repeated cycles of
// training, Pause (a checkpoint), Export adapter and Resume, as a classroom leaves a tab going. After the
// warm-up cycles, what the page holds must stay flat: the worker's GPU (buffer pool bytes and allocations,
// GPU buffers alive, pipelines: exactly constant), the page's JS heap after a collection and its DOM nodes
// (DevTools protocol), and IndexedDB (one checkpoint of the run, its older ones deleted; the origin's usage).
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app, openApp, phaseTimer, progressValue, runStatus, setNumber, SMALL_BACKBONE, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

const CYCLES = 8;
const WARM_UP = 3;
/** Steps trained in each cycle before Pause (head only, 50 images a step). */
const STEPS_PER_CYCLE = 4;

interface Sample {
  cycle: number;
  step: number;
  heapBytes: number;
  domNodes: number;
  listeners: number;
  gpu: { poolBytes: number; poolAllocations: number; liveBuffers: number; pipelines: number };
  checkpoints: { meta: number; data: number };
  storageBytes: number;
}

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

async function measure(page: Page, cdp: CDPSession, cycle: number): Promise<Sample> {
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  const inPage = await page.evaluate(async () => {
    const count = (db: string, store: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open(db);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction(store).objectStore(store).count();
          request.onsuccess = () => {
            open.result.close();
            resolve(request.result);
          };
        };
      });
    const run = document.querySelector('clora-app')!.controller.state.run;
    return {
      step: run.step,
      gpu: run.gpu!,
      checkpoints: { meta: await count('clora-web-checkpoints', 'meta'), data: await count('clora-web-checkpoint-data', 'data') },
      storageBytes: (await navigator.storage.estimate()).usage ?? 0,
    };
  });
  const { poolBytes, poolAllocations, liveBuffers, pipelines } = inPage.gpu;
  return { cycle, step: inPage.step, heapBytes: heap.usedSize, domNodes: dom.nodes, listeners: dom.jsEventListeners, gpu: { poolBytes, poolAllocations, liveBuffers, pipelines }, checkpoints: inPage.checkpoints, storageBytes: inPage.storageBytes };
}

describe('the page soak', () => {
  it(`${CYCLES} cycles of train, pause, export and resume: GPU, heap, DOM and storage stay flat after ${WARM_UP}`, { timeout: 420_000 }, async () => {
    const { phases, phase } = phaseTimer();
    const context = await env.browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const problems = watchPage(page);
    const cdp = await context.newCDPSession(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await useSampleData(page);
    await app(page).getByLabel('Method').selectOption('head');
    await setNumber(page, 'Epochs', 40);
    await setNumber(page, 'Batch size', 50);
    await app(page).getByText('Advanced').click();
    await setNumber(page, 'Checkpoint every (steps)', 2);
    await app(page).getByRole('button', { name: 'Train' }).click();
    phase('training');
    const samples: Sample[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const from = await progressValue(page);
      await expect.poll(() => progressValue(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(from + STEPS_PER_CYCLE);
      await app(page).getByRole('button', { name: 'Pause' }).click();
      await expect.poll(() => runStatus(page), { timeout: 60_000 }).toMatch(/^Paused\./);
      const downloading = page.waitForEvent('download');
      await app(page).getByRole('button', { name: 'Export adapter' }).click();
      await (await downloading).delete();
      await page.evaluate(async () => void (await document.querySelector('clora-app')!.controller.checkpoints.saved()));
      samples.push(await measure(page, cdp, cycle));
      await app(page).getByRole('button', { name: 'Resume', exact: true }).click();
      await expect.poll(() => runStatus(page), { timeout: 60_000 }).toMatch(/^Training…/);
      phase(`cycle ${cycle}`);
    }
    await app(page).getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => runStatus(page), { timeout: 120_000 }).toMatch(/^Stopped\./);
    process.stdout.write(`page soak, seconds since start: ${JSON.stringify(phases)}\n${samples.map((s) => JSON.stringify(s)).join('\n')}\n`);

    const warm = samples.slice(WARM_UP - 1);
    const [first, last] = [warm[0]!, warm.at(-1)!];
    // The worker's GPU: the same pool, the same buffers, the same pipelines, cycle after cycle.
    for (const s of warm) expect(s.gpu, `cycle ${s.cycle}`).toEqual(first.gpu);
    // One checkpoint of the run in each database: every older one was deleted once its successor was written.
    for (const s of samples) expect(s.checkpoints, `cycle ${s.cycle}`).toEqual({ meta: 1, data: 1 });
    // The origin's storage holds one checkpoint, the sample data and the caches: it does not grow with the cycles.
    expect(last.storageBytes - first.storageBytes).toBeLessThan(2_000_000);
    // DOM nodes: the page shows the same things each cycle (the charts draw on canvases).
    expect(Math.abs(last.domNodes - first.domNodes)).toBeLessThanOrEqual(50);
    expect(last.listeners - first.listeners).toBeLessThanOrEqual(10);
    // The JS heap after a collection: the run's metrics history grows by design (one entry a logged step),
    // and the whole heap grew by about 4 kB a step here; a page that kept each cycle's checkpoint, export or
    // evaluation alive would grow by more than twice that.
    const steps = last.step - first.step;
    expect((last.heapBytes - first.heapBytes) / steps).toBeLessThan(8_000);
    expect(problems).toEqual([]);
    await context.close();
  });
});
