// Data intake in headless Chromium: a .zip and a folder of class folders with unusable files among them
// (listed as skipped with the reason, the rest kept), images dropped onto a class, classes added, renamed
// and deleted, webcam frames recorded into a class with Chromium's fake camera, and live webcam predictions.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeMetadata, nativeTensors } from '../../src/clora/files';
import { initialTensors } from '../../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS } from '../../src/clora/settings';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import { app, artifact, BACKBONE_OVERRIDE, BUNDLED_BACKBONE, openApp } from './app-helpers';
import { FAKE_MEDIA_ARGS, startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv({ args: FAKE_MEDIA_ARGS });
});
afterAll(async () => {
  await env?.close();
});

function png(width: number, height: number, seed: number): Uint8Array {
  const image = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    image.data[i * 4] = (i * 7 + seed * 40) & 255;
    image.data[i * 4 + 1] = (i * 3 + seed * 90) & 255;
    image.data[i * 4 + 2] = (seed * 50) & 255;
    image.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(image));
}

/** A PNG whose header is fine but whose image data is garbage. */
function corruptPng(): Uint8Array {
  const good = png(16, 16, 1);
  const out = good.slice();
  for (let i = 41; i < out.length - 12; i++) out[i] = (i * 37) & 255;
  return out;
}

/** Only the signature and an IHDR claiming 20000 × 10000 pixels (200 megapixels). */
function hugePngHeader(): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, 20000);
  view.setUint32(20, 10000);
  bytes[24] = 8;
  bytes[25] = 6;
  return bytes;
}

const FILES: Record<string, Uint8Array> = {
  'animals/cat/1.png': png(40, 30, 1),
  'animals/cat/2.png': png(30, 40, 2),
  'animals/cat/notes.txt': new TextEncoder().encode('not a picture'),
  'animals/cat/huge.png': hugePngHeader(),
  'animals/dog/1.png': png(32, 32, 3),
  'animals/dog/2.png': png(64, 48, 4),
  'animals/dog/corrupt.png': corruptPng(),
  'animals/dog/empty.png': new Uint8Array(0),
};

function expectSkipReasons(text: string): void {
  expect(text).toMatch(/notes\.txt.*not an image \(\.txt\)/);
  expect(text).toMatch(/huge\.png.*200-megapixel image \(20000 × 10000\)/);
  expect(text).toMatch(/corrupt\.png.*could not be decoded.*corrupt/);
  expect(text).toMatch(/empty\.png.*empty file \(0 bytes\)/);
}

async function classCount(page: import('playwright-core').Page, name: string): Promise<number> {
  const card = app(page).getByRole('region', { name: `Class ${name}` });
  if ((await card.count()) === 0) return -1;
  return Number(/^(\d+)/.exec((await card.getByTestId('class-count').textContent()) ?? '')?.[1] ?? -1);
}

/** A random `head` adapter for the test backbone: something to import and predict with. */
async function headAdapter(path: string, classes: string[]): Promise<void> {
  const backbonePath = BACKBONE_OVERRIDE ? BACKBONE_OVERRIDE.slice(1) : BUNDLED_BACKBONE;
  const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(backbonePath))));
  const cfg = vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), Number(file.metadata.num_heads ?? 1));
  const settings = { ...DEFAULT_ADAPTER_SETTINGS, method: 'head' as const, targets: [] };
  const tensors = initialTensors(cfg, settings, classes.length, new Rng(3));
  writeFileSync(path, writeSafetensors(nativeTensors(cfg, settings, classes.length, tensors), nativeMetadata(settings, classes)));
}

describe('data intake', () => {
  it('keeps the images of a .zip and of a folder and lists unusable files as skipped with the reason', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl);
    const dir = mkdtempSync(join(tmpdir(), 'clora-intake-'));
    const zipPath = join(dir, 'animals.zip');
    writeFileSync(zipPath, zipSync(FILES));
    await app(page).getByLabel('Add a .zip').setInputFiles(zipPath);
    await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Adding the zip file: added 4 images, skipped 4/);
    expect(await classCount(page, 'cat')).toBe(2);
    expect(await classCount(page, 'dog')).toBe(2);
    const skipped = app(page).getByRole('list', { name: 'Skipped files' });
    expectSkipReasons((await skipped.textContent()) ?? '');
    await page.screenshot({ path: artifact('intake-skipped.png'), fullPage: true });

    // The same files as a folder (the folder picker gives each file its relative path).
    const folder = join(dir, 'folder');
    for (const [path, bytes] of Object.entries(FILES)) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), bytes);
    }
    await app(page).getByRole('button', { name: 'Clear the list' }).click();
    await app(page).getByLabel('Add a folder').setInputFiles(join(folder, 'animals'));
    await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Adding the folder: added 4 images, skipped 4/);
    expect(await classCount(page, 'cat')).toBe(4);
    expect(await classCount(page, 'dog')).toBe(4);
    expectSkipReasons((await skipped.textContent()) ?? '');

    // Images dropped onto a class go to that class.
    const transfer = await page.evaluateHandle(
      ([a, b]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(a!)], 'dropped-1.png', { type: 'image/png' }));
        dt.items.add(new File([new Uint8Array(b!)], 'dropped-2.png', { type: 'image/png' }));
        return dt;
      },
      [Array.from(png(20, 20, 5)), Array.from(png(24, 20, 6))],
    );
    await app(page).getByRole('region', { name: 'Class dog' }).getByText('Drop images of “dog” here').dispatchEvent('drop', { dataTransfer: transfer });
    await expect.poll(() => classCount(page, 'dog'), { timeout: 30_000 }).toBe(6);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adds, renames and deletes classes from the keyboard and records webcam frames into a class', async () => {
    const context = await env.browser.newContext({ permissions: ['camera'] });
    const page = await context.newPage();
    const problems = watchPage(page);
    await openApp(page, env.baseUrl);
    const newClass = app(page).getByLabel('New class');
    await newClass.fill('cup');
    await newClass.press('Enter');
    await newClass.fill('plate');
    await newClass.press('Enter');
    await expect.poll(() => classCount(page, 'cup')).toBe(0);
    // Rename with the keyboard only.
    await app(page).getByRole('button', { name: 'Rename class cup' }).focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('mug');
    await page.keyboard.press('Enter');
    await expect.poll(() => classCount(page, 'mug')).toBe(0);
    expect(await classCount(page, 'cup')).toBe(-1);

    // Webcam: hold the button (pointer), then hold Space on it (keyboard).
    const data = page.locator('clora-data-panel');
    await data.getByLabel('Record into class').selectOption({ label: 'mug' });
    await data.getByRole('button', { name: 'Start camera' }).click();
    const hold = data.getByRole('button', { name: 'Hold to record' });
    await hold.waitFor();
    await page.waitForFunction(() => {
      const cam = document.querySelector('clora-app')?.shadowRoot?.querySelector('clora-data-panel')?.shadowRoot?.querySelector('clora-webcam');
      const video = cam?.shadowRoot?.querySelector('video');
      return Boolean(video && video.readyState >= 2);
    });
    await hold.hover();
    await page.mouse.down();
    await page.waitForTimeout(1200);
    await page.mouse.up();
    await expect.poll(() => classCount(page, 'mug'), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
    const afterPointer = await classCount(page, 'mug');
    await hold.focus();
    await page.keyboard.down('Space');
    await page.waitForTimeout(800);
    await page.keyboard.up('Space');
    await expect.poll(() => classCount(page, 'mug'), { timeout: 60_000 }).toBeGreaterThan(afterPointer);
    await page.screenshot({ path: artifact('intake-webcam.png'), fullPage: true });
    await data.getByRole('button', { name: 'Stop camera' }).click();

    await app(page).getByRole('button', { name: 'Delete class plate' }).click();
    await expect.poll(() => classCount(page, 'plate')).toBe(-1);

    // Live predictions from the webcam with an imported adapter.
    const adapterPath = join(mkdtempSync(join(tmpdir(), 'clora-adapter-')), 'head.safetensors');
    await headAdapter(adapterPath, ['mug', 'plate', 'spoon']);
    await app(page).getByLabel('Import adapter').setInputFiles(adapterPath);
    await expect.poll(async () => app(page).getByTestId('export-message').textContent(), { timeout: 60_000 }).toMatch(/Imported .+ a head adapter for 3 classes/);
    const tryIt = page.locator('clora-try-it');
    await tryIt.getByRole('button', { name: 'Start camera' }).click();
    const top = app(page).getByRole('list', { name: 'Top predictions' }).getByRole('listitem');
    await expect.poll(() => top.count(), { timeout: 60_000 }).toBe(3);
    const sum = await top.evaluateAll((els) => els.reduce((s, el) => s + Number(el.getAttribute('data-probability')), 0));
    expect(sum).toBeCloseTo(1, 5);
    await tryIt.getByRole('button', { name: 'Stop camera' }).click();
    expect(problems).toEqual([]);
    await context.close();
  });
});
