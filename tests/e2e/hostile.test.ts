// Hostile content in headless Chromium: class names, file names and a backbone's __metadata__ carrying HTML
// and script are shown as the literal text, never run, and add no element; nothing a file holds (URLs in
// metadata included) makes the page request anything; a zip bomb and names that climb out of the archive
// are handled in the browser as in Node. Checkpoint records damaged in IndexedDB are left out of the list or
// refused on resume with a sentence, and the page keeps working.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize } from 'node:v8';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { Rng } from '../../src/train/rng';
import { makeZip } from '../helpers/zip-bomb';
import { app, artifact, openApp, SAMPLE_IMAGE, SMALL_BACKBONE, watchOutsideRequests } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

// Every payload, if it ever ran, would push its number onto window.__pwned, add an element whose id starts
// with "injected", or request a URL (evil.example, or "x" on the page's own origin).
const CLASS_NAMES = ['<img src=x onerror=__pwned.push(1)>', '<svg onload=__pwned.push(2)>', '"><b id=injected-3>bold', "${__pwned.push(4)}{{constructor.constructor('__pwned.push(5)')()}}"];
const FILE_NAMES = ['<img src=x onerror=__pwned.push(6)>.txt', '<b id=injected-7>notes.txt'];
const BACKBONE_LABEL = '<img src=https://evil.example/model.png onerror=__pwned.push(8)>';
const HEAD_CLASSES = ['<script>__pwned.push(9)</script>', '<img src=https://evil.example/c.png onerror=__pwned.push(10)>', '<a href="javascript:__pwned.push(11)" id=injected-11>x</a>'];

function png(seed: number): Uint8Array {
  const image = new PNG({ width: 12, height: 10 });
  const rng = new Rng(seed);
  for (let i = 0; i < image.data.length; i++) image.data[i] = i % 4 === 3 ? 255 : Math.floor(rng.next() * 256);
  return new Uint8Array(PNG.sync.write(image));
}

/** The small fixture backbone with a 3-class head and hostile metadata (label, class names, URLs). */
async function hostileBackbone(path: string): Promise<void> {
  const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(SMALL_BACKBONE.slice(1)))));
  const tensors = await Promise.all(file.names().map(async (name) => ({ name, shape: file.tensors.get(name)!.shape, data: await file.readF32(name) })));
  const dim = file.tensors.get('cls_token')!.shape.at(-1)!;
  const rng = new Rng(4);
  tensors.push({ name: 'head.weight', shape: [3, dim], data: Float32Array.from({ length: 3 * dim }, () => rng.uniform(-1, 1)) });
  tensors.push({ name: 'head.bias', shape: [3], data: new Float32Array(3) });
  const metadata = {
    ...file.metadata,
    model: BACKBONE_LABEL,
    classes: JSON.stringify(HEAD_CLASSES),
    homepage: 'https://evil.example/home',
    base_model: 'https://evil.example/base.safetensors',
    url: 'https://evil.example/weights.safetensors',
    license: '<a href=https://evil.example/license id=injected-12>MIT</a>',
    mean: 'javascript:__pwned.push(13)',
  };
  writeFileSync(path, writeSafetensors(tensors, metadata));
}

/** Watches for any sign a payload ran: pushes, dialogs, injected elements, images pointing elsewhere. */
async function evidence(page: Page, dialogs: string[]): Promise<{ pwned: number[]; dialogs: string[]; injected: string[] }> {
  const found = await page.evaluate(() => {
    const injected: string[] = [];
    const visit = (root: Document | ShadowRoot): void => {
      for (const el of Array.from(root.querySelectorAll('*'))) {
        if (el.id.startsWith('injected')) injected.push(el.outerHTML.slice(0, 80));
        if (el.tagName === 'SCRIPT' && root !== document) injected.push(el.outerHTML.slice(0, 80));
        if (el.tagName === 'IMG' && /evil|^x$/.test(el.getAttribute('src') ?? '')) injected.push(el.outerHTML.slice(0, 80));
        if (el.tagName === 'A' && /^javascript:/i.test(el.getAttribute('href') ?? '')) injected.push(el.outerHTML.slice(0, 80));
        if (el.shadowRoot) visit(el.shadowRoot);
      }
    };
    visit(document);
    return { pwned: (window as unknown as { __pwned: number[] }).__pwned, injected };
  });
  return { ...found, dialogs };
}

async function prepare(page: Page): Promise<string[]> {
  await page.addInitScript(() => {
    (window as unknown as { __pwned: number[] }).__pwned = [];
  });
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return dialogs;
}

describe('hostile content', () => {
  it('class names, file names and backbone metadata with HTML and script are shown as text, run nothing and request nothing', { timeout: 300_000 }, async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    const outside = watchOutsideRequests(page, env.baseUrl);
    const sameOriginX: string[] = [];
    page.on('request', (r) => {
      if (/\/x$/.test(r.url())) sameOriginX.push(r.url());
    });
    const dialogs = await prepare(page);
    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });

    const dir = mkdtempSync(join(tmpdir(), 'clora-hostile-'));
    const backbonePath = join(dir, 'hostile-backbone.safetensors');
    await hostileBackbone(backbonePath);
    await app(page).getByRole('radio', { name: 'A file on this computer' }).check();
    await app(page).getByLabel('Backbone file (.safetensors)').setInputFiles(backbonePath);
    const info = app(page).getByTestId('backbone-info');
    await expect.poll(async () => info.locator('strong').textContent().catch(() => ''), { timeout: 60_000 }).toBe(BACKBONE_LABEL);

    // A zip whose class folders and file names are payloads, with a zip bomb (600 MB of zeros whose header
    // says 1000 bytes) and names that climb out of the archive.
    const zipPath = join(dir, 'hostile.zip');
    writeFileSync(
      zipPath,
      makeZip([
        ...CLASS_NAMES.flatMap((name, k) => [0, 1].map((i) => ({ name: `set/${name}/${i}.png`, data: png(10 * k + i) }))),
        ...FILE_NAMES.map((name) => ({ name: `set/${CLASS_NAMES[0]}/${name}`, data: new TextEncoder().encode('not an image') })),
        { name: `set/${CLASS_NAMES[1]}/bomb.png`, zerosMB: 600, declaredSize: 1000 },
        { name: `../../set/${CLASS_NAMES[2]}/climbed.png`, data: png(99) },
      ]),
    );
    await app(page).getByLabel('Add a .zip').setInputFiles(zipPath);
    await expect.poll(async () => app(page).getByTestId('data-message').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/Adding the zip file: added 9 images, skipped 3/);
    const headings = await app(page).locator('clora-class-card h3').allTextContents();
    expect([...headings].sort()).toEqual([...CLASS_NAMES].sort());
    for (const name of CLASS_NAMES) expect(await app(page).getByRole('region', { name: `Class ${name}`, exact: true }).count(), name).toBe(1);
    const skipped = (await app(page).getByRole('list', { name: 'Skipped files' }).textContent()) ?? '';
    for (const name of FILE_NAMES) expect(skipped).toContain(`set/${CLASS_NAMES[0]}/${name}: not an image (.txt)`);
    expect(skipped).toMatch(/bomb\.png: it unpacks to more than 256 MB, the limit for one file in a zip \(larger than any image\): a zip bomb or not a data file/);

    // The backbone's own head answers with its (hostile) class names.
    await app(page).getByLabel('Choose an image').setInputFiles(SAMPLE_IMAGE);
    const top = app(page).getByRole('list', { name: 'Top predictions' }).locator('li strong');
    await expect.poll(() => top.count(), { timeout: 60_000 }).toBe(3);
    expect((await top.allTextContents()).sort()).toEqual([...HEAD_CLASSES].sort());
    await page.screenshot({ path: artifact('hostile-content.png'), fullPage: true });

    expect(await evidence(page, dialogs)).toEqual({ pwned: [], dialogs: [], injected: [] });
    expect(outside).toEqual([]);
    expect(sameOriginX).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('damaged checkpoint records are left out or refused with a sentence, and the page keeps working', { timeout: 300_000 }, async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    const dialogs = await prepare(page);
    // A real record (tests/fixtures/idb-checkpoint), turned into plain values the page rebuilds.
    const record = deserialize(readFileSync('tests/fixtures/idb-checkpoint/tiny-clora-step3.v8')) as { meta: Record<string, unknown>; data: { state: Record<string, unknown> & { trainable: Map<string, Float32Array>; optimizer: { step: number; m: Float32Array; v: Float32Array } }; accuracy: unknown[] } };
    const plainData = (d: typeof record.data, momentsShort: boolean) => ({
      ...d,
      state: {
        ...d.state,
        trainable: [...d.state.trainable].map(([k, v]) => [k, [...v]]),
        optimizer: { step: d.state.optimizer.step, m: [...d.state.optimizer.m].slice(momentsShort ? 1 : 0), v: [...d.state.optimizer.v] },
      },
    });
    const damaged = { meta: record.meta, data: plainData(record.data, true) };
    const hostileMeta = { ...record.meta, id: 'run-hostile@3-0', runId: 'run-hostile', createdAt: (record.meta.createdAt as number) + 1000, classes: HEAD_CLASSES, backbone: { spec: 'x', label: BACKBONE_LABEL, url: undefined } };
    const hostile = { meta: hostileMeta, data: plainData(record.data, false) };
    const broken = { meta: { id: 'broken', step: 'five', settings: '<b id=injected-20>' }, data: null };

    await page.goto(`${env.baseUrl}/?backbone=${encodeURIComponent(SMALL_BACKBONE)}`);
    await page.evaluate(async (records) => {
      const open = (name: string, store: string): Promise<IDBDatabase> =>
        new Promise((resolve, reject) => {
          const request = indexedDB.open(name);
          request.onupgradeneeded = () => request.result.createObjectStore(store);
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      const put = async (db: IDBDatabase, store: string, key: string, value: unknown): Promise<void> =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(store, 'readwrite');
          tx.objectStore(store).put(value, key);
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
        });
      const rebuild = (data: { state: { trainable: [string, number[]][]; optimizer: { step: number; m: number[]; v: number[] } } } | null) =>
        data && {
          ...data,
          state: { ...data.state, trainable: new Map(data.state.trainable.map(([k, v]) => [k, Float32Array.from(v)])), optimizer: { step: data.state.optimizer.step, m: Float32Array.from(data.state.optimizer.m), v: Float32Array.from(data.state.optimizer.v) } },
        };
      const meta = await open('clora-web-checkpoints', 'meta');
      const data = await open('clora-web-checkpoint-data', 'data');
      for (const r of records) {
        const id = (r.meta as { id: string }).id;
        await put(meta, 'meta', id, r.meta);
        if (r.data) await put(data, 'data', id, rebuild(r.data as never));
      }
      meta.close();
      data.close();
    }, [damaged, hostile, broken]);

    await openApp(page, env.baseUrl, { backbone: SMALL_BACKBONE });
    const listed = app(page).getByTestId('checkpoint');
    await expect.poll(() => listed.count(), { timeout: 60_000 }).toBe(2);
    const alert = app(page).getByTestId('checkpoint-message');
    await expect.poll(async () => alert.textContent().catch(() => ''), { timeout: 30_000 }).toBe('A saved checkpoint cannot be used: the run id is missing. It is left out of the list.');
    expect(await alert.getAttribute('role')).toBe('alert');
    expect(await listed.first().textContent()).toContain(`clora on ${BACKBONE_LABEL}`);

    await listed.filter({ hasText: 'the tiny test ViT' }).getByRole('button', { name: /^Resume from the checkpoint/ }).click();
    const message = app(page).getByTestId('run-message');
    await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 60_000 }).toBe(
      'The checkpoint at step 3 cannot be resumed: its saved training state is damaged (the optimizer moments have 895 and 896 values; they must match). Delete it, or start a new run with Train.',
    );
    await page.screenshot({ path: artifact('hostile-checkpoints.png'), fullPage: true });
    // Still working: the damaged checkpoint can be deleted, and the page answers.
    await listed.filter({ hasText: 'the tiny test ViT' }).getByRole('button', { name: /^Delete the checkpoint/ }).click();
    await expect.poll(() => listed.count(), { timeout: 30_000 }).toBe(1);
    const newClass = app(page).getByLabel('New class');
    await newClass.fill('still working');
    await newClass.press('Enter');
    await expect.poll(() => app(page).getByRole('region', { name: 'Class still working' }).count(), { timeout: 30_000 }).toBe(1);
    expect(await evidence(page, dialogs)).toEqual({ pwned: [], dialogs: [], injected: [] });
    expect(problems).toEqual([]);
    await context.close();
  });
});
