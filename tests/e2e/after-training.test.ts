// After a run, in headless Chromium on the small fixture backbone: every cell of the confusion matrix opens
// exactly the validation images the worker's evaluation counted there, checked against an oracle outside the
// page (the ONNX file the page exports, run in ONNX Runtime on the samples the page stored); after a reload the
// saved checkpoint answers Try it, which says so, and exports all four formats without resuming training.
import { writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { app, artifact, downloadBytes, keepClasses, openApp, runStatus, SAMPLE_IMAGE, setNumber, SMALL_BACKBONE, unnamedControls, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';
import { modelInput, storedSamples } from './stored-samples';

const CLASSES = ['tshirt-top', 'trouser', 'bag'];

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

async function exportFile(page: Page, button: string): Promise<{ name: string; bytes: Uint8Array }> {
  const downloading = page.waitForEvent('download');
  await app(page).getByRole('button', { name: button, exact: true }).click();
  const download = await downloading;
  return { name: download.suggestedFilename(), bytes: await downloadBytes(download) };
}

/** Logits [n, classes] of an ONNX model on model input [n, 3, S, S]. */
async function onnxLogits(bytes: Uint8Array, input: Float32Array, n: number, size: number): Promise<{ logits: Float32Array; classes: number }> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ pixel_values: new ort.Tensor('float32', input, [n, 3, size, size]) });
  const logits = out.logits!;
  const result = { logits: logits.data as Float32Array, classes: logits.dims[1]! };
  await session.release();
  return result;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  return best;
}

function softmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const e = Array.from(row, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

describe('after training', () => {
  it('opens every confusion cell with the images the evaluation put there; after a reload the checkpoint answers Try it and exports in four formats', { timeout: 420_000 }, async () => {
    const started = Date.now();
    const phases: Record<string, number> = {};
    const phase = (name: string): void => {
      phases[name] = Math.round((Date.now() - started) / 100) / 10;
    };
    const context = await env.browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page);
    // The small fixture backbone: this test is about the app's machinery, not about what the model learns.
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    await useSampleData(page);
    await keepClasses(page, CLASSES);
    // One epoch of three steps of 40 images (a checkpoint at step 2 and at the end).
    await setNumber(page, 'Epochs', 1);
    await setNumber(page, 'Batch size', 40);
    await app(page).getByText('Advanced').click();
    await setNumber(page, 'Checkpoint every (steps)', 2);
    phase('data ready');
    await app(page).getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => runStatus(page), { timeout: 240_000 }).toMatch(/^Done\./);
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent(), { timeout: 30_000 }).toMatch(/on 30 validation images/);
    phase('trained');

    // The oracle: the final model as ONNX, run in ONNX Runtime on the validation samples the page stored.
    const onnx = await exportFile(page, 'Export ONNX');
    expect(onnx.name).toMatch(/\.onnx$/);
    const stored = await storedSamples(page);
    expect(stored.classes).toEqual(CLASSES);
    const validation = stored.samples.filter((s) => s.validation);
    expect(validation).toHaveLength(30);
    const size = validation[0]!.size;
    const { logits, classes } = await onnxLogits(onnx.bytes, modelInput(validation, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), validation.length, size);
    expect(classes).toBe(3);
    const predicted = validation.map((_, i) => argmax(logits.subarray(i * 3, (i + 1) * 3)));
    const probabilities = new Map(validation.map((s, i) => [s.key, softmax(logits.subarray(i * 3, (i + 1) * 3))]));

    // The page's matrix is ONNX Runtime's, cell by cell; each cell opens exactly its images.
    const matrix = app(page).getByRole('table', { name: /Confusion matrix/ });
    for (let actual = 0; actual < 3; actual++) {
      for (let guess = 0; guess < 3; guess++) {
        const expected = validation.filter((s, i) => s.label === actual && predicted[i] === guess).map((s) => s.key);
        const label = guess === actual ? 'correctly' : `as ${CLASSES[guess]}`;
        const cell = matrix.getByRole('button', { name: `${expected.length} image${expected.length === 1 ? '' : 's'} of ${CLASSES[actual]} predicted ${label}`, exact: true });
        await cell.click();
        const drill = app(page).getByTestId('confusion-cell');
        await expect.poll(async () => drill.getByRole('status').count(), { timeout: 10_000 }).toBe(0);
        const shown = await drill.locator('li[data-key]').evaluateAll((els) => els.map((el) => el.getAttribute('data-key')!));
        expect(shown.sort(), `cell ${actual},${guess}`).toEqual([...expected].sort());
        // Each image's top predictions are ONNX Runtime's softmax (the engine's logits within float error).
        for (const key of shown) {
          const top = await drill.locator(`li[data-key="${key}"] li[data-class]`).evaluateAll((els) => els.map((el) => ({ cls: el.getAttribute('data-class')!, p: Number(el.getAttribute('data-probability')) })));
          expect(top[0]!.cls).toBe(CLASSES[guess]);
          for (const t of top) expect(Math.abs(t.p - probabilities.get(key)![CLASSES.indexOf(t.cls)]!)).toBeLessThan(1e-4);
        }
        expect(await cell.getAttribute('aria-pressed')).toBe('true');
      }
    }
    await app(page).getByTestId('confusion-cell').getByRole('button', { name: 'Close' }).click();
    const worst = await app(page).getByTestId('confused-pairs').textContent().catch(() => '');
    if (predicted.some((p, i) => p !== validation[i]!.label)) expect(worst).toMatch(/ and .+: \d+ images?/);
    await matrix.getByRole('button', { name: new RegExp(`of ${CLASSES[0]} predicted correctly$`) }).click();
    await app(page).locator('clora-evaluation').screenshot({ path: artifact('after-training-confusion-cell.png') });
    phase('confusion cells checked');
    const beforeReload = await exportFile(page, 'Export adapter');

    // A reload: the saved checkpoint (the run's last step) is the model, without resuming training.
    await page.reload();
    await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });
    const current = app(page).getByTestId('current-model');
    await expect.poll(async () => current.textContent(), { timeout: 60_000 }).toMatch(/Current model: checkpoint at step 3 of 3 of run run-\w+ \(clora\)/);
    expect(await app(page).getByRole('button', { name: /^Use the checkpoint at step 3/ }).getAttribute('aria-pressed')).toBe('true');
    expect(await runStatus(page)).not.toMatch(/Training/);
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    await expect.poll(async () => app(page).getByTestId('answered-by').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/^Answered by checkpoint at step 3 of 3 of run run-\w+/);
    phase('reloaded: the checkpoint answers');

    // All four exports from the checkpoint, no training resumed.
    const native = await exportFile(page, 'Export adapter');
    const [a, b] = await Promise.all([openSafetensors(bytesSource(beforeReload.bytes)), openSafetensors(bytesSource(native.bytes))]);
    expect(b.names().sort()).toEqual(a.names().sort());
    for (const name of a.names()) expect(Array.from(await b.readF32(name)), name).toEqual(Array.from(await a.readF32(name)));
    const peft = await exportFile(page, 'Export PEFT (.zip)');
    expect(peft.name).toMatch(/-peft\.zip$/);
    const merged = await exportFile(page, 'Export merged model');
    expect(merged.name).toMatch(/-merged\.safetensors$/);
    const onnxAgain = await exportFile(page, 'Export ONNX');
    expect(Buffer.compare(Buffer.from(onnxAgain.bytes), Buffer.from(onnx.bytes))).toBe(0);
    expect(await runStatus(page)).not.toMatch(/Training/);
    phase('exported after the reload');

    // An imported adapter answers under its own name.
    const adapterPath = artifact('after-training-adapter.safetensors');
    writeFileSync(adapterPath, native.bytes);
    await app(page).getByLabel('Import adapter').setInputFiles(adapterPath);
    await expect.poll(async () => current.textContent(), { timeout: 60_000 }).toMatch(/Current model: imported clora adapter after-training-adapter\.safetensors \(3 classes\)/);
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    await expect.poll(async () => app(page).getByTestId('answered-by').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/^Answered by imported clora adapter after-training-adapter\.safetensors/);
    await page.screenshot({ path: artifact('after-training-reloaded.png'), fullPage: true });
    expect(await unnamedControls(page)).toEqual([]);
    process.stdout.write(`after-training flow, seconds since start: ${JSON.stringify(phases)}\n`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
