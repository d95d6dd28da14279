// Shared steps for the web app's end-to-end tests: opening the app on the bundled backbone, adding the
// sample data, setting numbers, watching long tasks and outside requests, reading downloads.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Download, Locator, Page } from 'playwright-core';
import { bytesSource, openSafetensors, type SafetensorsFile } from '../../src/io/safetensors';

/** Screenshots and other artifacts (gitignored). */
export const ARTIFACTS = 'test-results';

export const BUNDLED_BACKBONE = 'public/models/vit-mnist.safetensors';
/** Until the bundled backbone exists, the tests run on the small training fixture (8×8 input). */
export const BACKBONE_OVERRIDE = existsSync(BUNDLED_BACKBONE) ? undefined : '/tests/fixtures/train/backbone.safetensors';
export const SAMPLE_IMAGE = 'public/samples/fashion/bag/001.png';
/** The small training fixture (8×8 input, 2 blocks): for tests about the app's machinery, not about learning. */
export const SMALL_BACKBONE = '/tests/fixtures/train/backbone.safetensors';

export function appUrl(baseUrl: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params);
  if (BACKBONE_OVERRIDE && !query.has('backbone')) query.set('backbone', BACKBONE_OVERRIDE);
  const text = query.toString();
  return `${baseUrl}/${text ? `?${text}` : ''}`;
}

export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The app element: Playwright's locators pierce its shadow roots. */
export function app(page: Page): Locator {
  return page.locator('clora-app');
}

export async function openApp(page: Page, baseUrl: string, params: Record<string, string> = {}): Promise<void> {
  await page.goto(appUrl(baseUrl, params));
  await expect.poll(async () => app(page).getByTestId('gpu-status').textContent(), { timeout: 60_000 }).toMatch(/WebGPU ready on/);
  await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });
}

export async function useSampleData(page: Page): Promise<void> {
  await app(page).getByRole('button', { name: 'Use sample data' }).click();
  await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/added 500 images/);
}

/** Deletes every class except `keep` (a smaller task trains faster on an emulated GPU). */
export async function keepClasses(page: Page, keep: string[]): Promise<void> {
  const names = await app(page).locator('clora-class-card h3').allTextContents();
  for (const name of names.filter((n) => !keep.includes(n))) {
    await app(page).getByRole('button', { name: `Delete class ${name}`, exact: true }).click();
    await expect.poll(async () => app(page).getByRole('region', { name: `Class ${name}`, exact: true }).count()).toBe(0);
  }
}

/** Sets a numeric field by its label and commits it as a user would (change event). */
export async function setNumber(page: Page, label: string, value: number): Promise<void> {
  const input = app(page).getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.press('Tab');
}

export async function chartPoints(page: Page, label: 'Loss' | 'Accuracy'): Promise<number> {
  const frame = app(page).getByRole('img', { name: new RegExp(`^${label}:`) });
  return Number(await frame.getAttribute('data-points'));
}

export async function progressValue(page: Page): Promise<number> {
  return Number(await app(page).getByRole('progressbar', { name: 'Training progress' }).getAttribute('aria-valuenow'));
}

export async function runStatus(page: Page): Promise<string> {
  return (await app(page).getByTestId('run-status').textContent()) ?? '';
}

/** Installs a long-task recorder before any script of the page runs. */
export async function recordLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const tasks: { start: number; duration: number }[] = [];
    (window as unknown as { longTasks: typeof tasks }).longTasks = tasks;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) tasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

export async function longTasksSince(page: Page, since: number): Promise<{ start: number; duration: number }[]> {
  return page.evaluate((t) => (window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks.filter((x) => x.start >= t), since);
}

/** Requests that leave the app's own origin. */
export function watchOutsideRequests(page: Page, baseUrl: string): string[] {
  const outside: string[] = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(baseUrl) && !url.startsWith('data:') && !url.startsWith('blob:')) outside.push(url);
  });
  return outside;
}

export async function downloadBytes(download: Download): Promise<Uint8Array> {
  const path = await download.path();
  return new Uint8Array(readFileSync(path));
}

export async function openDownload(download: Download): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(await downloadBytes(download), download.suggestedFilename()));
}

/**
 * Every button, input and select inside the element's shadow roots has an accessible name (its text, a
 * label around or for it, aria-label or aria-labelledby); returns the controls that lack one.
 */
export async function unnamedControls(page: Page, selector = 'clora-app'): Promise<string[]> {
  return page.evaluate((sel) => {
    const missing: string[] = [];
    const visit = (root: ParentNode): void => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.shadowRoot) visit(el.shadowRoot);
        const tag = el.tagName.toLowerCase();
        if (!['button', 'input', 'select', 'textarea'].includes(tag)) continue;
        if ((el as HTMLInputElement).type === 'hidden') continue;
        const labelled = el.getAttribute('aria-labelledby');
        const fromLabels = Array.from((el as HTMLInputElement).labels ?? [])
          .map((l) => l.textContent ?? '')
          .join(' ');
        const name = [el.getAttribute('aria-label') ?? '', labelled ? (el.getRootNode() as Document).getElementById(labelled)?.textContent ?? '' : '', fromLabels, tag === 'button' ? el.textContent ?? '' : '']
          .join(' ')
          .trim();
        if (!name) missing.push(el.outerHTML.slice(0, 120));
      }
    };
    const host = document.querySelector(sel);
    if (host?.shadowRoot) visit(host.shadowRoot);
    return missing;
  }, selector);
}

/** Seconds since the call at each named phase of a long flow (printed and kept with the test's artifacts). */
export function phaseTimer(): { phases: Record<string, number>; phase(name: string): void } {
  const started = Date.now();
  const phases: Record<string, number> = {};
  return {
    phases,
    phase: (name) => {
      phases[name] = Math.round((Date.now() - started) / 100) / 10;
    },
  };
}
