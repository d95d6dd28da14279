// Quick mode in headless Chromium on the bundled backbone and the whole sample data set (10 classes, 400
// training and 100 validation images): the head trains on features the backbone computed once per image,
// a second quick run takes every feature from the cache, and one click goes on to CLoRA fine-tuning from the
// quick head (its first loss is the quick head's, not a fresh head's ln 10). Times and accuracies go to
// test-results/quick-mode.json. In the suite the fine-tuning is stopped after its first steps (a CLoRA epoch on
// this data takes minutes on an emulated GPU); FINETUNE_EPOCHS runs it to the end for the README's figures:
//   FINETUNE_EPOCHS=5 npx vitest run tests/e2e/quick-mode.test.ts
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { app, artifact, openApp, runStatus, setNumber, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

/** Epochs of CLoRA after quick mode in a measurement run; unset: stop after the first reported steps. */
const FINETUNE_EPOCHS = process.env.FINETUNE_EPOCHS ? Number(process.env.FINETUNE_EPOCHS) : undefined;

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

async function validationAccuracy(page: Page): Promise<number> {
  const text = (await app(page).getByTestId('final-accuracy').textContent()) ?? '';
  const m = /Accuracy (\d+\.\d) % on 100 validation images/.exec(text);
  if (!m) throw new Error(`no accuracy in "${text}"`);
  return Number(m[1]) / 100;
}

async function lossesOf(page: Page): Promise<number[]> {
  return page.evaluate(() => document.querySelector('clora-app')!.controller.state.run.metrics.map((m) => m.loss));
}

describe('quick mode', () => {
  it('trains the head on cached features in seconds, then fine-tunes with CLoRA from that head', { timeout: FINETUNE_EPOCHS ? 4_000_000 : 600_000 }, async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl);
    await useSampleData(page);
    await expect.poll(async () => app(page).getByTestId('data-summary').textContent()).toMatch(/500 images in 10 classes, 100 held out for validation/);

    let t0 = Date.now();
    await app(page).getByRole('button', { name: 'Quick mode' }).click();
    await expect.poll(() => runStatus(page), { timeout: 180_000 }).toMatch(/^Done\./);
    const quickSeconds = (Date.now() - t0) / 1000;
    const status = await runStatus(page);
    expect(status).toMatch(/Quick mode: the head on backbone features of 500 images \(0 from the cache\)/);
    expect(status).toMatch(/Took (\d+\.\d s|\d+ min)\./);
    expect(status).toMatch(/400 training and 100 validation images, 650 trainable parameters/);
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 100 validation images/);
    const quickAccuracy = await validationAccuracy(page);
    const quickLosses = await lossesOf(page);
    expect(quickLosses.at(-1)!).toBeLessThan(quickLosses[0]!);
    expect(await app(page).getByTestId('current-model').textContent()).toMatch(/head trained in quick mode on/);
    await app(page).locator('section[aria-labelledby="h-train"]').screenshot({ path: artifact('quick-mode-done.png') });

    // A second quick run computes no feature: all 500 come from the cache.
    t0 = Date.now();
    await app(page).getByRole('button', { name: 'Quick mode' }).click();
    await expect.poll(() => runStatus(page), { timeout: 180_000 }).toMatch(/^Done\..*\(500 from the cache\)/);
    const cachedSeconds = (Date.now() - t0) / 1000;
    // The same seed and settings: the same head, so the same accuracy.
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 100 validation images/);
    expect(await validationAccuracy(page)).toBe(quickAccuracy);

    // One click onward: CLoRA from the quick head.
    await setNumber(page, 'Epochs', FINETUNE_EPOCHS ?? 1);
    // In the suite: small batches, so the steps already queued on the GPU when Stop comes are short.
    if (FINETUNE_EPOCHS === undefined) await setNumber(page, 'Batch size', 8);
    t0 = Date.now();
    await app(page).getByRole('button', { name: 'Fine-tune with CLoRA from here' }).click();
    if (FINETUNE_EPOCHS === undefined) {
      await expect.poll(async () => (await lossesOf(page)).length, { timeout: 300_000 }).toBeGreaterThan(0);
      await app(page).getByRole('button', { name: 'Stop' }).click();
      await expect.poll(() => runStatus(page), { timeout: 300_000 }).toMatch(/^Stopped\./);
    } else {
      await expect.poll(() => runStatus(page), { timeout: 3_600_000 }).toMatch(/^Done\./);
    }
    const fineTuneSeconds = (Date.now() - t0) / 1000;
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 100 validation images/);
    const fineTuneAccuracy = await validationAccuracy(page);
    const fineTuneLosses = await lossesOf(page);
    // A fresh 10-class head starts at ln 10 ≈ 2.30; this run starts from the quick head's loss.
    expect(fineTuneLosses[0]!).toBeLessThan(2.0);
    expect(Math.abs(fineTuneLosses[0]! - quickLosses.at(-1)!)).toBeLessThan(0.5);
    expect(await app(page).getByTestId('current-model').textContent()).toMatch(/clora adapter being trained on .+, from the quick head/);
    await page.screenshot({ path: artifact('quick-mode-finetuned.png'), fullPage: true });

    const figures = {
      data: 'public/samples/fashion: 10 classes, 400 training and 100 validation images (28×28), the bundled backbone',
      quick: { epochs: 30, seconds: quickSeconds, secondsWithCachedFeatures: cachedSeconds, validationAccuracy: quickAccuracy, firstLoss: quickLosses[0], lastLoss: quickLosses.at(-1) },
      clora: { epochs: FINETUNE_EPOCHS ?? 'stopped after its first steps', steps: fineTuneLosses.length, seconds: fineTuneSeconds, validationAccuracy: fineTuneAccuracy, firstLoss: fineTuneLosses[0], lastLoss: fineTuneLosses.at(-1) },
      browser: 'headless Chromium, WebGPU on SwiftShader',
    };
    writeFileSync(artifact('quick-mode.json'), `${JSON.stringify(figures, null, 2)}\n`);
    process.stdout.write(`quick mode figures: ${JSON.stringify(figures)}\n`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
