// Component tests for the Lit elements, in headless Chromium: each element is mounted alone on
// tests/e2e/components.html with plain-object properties; the tests use it through roles and labels
// (mouse and keyboard) and check what it renders and which events it emits. No engine runs here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { initialRun } from '../../src/app/state';
import { unnamedControls } from './app-helpers';
import { FAKE_MEDIA_ARGS, startBrowserEnv, watchPage, type BrowserEnv } from './browser';

interface Recorded {
  type: string;
  detail: Record<string, unknown> | undefined;
}
type TestWindow = Window & {
  mount(tag: string, props?: Record<string, unknown>): Promise<void>;
  setProps(props: Record<string, unknown>): Promise<void>;
  events: Recorded[];
  defaultSettings: Record<string, unknown>;
};

let env: BrowserEnv;
let page: Page;
let problems: string[];
beforeAll(async () => {
  env = await startBrowserEnv({ args: FAKE_MEDIA_ARGS });
  const context = await env.browser.newContext({ permissions: ['camera'] });
  page = await context.newPage();
  problems = watchPage(page);
  await page.goto(`${env.baseUrl}/tests/e2e/components.html`);
  await page.waitForFunction(() => (window as unknown as { componentsReady?: boolean }).componentsReady === true, undefined, { timeout: 60_000 });
});
afterAll(async () => {
  await env?.close();
});

async function mount(tag: string, props: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(([t, p]) => (window as unknown as TestWindow).mount(t as string, p as Record<string, unknown>), [tag, props] as const);
}

async function setProps(props: Record<string, unknown>): Promise<void> {
  await page.evaluate((p) => (window as unknown as TestWindow).setProps(p), props);
}

async function events(): Promise<Recorded[]> {
  return page.evaluate(() => (window as unknown as TestWindow).events.map((e) => ({ ...e })));
}

function run(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...initialRun(), ...patch };
}

function metric(step: number): Record<string, number> {
  return { step, totalSteps: 20, epoch: step / 10, loss: 2.3 - step * 0.05, crossEntropy: 2.3 - step * 0.05, sade: 0.01, lr: 0.002, imagesPerSecond: 40, etaSeconds: 20 - step };
}

const evaluation = {
  count: 4,
  accuracy: 0.75,
  classes: ['cat', 'dog'],
  perClass: [
    { class: 'cat', count: 2, accuracy: 1 },
    { class: 'dog', count: 2, accuracy: 0.5 },
  ],
  confusion: [
    [2, 0],
    [1, 1],
  ],
};

function checkpointMeta(step: number, id: string): Record<string, unknown> {
  return {
    id,
    runId: 'run-a',
    createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    reason: 'pause',
    step,
    totalSteps: 20,
    epoch: step / 10,
    settings: { adapter: { method: 'clora' }, train: {}, checkpointEvery: 4 },
    classes: ['cat', 'dog'],
    fingerprint: 'abc-4',
    backbone: { spec: 'clora-web/vit-mnist', label: 'Bundled ViT', url: '/models/vit-mnist.safetensors' },
    loss: 1.234,
    validationAccuracy: 0.5,
    bytes: 84_000,
  };
}

const classView = (id: string, name: string, count: number) => ({ id, name, count, validation: Math.floor(count / 5), thumbnails: [] });

describe('Lit components', () => {
  it('training panel: buttons follow the run, settings and the advanced fold work from the keyboard, progress is a progressbar', async () => {
    const settings = await page.evaluate(() => (window as unknown as TestWindow).defaultSettings);
    await mount('clora-training-panel', { settings, run: run(), canTrain: true });
    const panel = page.locator('clora-training-panel');
    const button = (name: string) => panel.getByRole('button', { name, exact: true });
    expect(await button('Train').isEnabled()).toBe(true);
    for (const name of ['Pause', 'Resume', 'Stop']) expect(await button(name).isDisabled()).toBe(true);
    await button('Train').click();
    await panel.getByLabel('Rank').fill('16');
    await panel.getByLabel('Rank').press('Tab');
    await panel.getByLabel('Method').selectOption('lora');
    // The advanced fold opens with the keyboard.
    expect(await panel.getByLabel('Checkpoint every (steps)').isVisible()).toBe(false);
    await panel.getByText('Advanced').focus();
    await page.keyboard.press('Enter');
    expect(await panel.getByLabel('Checkpoint every (steps)').isVisible()).toBe(true);
    await panel.getByRole('checkbox', { name: 'fc1' }).check();
    expect(await events()).toEqual([
      { type: 'train', detail: undefined },
      { type: 'settings-change', detail: { patch: { rank: 16 } } },
      { type: 'settings-change', detail: { patch: { method: 'lora' } } },
      { type: 'settings-change', detail: { patch: { targets: ['q', 'v', 'fc1'] } } },
    ]);

    await setProps({ run: run({ phase: 'training', step: 5, totalSteps: 20, stepsPerEpoch: 10, metrics: [metric(1), metric(5)], trainCount: 40, validationCount: 10, trainableParameters: 1234 }) });
    const bar = panel.getByRole('progressbar', { name: 'Training progress' });
    expect(await bar.getAttribute('aria-valuenow')).toBe('5');
    expect(await bar.getAttribute('aria-valuemax')).toBe('20');
    expect(await panel.getByTestId('progress-text').textContent()).toMatch(/Step 5 of 20 · epoch 0\.50 of 2 · 40\.0 images\/s · about 15 s left/);
    expect(await button('Train').isDisabled()).toBe(true);
    expect(await panel.getByLabel('Rank').isDisabled()).toBe(true);
    expect(await page.locator('clora-chart').first().getAttribute('label')).toBe('Loss');
    await button('Pause').click();
    await button('Stop').click();
    await setProps({ run: run({ phase: 'paused', step: 6, totalSteps: 20, stepsPerEpoch: 10, metrics: [metric(5)] }) });
    await button('Resume').click();
    await setProps({ run: run({ phase: 'failed', step: 6, totalSteps: 20, message: 'The GPU device was lost.', errorKind: 'deviceLost', resumable: checkpointMeta(4, 'x') }) });
    expect(await panel.getByRole('alert').textContent()).toContain('The GPU device was lost.');
    expect(await button('Resume').isEnabled()).toBe(true);
    expect((await events()).slice(4).map((e) => e.type)).toEqual(['pause', 'stop', 'resume']);
    await setProps({ run: run({ phase: 'done', step: 20, totalSteps: 20, stepsPerEpoch: 10, evaluation: { evaluation, on: 'validation', samples: [] } }) });
    expect(await panel.getByTestId('final-accuracy').textContent()).toContain('Accuracy 75.0 % on 4 validation images');
    expect(await unnamedControls(page, 'clora-training-panel')).toEqual([]);

    // Quick mode: its own button; once a quick run is done (and held), one click goes on to fine-tuning from its head.
    const before = (await events()).length;
    await setProps({ run: run() });
    await button('Quick mode').click();
    await setProps({ run: run({ phase: 'starting', quick: true, features: { done: 64, total: 500, cached: 0 } }) });
    expect(await panel.getByTestId('features-status').textContent()).toMatch(/Backbone features: 64 of 500 images\./);
    expect(await button('Quick mode').isDisabled()).toBe(true);
    await setProps({ run: run({ phase: 'done', quick: true, live: true, seconds: 4.25, features: { done: 500, total: 500, cached: 500 }, step: 390, totalSteps: 390 }) });
    expect(await panel.getByTestId('run-status').textContent()).toMatch(/^Done\. Quick mode: the head on backbone features of 500 images \(500 from the cache\)\. Took 4\.3 s\./);
    await button('Fine-tune with CLoRA from here').click();
    // The form's method goes on from the quick head; head only goes on with CLoRA.
    await setProps({ settings: { ...settings, method: 'lora' } });
    expect(await button('Fine-tune with LoRA from here').isEnabled()).toBe(true);
    await setProps({ settings: { ...settings, method: 'head' } });
    expect(await button('Fine-tune with CLoRA from here').isEnabled()).toBe(true);
    await setProps({ run: run({ phase: 'done', quick: true, live: false }) });
    expect(await panel.getByRole('button', { name: /from here/ }).count()).toBe(0);
    expect((await events()).slice(before).map((e) => e.type)).toEqual(['quick-train', 'train-from-quick']);
  });

  it('chart: points and latest values are in its accessible name and grow with the data', async () => {
    await mount('clora-chart', { label: 'Loss', series: [{ label: 'loss', color: '#00f' }], data: [[], []] });
    const chart = page.getByRole('img', { name: /^Loss:/ });
    expect(await chart.getAttribute('aria-label')).toBe('Loss: no points yet');
    await setProps({ data: [[1, 2, 3], [2.3, 2.1, 1.9]] });
    expect(await chart.getAttribute('data-points')).toBe('3');
    expect(await chart.getAttribute('aria-label')).toBe('Loss: 3 points up to step 3; latest loss 1.9000');
    expect(await page.locator('clora-chart canvas').count()).toBe(1);
    await setProps({ data: [[1, 2, 3, 4], [2.3, 2.1, 1.9, 1.7]] });
    expect(await chart.getAttribute('data-points')).toBe('4');
    expect(await page.locator('clora-chart canvas').count()).toBe(1);
  });

  it('evaluation: per-class accuracy, the pairs confused most, and a confusion matrix whose cells open their images', async () => {
    await mount('clora-evaluation', { evaluation, on: 'validation' });
    const matrix = page.getByRole('table', { name: /Confusion matrix/ });
    expect(await matrix.getByRole('row').count()).toBe(3);
    expect(await matrix.getByRole('row').nth(2).textContent()).toMatch(/^\s*dog\s*1\s*1\s*$/);
    expect(await page.getByRole('table', { name: 'Accuracy per class' }).getByRole('row').nth(2).textContent()).toMatch(/dog\s*2\s*50\.0 %/);
    expect(await page.getByTestId('confused-pairs').textContent()).toMatch(/cat and dog: 1 image \(0 cat taken for dog,\s+1 dog taken for cat\)/);
    await matrix.getByRole('button', { name: '1 image of dog predicted as cat' }).click();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    expect(await events()).toEqual([
      { type: 'open-confusion-cell', detail: { actual: 1, predicted: 0 } },
      { type: 'open-confusion-cell', detail: { actual: 1, predicted: 1 } },
    ]);
    const top = [
      { class: 'cat', index: 0, probability: 0.7 },
      { class: 'dog', index: 1, probability: 0.3 },
    ];
    await setProps({ cell: { actual: 1, predicted: 0, count: 1, loading: false, images: [{ key: 'c2/000000004', thumbnail: '', top }] } });
    const cell = page.getByRole('region', { name: 'Images: dog predicted as cat' });
    expect(await cell.locator('li[data-key="c2/000000004"]').getByRole('list', { name: 'Top predictions for this image' }).textContent()).toMatch(/cat 70\.0 %\s*dog 30\.0 %/);
    expect(await matrix.getByRole('button', { name: '1 image of dog predicted as cat' }).getAttribute('aria-pressed')).toBe('true');
    await cell.getByRole('button', { name: 'Close' }).click();
    expect((await events()).at(-1)).toEqual({ type: 'close-confusion-cell', detail: undefined });
    expect(await unnamedControls(page, 'clora-evaluation')).toEqual([]);
  });

  it('project bar: save, export the data set, and open (asking first when it would replace images)', async () => {
    await mount('clora-project-bar', { state: { busy: undefined, progress: undefined, message: undefined, failed: false }, images: 0 });
    const bar = page.locator('clora-project-bar');
    expect(await bar.getByRole('button', { name: 'Save project' }).isDisabled()).toBe(true);
    await bar.getByLabel('Open project').setInputFiles({ name: 'p.zip', mimeType: 'application/zip', buffer: Buffer.from([80, 75]) });
    await setProps({ images: 12 });
    await bar.getByRole('button', { name: 'Save project' }).click();
    await bar.getByRole('button', { name: 'Export data set' }).click();
    await bar.getByLabel('Open project').setInputFiles({ name: 'q.zip', mimeType: 'application/zip', buffer: Buffer.from([80, 75, 3]) });
    const confirm = bar.getByRole('group', { name: 'Confirm opening the project' });
    expect(await confirm.textContent()).toMatch(/Opening q\.zip replaces the 12 images here/);
    await confirm.getByRole('button', { name: 'Keep the current images' }).click();
    await bar.getByLabel('Open project').setInputFiles({ name: 'r.zip', mimeType: 'application/zip', buffer: Buffer.from([80, 75, 3, 4]) });
    await confirm.getByRole('button', { name: 'Open it' }).click();
    expect(await events()).toEqual([
      { type: 'open-project', detail: { file: { blob: 2, type: 'application/zip', name: 'p.zip' } } },
      { type: 'save-project', detail: undefined },
      { type: 'export-dataset', detail: undefined },
      { type: 'open-project', detail: { file: { blob: 4, type: 'application/zip', name: 'r.zip' } } },
    ]);
    await setProps({ state: { busy: 'opening', progress: { done: 3, total: 12 }, message: 'Opening r.zip…', failed: false } });
    expect(await bar.getByRole('progressbar', { name: 'Project progress' }).getAttribute('aria-valuenow')).toBe('3');
    expect(await bar.getByRole('button', { name: 'Save project' }).isDisabled()).toBe(true);
    await setProps({ state: { busy: undefined, progress: undefined, message: 'This project was saved by a newer version of clora-web.', failed: true } });
    expect(await bar.getByRole('alert').textContent()).toContain('newer version');
    expect(await unnamedControls(page, 'clora-project-bar')).toEqual([]);
  });

  it('checkpoint list: Resume and Delete per checkpoint, storage use, and a full-quota alert', async () => {
    await mount('clora-checkpoints', {
      state: { list: [checkpointMeta(8, 'b'), checkpointMeta(4, 'a')], storage: { usage: 2_500_000, quota: 10_000_000_000, persisted: true }, message: undefined, saving: false },
    });
    const list = page.locator('clora-checkpoints');
    expect(await list.getByTestId('checkpoint').count()).toBe(2);
    expect(await list.getByTestId('checkpoint').first().textContent()).toMatch(/clora on Bundled ViT · step 8 of 20 · 2 classes · loss 1\.2340 · validation 50\.0 % · 84 kB/);
    await list.getByRole('button', { name: 'Resume from the checkpoint at step 4' }).click();
    await list.getByRole('button', { name: 'Delete the checkpoint at step 8' }).click();
    await list.getByRole('button', { name: 'Use the checkpoint at step 8 for Try it and exports' }).click();
    expect(await events()).toEqual([
      { type: 'resume-checkpoint', detail: { id: 'a' } },
      { type: 'delete-checkpoint', detail: { id: 'b' } },
      { type: 'use-checkpoint', detail: { id: 'b' } },
    ]);
    await setProps({ inUse: 'b' });
    const inUse = list.getByRole('button', { name: 'Use the checkpoint at step 8 for Try it and exports' });
    expect(await inUse.textContent()).toMatch(/In use/);
    expect(await inUse.getAttribute('aria-pressed')).toBe('true');
    expect(await inUse.isDisabled()).toBe(true);
    expect(await list.getByTestId('storage').textContent()).toMatch(/Storage: 2\.5 MB used of 10\.0 GB available to this page \(persistent/);
    await setProps({ state: { list: [checkpointMeta(8, 'b')], storage: undefined, message: 'The browser\'s storage for this page is full. The previous checkpoint (step 8) is kept.', saving: false } });
    expect(await list.getByRole('alert').textContent()).toContain('previous checkpoint (step 8) is kept');
    expect(await unnamedControls(page, 'clora-checkpoints')).toEqual([]);
  });

  it('data panel and class cards: sample data, new classes, rename from the keyboard, delete, the split and the skipped list', async () => {
    const data = {
      classes: [classView('c1', 'cat', 10), classView('c2', 'dog', 5)],
      skipped: [{ file: 'animals/cat/notes.txt', reason: 'not an image (.txt)' }],
      validationShare: 0.2,
      total: 15,
      intake: undefined,
      message: undefined,
      sampleLoaded: false,
    };
    await mount('clora-data-panel', { data });
    const panel = page.locator('clora-data-panel');
    expect(await panel.getByTestId('data-summary').textContent()).toBe('15 images in 2 classes, 3 held out for validation');
    expect(await panel.getByRole('region', { name: 'Class cat' }).getByTestId('class-count').textContent()).toBe('10 images (2 for validation)');
    await panel.getByRole('button', { name: 'Use sample data' }).click();
    await panel.getByLabel('New class').fill('bird');
    await panel.getByLabel('New class').press('Enter');
    await panel.getByLabel('Validation share (%)').fill('30');
    await panel.getByLabel('Validation share (%)').press('Tab');
    await panel.getByRole('button', { name: 'Rename class dog' }).focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('puppy');
    await page.keyboard.press('Enter');
    await panel.getByRole('button', { name: 'Rename class cat' }).click();
    await page.keyboard.press('Escape');
    expect(await panel.getByRole('heading', { name: 'cat' }).isVisible()).toBe(true);
    await panel.getByRole('button', { name: 'Delete class cat' }).click();
    await panel.getByRole('button', { name: 'Clear the list' }).click();
    // Clearing the whole data set asks first.
    await panel.getByRole('button', { name: 'Clear data set' }).click();
    await panel.getByRole('button', { name: 'Keep them' }).click();
    await panel.getByRole('button', { name: 'Clear data set' }).click();
    await panel.getByRole('button', { name: 'Delete all 15 images' }).click();
    expect(await events()).toEqual([
      { type: 'use-sample-data', detail: undefined },
      { type: 'add-class', detail: { name: 'bird' } },
      { type: 'set-validation-share', detail: { share: 0.3 } },
      { type: 'rename-class', detail: { id: 'c2', name: 'puppy' } },
      { type: 'delete-class', detail: { id: 'c1' } },
      { type: 'clear-skipped', detail: undefined },
      { type: 'clear-data', detail: undefined },
    ]);
    expect(await panel.getByRole('list', { name: 'Skipped files' }).textContent()).toMatch(/animals\/cat\/notes\.txt: not an image \(\.txt\)/);
    await panel.getByLabel('Add images to dog').setInputFiles({ name: 'a.png', mimeType: 'image/png', buffer: Buffer.from([1, 2, 3]) });
    expect((await events()).at(-1)).toEqual({ type: 'add-files', detail: { files: [{ blob: 3, type: 'image/png', name: 'a.png' }], classId: 'c2' } });
    await setProps({ data: { ...data, intake: { label: 'Adding the folder', seen: 12, added: 10, skipped: 2, done: false } } });
    expect(await panel.getByRole('status').first().textContent()).toBe('Adding the folder: 12 files looked at, 10 added, 2 skipped…');
    expect(await panel.getByRole('button', { name: 'Use sample data' }).isDisabled()).toBe(true);
    expect(await unnamedControls(page, 'clora-data-panel')).toEqual([]);
  });

  it('export panel: exports need a model, PEFT needs low-rank factors, an adapter file can be imported', async () => {
    await mount('clora-export-panel', { model: { kind: 'none', classes: [], label: '' } });
    const panel = page.locator('clora-export-panel');
    for (const name of ['Export adapter', 'Export PEFT (.zip)', 'Export merged model', 'Export ONNX']) expect(await panel.getByRole('button', { name }).isDisabled()).toBe(true);
    await setProps({ model: { kind: 'trained', classes: ['a', 'b'], label: 'clora adapter', method: 'clora' } });
    expect(await panel.getByTestId('current-model').textContent()).toBe('Current model: clora adapter.');
    await panel.getByRole('button', { name: 'Export adapter' }).click();
    await panel.getByRole('button', { name: 'Export PEFT (.zip)' }).click();
    await panel.getByRole('button', { name: 'Export merged model' }).click();
    await panel.getByRole('button', { name: 'Export ONNX' }).click();
    await panel.getByLabel('Import adapter').setInputFiles({ name: 'x.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1]) });
    expect(await events()).toEqual([
      { type: 'export', detail: { format: 'native' } },
      { type: 'export', detail: { format: 'peft' } },
      { type: 'export', detail: { format: 'merged' } },
      { type: 'export', detail: { format: 'onnx' } },
      { type: 'import-adapter', detail: { file: { blob: 2, type: 'application/octet-stream', name: 'x.safetensors' } } },
    ]);
    await setProps({ model: { kind: 'imported', classes: ['a', 'b'], label: 'head adapter', method: 'head' }, message: 'Imported x.safetensors.' });
    expect(await panel.getByRole('button', { name: 'Export PEFT (.zip)' }).isDisabled()).toBe(true);
    expect(await panel.getByRole('button', { name: 'Export merged model' }).isEnabled()).toBe(true);
    expect(await panel.getByRole('status').textContent()).toBe('Imported x.safetensors.');
    expect(await unnamedControls(page, 'clora-export-panel')).toEqual([]);
  });

  it('site status: the version, offline readiness, and a waiting new version with a Reload button', async () => {
    const site = { version: '1.2.3', offlineReady: false, updateReady: false, updating: false, message: undefined };
    await mount('clora-site-status', { site });
    const panel = page.locator('clora-site-status');
    expect(await panel.getByTestId('app-version').textContent()).toBe('clora-web 1.2.3');
    expect(await panel.getByTestId('offline-ready').count()).toBe(0);
    expect(await panel.getByRole('button').count()).toBe(0);
    await setProps({ site: { ...site, offlineReady: true, updateReady: true } });
    expect(await panel.getByTestId('offline-ready').textContent()).toMatch(/saved for offline use/);
    expect(await panel.getByRole('status').textContent()).toMatch(/A new version of clora-web is ready: reload to use it/);
    await panel.getByRole('button', { name: 'Reload' }).click();
    expect(await events()).toEqual([{ type: 'reload-update', detail: undefined }]);
    await setProps({ site: { ...site, updateReady: true, updating: true, message: 'This page could not be saved for offline use (no).' } });
    expect(await panel.getByRole('button', { name: 'Reload' }).isDisabled()).toBe(true);
    expect(await panel.getByRole('alert').textContent()).toMatch(/could not be saved for offline use/);
    expect(await unnamedControls(page, 'clora-site-status')).toEqual([]);
  });

  it('try it: an image chosen is sent for prediction, the top-5 shows with probabilities, errors are alerts', async () => {
    await mount('clora-try-it', { modelLabel: 'a test model' });
    const panel = page.locator('clora-try-it');
    await panel.getByLabel('Choose an image').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from([137, 80, 78, 71]) });
    expect(await events()).toEqual([{ type: 'predict', detail: { image: { blob: 4, type: 'image/png', name: 'cat.png' } } }]);
    const top = ['coat', 'shirt', 'pullover', 'dress', 'bag'].map((c, i) => ({ class: c, index: i, probability: [0.6, 0.2, 0.1, 0.06, 0.04][i] }));
    await setProps({ result: { classes: top.map((t) => t.class), top, model: 'checkpoint', label: 'checkpoint at step 6 of 6 of run run-x (clora)' } });
    const items = panel.getByRole('list', { name: 'Top predictions' }).getByRole('listitem');
    expect(await items.count()).toBe(5);
    expect(await panel.getByTestId('answered-by').textContent()).toBe('Answered by checkpoint at step 6 of 6 of run run-x (clora).');
    expect(await items.first().textContent()).toMatch(/coat\s+60\.0 %/);
    // Paste into the focusable drop area.
    await panel.getByRole('group', { name: /Image to classify/ }).focus();
    await page.evaluate(() => {
      const target = document.querySelector('clora-try-it')!;
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array([1, 2, 3, 4, 5])], 'pasted.png', { type: 'image/png' }));
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, composed: true }));
    });
    expect((await events()).at(-1)).toEqual({ type: 'predict', detail: { image: { blob: 5, type: 'image/png', name: 'pasted.png' } } });
    await setProps({ message: 'Train or import an adapter first.' });
    expect(await panel.getByRole('alert').textContent()).toBe('Train or import an adapter first.');
    expect(await unnamedControls(page, 'clora-try-it')).toEqual([]);
  });

  it('backbone picker: bundled by default, a known model or a URL emits the choice, download progress and errors show', async () => {
    const KNOWN = await page.evaluate(() => (window as unknown as { knownModels: unknown }).knownModels);
    const state = { status: 'ready', choice: { kind: 'bundled' }, info: undefined, progress: undefined, message: undefined };
    await mount('clora-backbone-picker', { state, models: KNOWN });
    const picker = page.locator('clora-backbone-picker');
    expect(await picker.getByRole('radio', { name: /Bundled ViT/ }).isChecked()).toBe(true);
    await picker.getByRole('radio', { name: /ViT-Tiny\/16/ }).check();
    await picker.getByRole('radio', { name: 'A URL' }).check();
    await picker.getByLabel('Backbone URL').fill('https://example.org/model.safetensors');
    await picker.getByLabel('Backbone URL').press('Enter');
    expect(await events()).toEqual([
      { type: 'choose-backbone', detail: { choice: { kind: 'known', id: 'vit_tiny_patch16_224.augreg_in21k_ft_in1k' } } },
      { type: 'choose-backbone', detail: { choice: { kind: 'url', url: 'https://example.org/model.safetensors' } } },
    ]);
    await setProps({ state: { ...state, status: 'loading', choice: { kind: 'known', id: 'x' }, progress: { loaded: 11_450_000, total: 22_900_000 } } });
    expect(await picker.getByRole('progressbar', { name: 'Backbone download' }).getAttribute('aria-valuenow')).toBe('50');
    expect(await picker.getByRole('status').textContent()).toMatch(/Downloading the backbone: 11 MB of 23 MB/);
    await picker.getByRole('button', { name: 'Cancel download' }).click();
    expect((await events()).at(-1)!.type).toBe('cancel-download');
    await setProps({ state: { ...state, status: 'error', message: 'Could not reach the URL.' } });
    expect(await picker.getByRole('alert').textContent()).toBe('Could not reach the URL.');
    expect(await unnamedControls(page, 'clora-backbone-picker')).toEqual([]);
  });

  it('intake helpers: dropped folders are walked whole, the class is the parent folder, files are checked from their header', async () => {
    type Helpers = Window & {
      walkFakeDrop(): Promise<{ path: string; size: number }[]>;
      prechecks(): Promise<(string | undefined)[]>;
      classFromPath(p: string): string | undefined;
      validationFlags(n: number, share: number): boolean[];
    };
    const walked = await page.evaluate(() => (window as unknown as Helpers).walkFakeDrop());
    expect(walked).toHaveLength(253);
    expect(walked.slice(0, 2)).toEqual([
      { path: 'pets/cat/a.png', size: 3 },
      { path: 'pets/cat/b.png', size: 2 },
    ]);
    expect(walked.filter((f) => f.path.startsWith('pets/dog/'))).toHaveLength(250);
    expect(walked.at(-1)).toEqual({ path: 'loose.png', size: 4 });
    const classes = await page.evaluate(() => ['pets/dog/1.png', 'a/b/c/x.jpg', 'loose.png'].map((p) => (window as unknown as Helpers).classFromPath(p)));
    expect(classes).toEqual(['dog', 'c', undefined]);
    const reasons = await page.evaluate(() => (window as unknown as Helpers).prechecks());
    expect(reasons[0]).toMatch(/^empty file \(0 bytes\)/);
    expect(reasons[1]).toMatch(/^not an image \(\.txt\)/);
    expect(reasons[2]).toMatch(/^200-megapixel image \(20000 × 10000\), over the 50-megapixel limit/);
    expect(reasons.slice(3)).toEqual([undefined, undefined, undefined]);
    const flags = await page.evaluate(() => [10, 50, 1, 3].map((n) => (window as unknown as Helpers).validationFlags(n, 0.2)));
    expect(flags.map((f) => f.filter(Boolean).length)).toEqual([2, 10, 0, 0]);
    expect(flags[0]).toEqual([false, false, false, false, true, false, false, false, false, true]);
  });

  it('webcam: holding Space on the record button gives frames; live mode streams frames and pauses while busy', async () => {
    await mount('clora-webcam', { mode: 'record', label: 'Webcam' });
    const cam = page.locator('clora-webcam');
    await cam.getByRole('button', { name: 'Start camera' }).click();
    await page.waitForFunction(() => {
      const video = document.querySelector('clora-webcam')?.shadowRoot?.querySelector('video');
      return Boolean(video && video.readyState >= 2);
    });
    const hold = cam.getByRole('button', { name: 'Hold to record' });
    await hold.focus();
    await page.keyboard.down('Space');
    await expect.poll(async () => hold.getAttribute('aria-pressed')).toBe('true');
    await page.waitForTimeout(700);
    await page.keyboard.up('Space');
    await expect.poll(async () => (await events()).filter((e) => e.type === 'frames').length, { timeout: 10_000 }).toBe(1);
    const frames = (await events()).find((e) => e.type === 'frames')!.detail as { blobs: { blob: number; type: string }[] };
    expect(frames.blobs.length).toBeGreaterThanOrEqual(2);
    expect(frames.blobs.every((b) => b.type === 'image/jpeg' && b.blob > 0)).toBe(true);
    expect(await cam.getByTestId('recording-count').textContent()).toBe(`Captured ${frames.blobs.length} frames`);
    // Mirroring and the frame rate are the app's to remember: the webcam emits them, and shows what it is given.
    await cam.getByLabel('Mirror').check();
    await cam.getByLabel('Frames per second').selectOption('10');
    expect((await events()).filter((e) => e.type === 'camera-change')).toEqual([
      { type: 'camera-change', detail: { patch: { mirror: true } } },
      { type: 'camera-change', detail: { patch: { fps: 10 } } },
    ]);
    await setProps({ camera: { deviceId: undefined, mirror: true, fps: 10 } });
    expect(await cam.locator('video').getAttribute('class')).toBe('mirrored');
    await cam.getByRole('button', { name: 'Stop camera' }).click();
    expect(await unnamedControls(page, 'clora-webcam')).toEqual([]);

    await mount('clora-webcam', { mode: 'live', label: 'Live' });
    await cam.getByRole('button', { name: 'Start camera' }).click();
    await expect.poll(async () => (await events()).filter((e) => e.type === 'frame').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await setProps({ busy: true });
    await page.waitForTimeout(300);
    const whileBusy = (await events()).filter((e) => e.type === 'frame').length;
    await page.waitForTimeout(600);
    expect((await events()).filter((e) => e.type === 'frame').length).toBe(whileBusy);
    await cam.getByRole('button', { name: 'Stop camera' }).click();
    expect(problems).toEqual([]);
  });
});

describe('Lit components for point clouds', () => {
  type PointWindow = TestWindow & { helixCloud(n: number, turns?: number): Float32Array };

  it('class card and data panel show 3-D previews and speak of point clouds; Try it takes a point file; the picker shows the kind', async () => {
    await page.evaluate(() => {
      const w = window as unknown as PointWindow;
      return w.mount('clora-class-card', { kind: 'points', view: { id: 'c1', name: 'chair', count: 38, validation: 7, thumbnails: [], clouds: [w.helixCloud(300), w.helixCloud(300, 2)] } });
    });
    const card = page.locator('clora-class-card');
    expect(await card.getByTestId('class-count').textContent()).toBe('38 point clouds (7 for validation)');
    expect(await card.getByRole('img', { name: /^chair sample \d, seen turned/ }).count()).toBe(2);
    expect(await card.getByText('Drop point clouds of “chair” here').count()).toBe(1);
    await card.getByLabel('Add point clouds to chair').setInputFiles({ name: 'a.ply', mimeType: 'application/octet-stream', buffer: Buffer.from('ply\n') });
    expect((await events()).at(-1)).toEqual({ type: 'add-files', detail: { files: [{ blob: 4, type: 'application/octet-stream', name: 'a.ply' }], classId: 'c1' } });

    // A preview turns from the keyboard (and Home puts it back); its pixels change with it.
    const preview = card.getByRole('img', { name: /^chair sample 1/ });
    const shot = (): Promise<string> => preview.evaluate((c) => (c as HTMLCanvasElement).toDataURL());
    const start = await shot();
    await preview.focus();
    await page.keyboard.press('ArrowRight');
    expect(await preview.getAttribute('data-yaw')).toBe((0.6 + Math.PI / 12).toFixed(3));
    const turned = await shot();
    expect(turned).not.toBe(start);
    await page.keyboard.press('ArrowUp');
    expect(await preview.getAttribute('data-pitch')).toBe((0.35 - Math.PI / 12).toFixed(3));
    await page.keyboard.press('Home');
    expect(await shot()).toBe(start);
    expect(await unnamedControls(page, 'clora-class-card')).toEqual([]);

    const data = { classes: [{ id: 'c1', name: 'chair', count: 3, validation: 0, thumbnails: [] }], skipped: [], validationShare: 0.2, total: 3, intake: undefined, message: undefined, sampleLoaded: false, kind: 'points' };
    await mount('clora-data-panel', { data, kind: 'points', pointCount: 1024 });
    const panel = page.locator('clora-data-panel');
    expect(await panel.getByTestId('data-summary').textContent()).toBe('3 point clouds in 1 class, 0 held out for validation');
    expect(await panel.getByTestId('data-hint').textContent()).toMatch(/brought to\s+the model's 1,024 points .* \(6\.1 KB each\)/s);
    expect(await panel.getByRole('button', { name: 'Start camera' }).count()).toBe(0);
    // The stored data is images but the backbone takes point clouds: the notice says so, the summary keeps the data's kind.
    await setProps({ data: { ...data, kind: 'images' }, notice: 'The data set holds 3 images, and P takes point clouds: it cannot train on them.' });
    expect(await panel.getByRole('alert').textContent()).toMatch(/^The data set holds 3 images/);
    expect(await panel.getByTestId('data-summary').textContent()).toBe('3 images in 1 class, 0 held out for validation');

    await mount('clora-try-it', { kind: 'points', modelLabel: 'a point model' });
    const tryIt = page.locator('clora-try-it');
    expect(await tryIt.getByRole('button', { name: 'Start camera' }).count()).toBe(0);
    await tryIt.getByLabel('Choose a point file').setInputFiles({ name: 'cup.xyz', mimeType: 'text/plain', buffer: Buffer.from('0 0 0\n1 1 1\n') });
    expect((await events()).at(-1)).toEqual({ type: 'predict-cloud', detail: { file: { blob: 12, type: 'text/plain', name: 'cup.xyz' } } });
    await page.evaluate(() => {
      const w = window as unknown as PointWindow;
      return w.setProps({ result: { classes: ['cup', 'mug'], top: [{ class: 'mug', index: 1, probability: 0.7 }, { class: 'cup', index: 0, probability: 0.3 }], model: 'trained', cloud: w.helixCloud(100) } });
    });
    expect(await tryIt.getByRole('list', { name: 'Top predictions' }).getByRole('listitem').allTextContents()).toEqual([expect.stringMatching(/mug\s+70\.0 %/), expect.stringMatching(/cup\s+30\.0 %/)]);
    expect(await tryIt.getByRole('img', { name: /^The point cloud being classified/ }).count()).toBe(1);
    expect(await unnamedControls(page, 'clora-try-it')).toEqual([]);

    const info = { kind: 'point', spec: 'p.pth', label: 'p.pth', depth: 2, dim: 24, heads: 1, parameters: 61_000, headClasses: [], fromCache: false, points: 1024, groups: 64, groupSize: 32 };
    // A point backbone the site bundles is offered beside the bundled ViT, with no download.
    const bundledPoint = { kind: 'point', id: 'clora-web/point-test', label: 'Bundled point transformer (test)', url: 'models/p.safetensors', bundled: true, heads: 4, points: 512, groups: 32, groupSize: 32, bytes: 1, license: 'MIT' };
    await mount('clora-backbone-picker', { state: { status: 'ready', choice: { kind: 'url', url: 'x' }, info, progress: undefined, message: undefined }, models: [bundledPoint] });
    const picker = page.locator('clora-backbone-picker');
    await picker.getByRole('radio', { name: 'Bundled point transformer (test): no download' }).check();
    expect((await events()).at(-1)).toEqual({ type: 'choose-backbone', detail: { choice: { kind: 'known', id: 'clora-web/point-test' } } });
    expect(await picker.getByTestId('backbone-info').textContent()).toMatch(/p\.pth: 2 blocks, width 24, 1 head, 1,024 points in 64 groups of 32, 0\.06 M parameters\.\s+Point transformer \(Point-MAE\): it takes point clouds/);
    await picker.getByRole('radio', { name: 'A file on this computer' }).check();
    expect(await picker.getByLabel('Backbone file (.safetensors) or PyTorch checkpoint (.pth)').getAttribute('accept')).toBe('.safetensors,.pth,.pt');
    expect(problems).toEqual([]);
  });
});
