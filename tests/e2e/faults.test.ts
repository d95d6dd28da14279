// Faults at the worst moment, in the page (headless Chromium, real IndexedDB and WebGPU, the small fixture
// backbone): an IndexedDB transaction aborted while a checkpoint is written, the GPU device lost while a
// checkpoint is written and during an epoch's evaluation, the training worker ended mid-run, and the
// renderer crashed during a checkpoint write. Each must end with the last complete checkpoint intact — the
// stored record passes the app's own checks and its tensors are bit for bit those the worker sent at that
// step — a sentence on screen, and Resume continuing from it. One browser, one page and one run serve all
// of them, in order.
//
// The page is instrumented from here, never through a seam in the app: every checkpoint the worker sends
// is fingerprinted (FNV-1a over its step, tensors and moments) as it reaches CheckpointController.save,
// which is also where a fault is fired at the exact moment; IndexedDB's own put is wrapped to abort the
// transaction of the next checkpoint write (the one fault no browser control reaches); the renderer is
// crashed through the DevTools protocol (Page.crash) and the worker closed through Playwright.
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app, artifact, openApp, phaseTimer, progressValue, runStatus, setNumber, SMALL_BACKBONE, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

type Fault = 'abort-write' | 'lose-device-in-write' | 'lose-device-in-evaluation' | 'crash-in-write';

/** The newest stored checkpoint of a run, loaded and checked the way Resume loads it, and the raw record counts. */
interface Stored {
  step: number;
  /** Its fingerprint, and whether it is the one the worker sent at that step. */
  digest: string;
  matches: boolean;
  /** Descriptions and tensor records in the two databases (equal unless a write was cut short). */
  metaRecords: number;
  dataRecords: number;
}

interface PageFaults {
  armed: Fault | undefined;
  /** The step the run was at when the fault was armed (the evaluation fault waits for a later epoch end). */
  armedAt: number;
  /** Fingerprints of the checkpoints the worker sent, by step. */
  written: Record<number, string>;
  /** Writes that failed: the step, the sentence, and the store right after. */
  failures: { step: number; message: string; after: Stored }[];
  stored(runId: string): Promise<Stored>;
}

declare global {
  interface Window {
    faults: PageFaults;
    faultsCheckpointSent?: (step: number, digest: string) => Promise<void>;
  }
}

/** Installs the fingerprints and the fault triggers in a page whose app has started. */
async function instrument(page: Page): Promise<void> {
  await page.evaluate(() => {
    const controller = document.querySelector('clora-app')!.controller;
    const checkpoints = controller.checkpoints;
    const fnv = (h: number, bytes: Uint8Array): number => {
      for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
      return h;
    };
    type State = Parameters<typeof checkpoints.save>[0]['state'];
    const digest = (state: State): string => {
      let h = fnv(0x811c9dc5, new Uint8Array(new Float64Array([state.step]).buffer));
      for (const name of [...state.trainable.keys()].sort()) {
        const t = state.trainable.get(name)!;
        h = fnv(fnv(h, new TextEncoder().encode(name)), new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      }
      for (const t of [state.optimizer.m, state.optimizer.v]) h = fnv(h, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      return h.toString(16).padStart(8, '0');
    };
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
          request.onerror = () => reject(request.error);
        };
      });
    const faults: PageFaults = {
      armed: undefined,
      armedAt: 0,
      written: window.faults?.written ?? {},
      failures: [],
      async stored(runId) {
        const newest = (await checkpoints.store.list()).find((c) => c.runId === runId);
        if (!newest) throw new Error(`no checkpoint of run ${runId} is stored`);
        const { data } = await checkpoints.load(newest.id); // the app's checks: a damaged record throws
        const d = digest(data.state);
        return { step: newest.step, digest: d, matches: faults.written[newest.step] === d, metaRecords: await count('clora-web-checkpoints', 'meta'), dataRecords: await count('clora-web-checkpoint-data', 'data') };
      },
    };
    window.faults = faults;
    const save = checkpoints.save.bind(checkpoints);
    checkpoints.save = (event, run) => {
      const d = digest(event.state);
      faults.written[event.state.step] = d;
      const armed = faults.armed === 'lose-device-in-write' ? faults.armed : undefined;
      if (armed) faults.armed = undefined;
      void window.faultsCheckpointSent?.(event.state.step, d);
      save(event, run);
      if (armed === 'lose-device-in-write') void controller.simulateDeviceLoss();
    };
    const storeSave = checkpoints.store.save.bind(checkpoints.store);
    checkpoints.store.save = async (meta, data) => {
      try {
        return await storeSave(meta, data);
      } catch (error) {
        // Still inside the save chain: no later checkpoint can be written before this look.
        faults.failures.push({ step: meta.step, message: (error as Error).message, after: await faults.stored(meta.runId) });
        throw error;
      }
    };
    // The lost device during evaluation: the moment the run reaches an epoch's end, while the worker evaluates.
    controller.store.subscribe((state) => {
      const r = state.run;
      if (faults.armed === 'lose-device-in-evaluation' && r.phase === 'training' && r.stepsPerEpoch > 0 && r.step > faults.armedAt && r.step % r.stepsPerEpoch === 0) {
        faults.armed = undefined;
        void controller.simulateDeviceLoss();
      }
    });
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      const request = put.apply(this, args);
      if (faults.armed === 'abort-write' && this.transaction.db.name === 'clora-web-checkpoint-data') {
        faults.armed = undefined;
        this.transaction.abort();
      }
      if (faults.armed === 'crash-in-write' && this.transaction.db.name === 'clora-web-checkpoint-data') {
        faults.armed = undefined;
        // The tensors are committed, the description not yet written: the test crashes the renderer now,
        // and the page stays busy until it does, so the description is never written.
        this.transaction.addEventListener('complete', () => {
          void window.faultsCheckpointSent?.(-1, 'crash');
          const until = Date.now() + 30_000;
          while (Date.now() < until);
        });
      }
      return request;
    };
  });
}

function arm(page: Page, fault: Fault): Promise<void> {
  return page.evaluate((f) => {
    window.faults.armedAt = document.querySelector('clora-app')!.controller.state.run.step;
    window.faults.armed = f;
  }, fault);
}

function stored(page: Page, runId: string): Promise<Stored> {
  return page.evaluate((id) => window.faults.stored(id), runId);
}

function runIdOf(page: Page): Promise<string> {
  return page.evaluate(() => document.querySelector('clora-app')!.controller.state.run.runId!);
}

/** Resolves once every checkpoint the page has received is written (or failed). */
function savesSettled(page: Page): Promise<void> {
  return page.evaluate(async () => void (await document.querySelector('clora-app')!.controller.checkpoints.saved()));
}

async function resumeAndTrainPast(page: Page, step: number): Promise<void> {
  await app(page).getByRole('button', { name: 'Resume', exact: true }).click();
  await expect.poll(() => runStatus(page), { timeout: 60_000 }).toMatch(/^Training…/);
  await expect.poll(() => progressValue(page), { timeout: 120_000 }).toBeGreaterThan(step + 2);
}

let env: BrowserEnv;
let context: BrowserContext;
let page: Page;
let problems: string[];
let runId: string;
let devtools: CDPSession | undefined;
/** What the test heard of each checkpoint the page received (kept across the renderer crash). */
const sent = new Map<number, string>();
const { phases, phase } = phaseTimer();

beforeAll(async () => {
  env = await startBrowserEnv();
  context = await env.browser.newContext();
  await context.exposeBinding('faultsCheckpointSent', (_source, step: number, digest: string) => {
    // The session is attached beforehand: attaching needs the page's main thread, which is kept busy.
    if (digest === 'crash') void devtools?.send('Page.crash').catch(() => undefined);
    else sent.set(step, digest);
  });
  page = await context.newPage();
  devtools = await context.newCDPSession(page);
  problems = watchPage(page);
});

afterAll(async () => {
  process.stdout.write(`page faults, seconds since the setup began: ${JSON.stringify(phases)}\n`);
  await context?.close();
  await env?.close();
});

describe('faults in the page', () => {
  it('a run on the small backbone, a checkpoint every 2 steps (the setup the faults share)', { timeout: 300_000 }, async () => {
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await instrument(page);
    await useSampleData(page);
    // Head only on 400 training images: 8 steps an epoch, a checkpoint every 2 steps, more epochs than the tests use.
    await app(page).getByLabel('Method').selectOption('head');
    await setNumber(page, 'Epochs', 40);
    await setNumber(page, 'Batch size', 50);
    await app(page).getByText('Advanced').click();
    await setNumber(page, 'Checkpoint every (steps)', 2);
    await app(page).getByRole('button', { name: 'Train' }).click();
    await expect.poll(async () => app(page).getByTestId('checkpoint').count(), { timeout: 180_000 }).toBe(1);
    runId = await runIdOf(page);
    phase('set up, first checkpoint');
  });

  it('an IndexedDB transaction aborted mid-checkpoint: the write is refused with a sentence, the previous checkpoint is intact, and the next one is written', { timeout: 180_000 }, async () => {
    await arm(page, 'abort-write');
    const alert = app(page).getByTestId('checkpoint-message');
    await expect.poll(async () => alert.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(
      /^The checkpoint at step \d+ could not be saved: the browser's storage refused it \(the write was aborted\)\. The previous checkpoint \(step \d+\) is kept\. Later checkpoints are still tried\.$/,
    );
    const failure = (await page.evaluate(() => window.faults.failures))[0]!;
    const kept = Number(/previous checkpoint \(step (\d+)\)/.exec(failure.message)![1]);
    // Right after the failure, before any later write: the kept checkpoint is the newest, whole and unchanged.
    expect(failure.after).toMatchObject({ step: kept, matches: true });
    expect(failure.after.metaRecords).toBe(failure.after.dataRecords);
    expect(kept).toBeLessThan(failure.step);
    // Training goes on; the next checkpoint replaces it and the message goes.
    await expect.poll(async () => (await stored(page, runId)).step, { timeout: 60_000 }).toBeGreaterThan(failure.step);
    await expect.poll(() => alert.count(), { timeout: 30_000 }).toBe(0);
    expect((await stored(page, runId)).matches).toBe(true);
    phase('transaction aborted');
  });

  it('the GPU device lost while a checkpoint is being written: that checkpoint is saved whole, the page says so, and Resume continues from it', { timeout: 180_000 }, async () => {
    await arm(page, 'lose-device-in-write');
    const message = app(page).getByTestId('run-message');
    await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/GPU device was lost.*Press Resume to continue from the last checkpoint/);
    expect(await runStatus(page)).toMatch(/^Interrupted\./);
    await savesSettled(page);
    const last = await stored(page, runId);
    // The checkpoint in flight when the device went is the newest, and the one the worker sent.
    expect(await page.evaluate(() => window.faults.armed)).toBeUndefined();
    expect(last.matches).toBe(true);
    expect(Math.max(...Object.keys(await page.evaluate(() => window.faults.written)).map(Number))).toBe(last.step);
    expect(last.metaRecords).toBe(last.dataRecords);
    await page.screenshot({ path: artifact('faults-device-lost-in-write.png'), fullPage: true });
    await resumeAndTrainPast(page, last.step);
    phase('device lost in a checkpoint write');
  });

  it('the GPU device lost during an epoch\'s evaluation: no half result is kept, the last checkpoint is intact, and Resume continues from it', { timeout: 180_000 }, async () => {
    await arm(page, 'lose-device-in-evaluation');
    const message = app(page).getByTestId('run-message');
    await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 90_000 }).toMatch(/GPU device was lost.*Press Resume to continue from the last checkpoint/);
    await savesSettled(page);
    const run = await page.evaluate(() => document.querySelector('clora-app')!.controller.state.run);
    const epochEnd = Math.floor(run.step / run.stepsPerEpoch) * run.stepsPerEpoch;
    const last = await stored(page, runId);
    // The device went between the epoch's last step and its accuracy point (the evaluation): neither the
    // accuracy nor the checkpoint of that step exists, and the newest checkpoint is the one before it.
    expect(run.accuracy.some((p) => p.step === epochEnd)).toBe(false);
    expect(last.step).toBe(epochEnd - 2);
    expect(last.matches).toBe(true);
    await resumeAndTrainPast(page, epochEnd);
    // The epoch's accuracy is computed after all, once, on the fresh device.
    await expect.poll(async () => page.evaluate((s) => document.querySelector('clora-app')!.controller.state.run.accuracy.filter((p) => p.step === s).length, epochEnd), { timeout: 60_000 }).toBe(1);
    phase('device lost in an evaluation');
  });

  it('the training worker ended mid-run: the page says so at once, starts a new worker, and Resume continues from the last checkpoint', { timeout: 180_000 }, async () => {
    const before = await progressValue(page);
    const workers = page.workers();
    expect(workers.length).toBeGreaterThan(0);
    // The browser ends a worker it needs the memory of the same way: the worker and all it holds are gone.
    void workers.at(-1)!.evaluate(() => (self as unknown as { close(): void }).close()).catch(() => undefined);
    const message = app(page).getByTestId('run-message');
    await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 30_000 }).toMatch(/training worker stopped unexpectedly.*Press Resume to continue from the last checkpoint/);
    expect(await runStatus(page)).toMatch(/^Interrupted\./);
    await savesSettled(page);
    const last = await stored(page, runId);
    expect(last.matches).toBe(true);
    expect(last.step).toBeGreaterThanOrEqual(before - 2);
    // A new worker found the GPU and loaded the backbone again.
    await expect.poll(async () => app(page).getByTestId('gpu-status').textContent(), { timeout: 60_000 }).toMatch(/WebGPU ready on/);
    await expect.poll(() => page.evaluate(() => document.querySelector('clora-app')!.controller.state.backbone.status), { timeout: 60_000 }).toBe('ready');
    await expect.poll(async () => app(page).getByRole('button', { name: 'Resume', exact: true }).isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.screenshot({ path: artifact('faults-worker-ended.png'), fullPage: true });
    await resumeAndTrainPast(page, last.step);
    phase('worker ended');
  });

  it('the renderer crashed during a checkpoint write: the reopened page lists only whole checkpoints and Resume continues from the newest', { timeout: 240_000 }, async () => {
    const crashed = new Promise<void>((resolve) => page.once('crash', () => resolve()));
    await arm(page, 'crash-in-write');
    await crashed;
    // The checkpoint being written when the renderer went, and the one before it.
    const [crashStep, previous] = [...sent.keys()].sort((a, b) => b - a);
    phase('renderer crashed');
    // The same browser profile reopens the page: what is listed must be whole.
    devtools = undefined;
    page = await context.newPage();
    problems = watchPage(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await page.evaluate((written) => void (window.faults = { written } as PageFaults), Object.fromEntries(sent));
    await instrument(page);
    const last = await stored(page, runId);
    // The write in flight left its tensors without a description: it is not listed, the one before it is
    // the newest, whole, and the leftover tensors were removed when the page started.
    expect(crashStep).toBeGreaterThan(previous!);
    expect(last).toMatchObject({ step: previous, matches: true });
    expect(last.dataRecords).toBe(last.metaRecords);
    await expect.poll(() => runStatus(page), { timeout: 30_000 }).toMatch(new RegExp(`A saved run can continue from step ${last.step} of \\d+: press Resume\\.`));
    await resumeAndTrainPast(page, last.step);
    await app(page).getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => runStatus(page), { timeout: 120_000 }).toMatch(/^Stopped\./);
    await savesSettled(page);
    const stoppedAt = await progressValue(page);
    expect(await stored(page, runId)).toMatchObject({ step: stoppedAt, matches: true });
    expect(problems).toEqual([]);
    phase('reopened and resumed after a crash');
  });
});
