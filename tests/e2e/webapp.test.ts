// The web app end to end in headless Chromium, on the bundled backbone and the sample data, as a user
// clicks through it: train, watch, reload, resume, export, import into a fresh page, predict the same.
import { readFileSync, writeFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import {
  app,
  artifact,
  BACKBONE_OVERRIDE,
  BUNDLED_BACKBONE,
  chartPoints,
  downloadBytes,
  keepClasses,
  longTasksSince,
  openApp,
  openDownload,
  phaseTimer,
  progressValue,
  recordLongTasks,
  runStatus,
  SAMPLE_IMAGE,
  setNumber,
  unnamedControls,
  useSampleData,
  watchOutsideRequests,
} from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

const CLASSES = ['tshirt-top', 'trouser', 'bag'];

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

async function backboneShape(): Promise<{ dim: number; depth: number }> {
  const path = BACKBONE_OVERRIDE ? BACKBONE_OVERRIDE.slice(1) : BUNDLED_BACKBONE;
  const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(path))));
  const cfg = vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), Number(file.metadata.num_heads ?? 1));
  return { dim: cfg.dim, depth: cfg.depth };
}

async function topPredictions(page: import('playwright-core').Page): Promise<{ cls: string; p: number }[]> {
  const items = app(page).getByRole('list', { name: 'Top predictions' }).getByRole('listitem');
  // Top-5, or every class when there are fewer.
  await expect.poll(async () => items.count(), { timeout: 60_000 }).toBe(Math.min(5, CLASSES.length));
  return items.evaluateAll((els) => els.map((el) => ({ cls: el.getAttribute('data-class') ?? '', p: Number(el.getAttribute('data-probability')) })));
}

describe('the web app', () => {
  it('trains on the sample data, resumes after a reload with its curves, exports, and an imported adapter predicts the same', { timeout: 600_000 }, async () => {
    const { phases, phase } = phaseTimer();
    const context = await env.browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page);
    const outside = watchOutsideRequests(page, env.baseUrl);
    await recordLongTasks(page);
    await openApp(page, env.baseUrl);
    expect(await unnamedControls(page)).toEqual([]);
    phase('opened');
    await useSampleData(page);
    phase('sample data added');
    await expect.poll(async () => app(page).getByTestId('data-summary').textContent()).toMatch(/500 images in 10 classes, 100 held out for validation/);
    // Three of the ten classes keep the run short on an emulated GPU: 120 training and 30 validation images.
    await keepClasses(page, CLASSES);
    await expect.poll(async () => app(page).getByTestId('data-summary').textContent()).toMatch(/150 images in 3 classes, 30 held out for validation/);

    // Two epochs of 3 steps of 40 images, a checkpoint every 2 steps.
    await setNumber(page, 'Epochs', 2);
    await setNumber(page, 'Batch size', 40);
    await app(page).getByText('Advanced').click();
    await setNumber(page, 'Checkpoint every (steps)', 2);
    const trainStart = await page.evaluate(() => performance.now());
    await app(page).getByRole('button', { name: 'Train' }).click();

    const bar = app(page).getByRole('progressbar', { name: 'Training progress' });
    await bar.waitFor({ timeout: 60_000 });
    await expect.poll(() => progressValue(page), { timeout: 180_000 }).toBeGreaterThan(0);
    phase('first step reported');
    await expect.poll(() => chartPoints(page, 'Loss'), { timeout: 60_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: artifact('webapp-mid-training.png'), fullPage: true });
    const firstPoints = await chartPoints(page, 'Loss');
    // The end of the first epoch brings train and validation accuracy.
    await expect.poll(() => chartPoints(page, 'Accuracy'), { timeout: 180_000 }).toBeGreaterThan(0);
    phase('first epoch evaluated');
    await app(page).locator('section[aria-labelledby="h-train"]').screenshot({ path: artifact('webapp-training-panel.png') });
    expect(await chartPoints(page, 'Loss')).toBeGreaterThan(firstPoints);
    expect(await runStatus(page)).toMatch(/train accuracy \d+\.\d %, validation accuracy \d+\.\d %/);

    await app(page).getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => runStatus(page), { timeout: 60_000 }).toMatch(/^Paused\./);
    const pausedStep = await progressValue(page);
    expect(pausedStep).toBeGreaterThanOrEqual(3);
    await expect.poll(async () => app(page).getByTestId('checkpoint').first().textContent(), { timeout: 30_000 }).toContain(`step ${pausedStep} of 6`);
    const pausedPoints = await chartPoints(page, 'Loss');
    phase('paused and saved');
    expect(await app(page).getByTestId('checkpoint').count()).toBe(1);
    await expect.poll(async () => app(page).getByTestId('storage').textContent()).toMatch(/Storage: .+ used of .+ available/);

    const longTasks = await longTasksSince(page, trainStart);
    expect(longTasks.filter((t) => t.duration >= 200), JSON.stringify(longTasks)).toEqual([]);

    // A reload: the checkpoint is listed, the curves come back, Resume continues from the saved step.
    await page.reload();
    await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });
    await expect.poll(() => runStatus(page), { timeout: 30_000 }).toContain(`A saved run can continue from step ${pausedStep} of 6`);
    expect(await chartPoints(page, 'Loss')).toBe(pausedPoints);
    expect(await chartPoints(page, 'Accuracy')).toBeGreaterThan(0);
    phase('reloaded');
    await app(page).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => progressValue(page), { timeout: 240_000 }).toBeGreaterThan(pausedStep);
    phase('resumed: first step reported');
    await expect.poll(() => runStatus(page), { timeout: 240_000 }).toMatch(/^Done\./);
    phase('done and evaluated');
    expect(await chartPoints(page, 'Loss')).toBeGreaterThan(pausedPoints);
    expect(await progressValue(page)).toBe(6);
    await expect.poll(async () => app(page).getByTestId('final-accuracy').textContent()).toMatch(/Accuracy \d+\.\d % on 30 validation images/);
    await expect(app(page).getByRole('table', { name: /Confusion matrix/ }).getByRole('row').count()).resolves.toBe(4);
    await page.screenshot({ path: artifact('webapp-done.png'), fullPage: true });

    // Exports: the native adapter (clora-spec §2.2), the PEFT pair (§2.3), the merged model (§2.4).
    const { dim, depth } = await backboneShape();
    let downloading = page.waitForEvent('download');
    await app(page).getByRole('button', { name: 'Export adapter' }).click();
    const nativeDownload = await downloading;
    const native = await openDownload(nativeDownload);
    expect(native.metadata).toMatchObject({ format: 'clora', format_version: '1', rank: '8', spaces: '4', scale: '1', targets: 'q,v', sade_weight: '0.1' });
    const classes = JSON.parse(native.metadata.classes!) as string[];
    expect(classes).toEqual(CLASSES);
    const expectedKeys = [`clora.down.${dim}`, `clora.up.${dim}`, 'head.weight', 'head.bias'];
    for (let i = 0; i < depth; i++) expectedKeys.push(`clora.core.blocks.${i}.attn.q`, `clora.core.blocks.${i}.attn.v`);
    expect(native.names().sort()).toEqual(expectedKeys.sort());
    expect(native.tensors.get(`clora.down.${dim}`)!.shape).toEqual([4, dim, 8]);
    expect(native.tensors.get('clora.core.blocks.0.attn.q')!.shape).toEqual([4, 8, 8]);
    expect(native.tensors.get('head.weight')!.shape).toEqual([3, dim]);
    const nativePath = artifact('webapp-adapter.safetensors');
    await nativeDownload.saveAs(nativePath);

    downloading = page.waitForEvent('download');
    await app(page).getByRole('button', { name: 'Export PEFT (.zip)' }).click();
    const zip = unzipSync(await downloadBytes(await downloading));
    expect(Object.keys(zip).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const config = JSON.parse(new TextDecoder().decode(zip['adapter_config.json'])) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 64, lora_alpha: 64, modules_to_save: ['head'] });
    const peft = await openSafetensors(bytesSource(zip['adapter_model.safetensors']!));
    expect(peft.tensors.get('base_model.model.blocks.0.attn.qkv.lora_A.weight')!.shape).toEqual([64, dim]);
    expect(peft.tensors.get('base_model.model.blocks.0.attn.qkv.lora_B.weight')!.shape).toEqual([3 * dim, 64]);
    expect(peft.has('base_model.model.head.weight')).toBe(true);

    downloading = page.waitForEvent('download');
    await app(page).getByRole('button', { name: 'Export merged model' }).click();
    const merged = await openDownload(await downloading);
    expect(merged.tensors.get('head.weight')!.shape).toEqual([3, dim]);
    expect(merged.tensors.get('blocks.0.attn.qkv.weight')!.shape).toEqual([3 * dim, dim]);
    expect(JSON.parse(merged.metadata.classes!)).toEqual(classes);

    phase('exported');
    // Predictions of the trained model on one image.
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    const trained = await topPredictions(page);

    // A fresh page with empty storage imports the file and predicts the same.
    const fresh = await env.browser.newContext();
    const page2 = await fresh.newPage();
    const problems2 = watchPage(page2);
    const outside2 = watchOutsideRequests(page2, env.baseUrl);
    await openApp(page2, env.baseUrl);
    expect(await app(page2).getByTestId('checkpoint').count()).toBe(0);
    await app(page2).getByLabel('Import adapter').setInputFiles(nativePath);
    await expect.poll(async () => app(page2).getByTestId('export-message').textContent(), { timeout: 60_000 }).toMatch(/Imported .+ a clora adapter for 3 classes/);
    await app(page2).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    const imported = await topPredictions(page2);
    expect(imported.map((t) => t.cls)).toEqual(trained.map((t) => t.cls));
    imported.forEach((t, i) => expect(Math.abs(t.p - trained[i]!.p)).toBeLessThan(1e-5));
    phase('imported and predicted the same');
    await page2.screenshot({ path: artifact('webapp-imported.png'), fullPage: true });
    writeFileSync(artifact('webapp-timings.json'), `${JSON.stringify(phases, null, 2)}\n`);
    process.stdout.write(`web app flow, seconds since start: ${JSON.stringify(phases)}\n`);

    expect(outside).toEqual([]);
    expect(outside2).toEqual([]);
    expect(problems).toEqual([]);
    expect(problems2).toEqual([]);
    await fresh.close();
    await context.close();
  });
});
