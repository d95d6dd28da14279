// Writes tests/fixtures/project/: projects saved by the web app itself (Save project, src/app/project.ts) in real
// headless Chromium, on the small fixture backbone, for the PyTorch companion's project tests
// (python/tests/test_project.py):
//
//   paused.zip   a CLoRA run paused part-way and saved as a project: an empty class first (no label), three
//                classes of 11, 7 and 9 images (one renamed to a name with a slash, a question mark and a
//                character outside the BMP, so its folder differs from its name), a 30 % validation share,
//                flips, warm-up, dropout 0;
//   done.zip     the same run resumed in the page to its end and saved again: the engine's own next steps
//                from paused.zip's checkpoint, and the page's accuracy at each epoch end;
//   split.json   the page's own packing of the data set for the worker (DataController.pack: class names,
//                sample keys in order, labels, validation flags): the split the companion must reproduce.
//
// Run from the repository root: `npx tsx tools/make-project-fixture.ts` (a few minutes: the page trains on
// SwiftShader). The run is seeded; the zips differ from run to run only in their times and run id.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startBrowserEnv, watchPage } from '../tests/e2e/browser';

const OUT = 'tests/fixtures/project';
const BACKBONE = '/tests/fixtures/train/backbone.safetensors';
/** Sample classes and how many of their images the project takes: uneven, so the split differs per class. */
const TAKE: [string, number][] = [
  ['ankle-boot', 11],
  ['bag', 7],
  ['trouser', 9],
];
const RENAMED = { from: 'ankle-boot', to: 'Stiefel 👢 / boot?' };

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 240_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function app(page: Page): Locator {
  return page.locator('clora-app');
}

async function setNumber(page: Page, label: string, value: number): Promise<void> {
  const input = app(page).getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.press('Tab');
}

const text = (locator: Locator) => () => locator.textContent().catch(() => '').then((t) => t ?? '');
const progress = (page: Page) => async () => Number(await app(page).getByRole('progressbar', { name: 'Training progress' }).getAttribute('aria-valuenow'));

async function saveProject(page: Page, path: string): Promise<void> {
  const downloading = page.waitForEvent('download');
  await app(page).getByRole('button', { name: 'Save project', exact: true }).click();
  await (await downloading).saveAs(path);
  await until('the project to be saved', text(app(page).getByTestId('project-message')), (t) => /^Saved clora-project-/.test(t), 60_000);
}

const env = await startBrowserEnv();
const work = mkdtempSync(join(tmpdir(), 'clora-project-fixture-'));
try {
  // The data set as a user drops it: a folder of class folders.
  for (const [name, count] of TAKE) {
    mkdirSync(join(work, 'shop', name), { recursive: true });
    for (let i = 1; i <= count; i++) copyFileSync(join('public/samples/fashion', name, `${String(i).padStart(3, '0')}.png`), join(work, 'shop', name, `${String(i).padStart(3, '0')}.png`));
  }
  const context = await env.browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(`${env.baseUrl}/?backbone=${encodeURIComponent(BACKBONE)}`);
  await until('WebGPU', text(app(page).getByTestId('gpu-status')), (t) => /WebGPU ready on/.test(t), 60_000);
  await app(page).getByTestId('backbone-info').waitFor({ timeout: 60_000 });

  await app(page).getByLabel('New class').fill('empty');
  await app(page).getByRole('button', { name: 'Add class' }).click();
  await app(page).getByLabel('Add a folder').setInputFiles(join(work, 'shop'));
  await until('the images', text(app(page).getByTestId('data-message')), (t) => /added 27 images/.test(t));
  await app(page).getByRole('button', { name: `Rename class ${RENAMED.from}`, exact: true }).click();
  await app(page).getByLabel(`New name for class ${RENAMED.from}`).fill(RENAMED.to);
  await app(page).getByRole('button', { name: 'Save', exact: true }).click();
  await app(page).getByRole('region', { name: `Class ${RENAMED.to}`, exact: true }).waitFor();
  await setNumber(page, 'Validation share (%)', 30);
  await until('the split', text(app(page).getByTestId('data-summary')), (t) => /27 images in 4 classes, 7 held out for validation/.test(t), 30_000);

  await setNumber(page, 'Rank', 4);
  await setNumber(page, 'Spaces', 2);
  await setNumber(page, 'SADE weight', 0.2);
  await setNumber(page, 'Learning rate', 0.01);
  await setNumber(page, 'Epochs', 4);
  await setNumber(page, 'Batch size', 8);
  await app(page).getByText('Advanced').click();
  await setNumber(page, 'Dropout', 0);
  await setNumber(page, 'Warm-up steps', 2);
  await setNumber(page, 'Seed', 7);
  await setNumber(page, 'Checkpoint every (steps)', 3);
  await app(page).getByLabel('Flip images at random').check();

  mkdirSync(OUT, { recursive: true });
  const { samples } = await page.evaluate(async () => {
    const packed = await document.querySelector('clora-app')!.controller.data.pack();
    const s = packed.samples as { classes: string[]; keys: string[]; labels: Int32Array; validation: Uint8Array };
    return { samples: { classes: s.classes, keys: s.keys, labels: Array.from(s.labels), validation: Array.from(s.validation, (v) => v === 1) } };
  });
  writeFileSync(join(OUT, 'split.json'), `${JSON.stringify(samples, null, 1)}\n`);

  // Train, pause part-way (the page saves a checkpoint on pause), save the project.
  await app(page).getByRole('button', { name: 'Train', exact: true }).click();
  await until('step 4', progress(page), (step) => step >= 4);
  await app(page).getByRole('button', { name: 'Pause' }).click();
  await until('the pause', text(app(page).getByTestId('run-status')), (t) => /^Paused\./.test(t), 60_000);
  const saved = await until('the checkpoint of the pause', text(app(page).getByTestId('checkpoint').first()), (t) => /step \d+ of 12 .* on pause/.test(t), 30_000);
  const pausedAt = Number(/step (\d+) of 12/.exec(saved)![1]);
  if (pausedAt >= 12) throw new Error(`the run ended (step ${pausedAt}) before it could be paused: run the script again`);
  await saveProject(page, join(OUT, 'paused.zip'));

  // The page's own continuation to the end, saved again.
  await app(page).getByRole('button', { name: 'Resume', exact: true }).click();
  await until('the end of the run', text(app(page).getByTestId('run-status')), (t) => /^Done\./.test(t));
  await saveProject(page, join(OUT, 'done.zip'));
  if (problems.length) throw new Error(`the page reported problems:\n${problems.join('\n')}`);
  process.stdout.write(`wrote ${OUT}/paused.zip (paused at step ${pausedAt} of 12), ${OUT}/done.zip and ${OUT}/split.json\n`);
  await context.close();
} finally {
  rmSync(work, { recursive: true, force: true });
  await env.close();
}
