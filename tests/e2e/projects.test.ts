// Projects that travel, in headless Chromium on the small fixture backbones: a run is paused and saved as a
// project, then carried on to the end; a fresh browser context (empty storage, as on another machine) opens
// the project and resumes it. Both ends agree: the same stored images (or point clouds), the same adapter
// tensors and the same metrics history and accuracy points. A project from a newer format version and a
// damaged zip are refused with a sentence and change nothing; Export data set writes only the class folders.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackbone } from '../../src/cli/model-source';
import { loadPointCloud } from '../../src/data/points/load-cloud';
import { readCheckpoint, type CheckpointRun } from '../../src/io/checkpoint-file';
import { storedCloudOf } from '../../src/io/project-clouds';
import { validateProject } from '../../src/io/project-file';
import { bytesSource, openSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { app, artifact, downloadBytes, keepClasses, openApp, phaseTimer, progressValue, runStatus, setNumber, SMALL_BACKBONE, useSampleData } from './app-helpers';
import { startBrowserEnv, watchPage, type BrowserEnv } from './browser';
import { storedClouds, storedSamples, type StoredSet } from './stored-samples';

const CLASSES = ['tshirt-top', 'trouser', 'bag'];
/** The small point fixture backbone (48 points, 8 groups of 8) and three classes of the sample point set (44 clouds). */
const POINT_BACKBONE = '/tests/fixtures/train_points/backbone.safetensors';
const POINT_CLASSES = ['armchair', 'bed', 'lamp'];

let env: BrowserEnv;
beforeAll(async () => {
  env = await startBrowserEnv();
});
afterAll(async () => {
  await env?.close();
});

async function download(page: Page, button: string): Promise<Uint8Array> {
  const downloading = page.waitForEvent('download');
  await app(page).getByRole('button', { name: button, exact: true }).click();
  // A refusal shows instead of a download: say it rather than time out.
  const download = await downloading.catch(async (error: unknown) => {
    throw new Error(`${button} gave no download (${String(error)}); the page says: ${await app(page).getByTestId('project-message').textContent().catch(() => 'nothing')}`);
  });
  return downloadBytes(download);
}

async function saveProject(page: Page): Promise<Uint8Array> {
  const bytes = await download(page, 'Save project');
  await expect.poll(async () => app(page).getByTestId('project-message').textContent(), { timeout: 60_000 }).toMatch(/^Saved clora-project-.+\.zip/);
  return bytes;
}

async function openProject(page: Page, path: string): Promise<string> {
  await app(page).getByLabel('Open project').setInputFiles(path);
  const confirm = app(page).getByRole('group', { name: 'Confirm opening the project' });
  if (await confirm.count()) await confirm.getByRole('button', { name: 'Open it' }).click();
  const message = app(page).getByTestId('project-message');
  await expect.poll(async () => message.textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/^(Opened|This|The|.+ could not)/);
  return (await message.textContent()) ?? '';
}

const smallCfg = (() => {
  const bytes = new Uint8Array(readFileSync(SMALL_BACKBONE.slice(1)));
  return openSafetensors(bytesSource(bytes)).then((file) => vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), Number(file.metadata.num_heads)));
})();

/** The project zip's checkpoint, read as the command line reads checkpoint files. */
async function checkpointOf(zip: Uint8Array, cfg: Parameters<typeof readCheckpoint>[1] | Promise<Parameters<typeof readCheckpoint>[1]> = smallCfg): Promise<CheckpointRun> {
  const entries = unzipSync(zip);
  return readCheckpoint(await openSafetensors(bytesSource(entries['checkpoint.safetensors']!)), await cfg);
}

function sameSamples(a: StoredSet, b: StoredSet): void {
  expect(b.classes).toEqual(a.classes);
  expect(b.samples.map((s) => [s.key, s.label, s.size, s.validation])).toEqual(a.samples.map((s) => [s.key, s.label, s.size, s.validation]));
  a.samples.forEach((s, i) => expect(Buffer.compare(Buffer.from(b.samples[i]!.rgb), Buffer.from(s.rgb)), s.key).toBe(0));
}

/** The resumed run ended where the uninterrupted one did: the same adapter tensors, and the same curve step by step. */
async function sameRun(adapterA: Uint8Array, adapterB: Uint8Array, finalA: CheckpointRun, finalB: CheckpointRun): Promise<void> {
  const [fileA, fileB] = await Promise.all([openSafetensors(bytesSource(adapterA)), openSafetensors(bytesSource(adapterB))]);
  expect(fileB.names().sort()).toEqual(fileA.names().sort());
  for (const name of fileA.names()) {
    const x = await fileA.readF32(name);
    const y = await fileB.readF32(name);
    const scale = Math.max(1e-6, ...Array.from(x, Math.abs));
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * scale);
  }
  const curve = (run: CheckpointRun) => run.state.history.map((m) => [m.step, m.epoch, m.lr]);
  expect(curve(finalB)).toEqual(curve(finalA));
  finalA.state.history.forEach((m, i) => {
    const n = finalB.state.history[i]!;
    expect(Math.abs(n.loss - m.loss), `loss at step ${m.step}`).toBeLessThan(1e-5);
    expect(Math.abs(n.sade - m.sade), `SADE at step ${m.step}`).toBeLessThan(1e-6);
  });
  expect(finalB.state.step).toBe(finalA.state.step);
}

describe('projects', () => {
  it('save a paused run as a project, open it in a fresh browser, resume: the same images, adapter and curves as the run carried on', { timeout: 600_000 }, async () => {
    const started = Date.now();
    const phases: Record<string, number> = {};
    const phase = (name: string): void => {
      phases[name] = Math.round((Date.now() - started) / 100) / 10;
    };
    // The first machine: sample data, a CLoRA run paused part-way, saved as a project.
    const contextA = await env.browser.newContext({ acceptDownloads: true });
    const a = await contextA.newPage();
    const problemsA = watchPage(a);
    await openApp(a, env.baseUrl, { backbone: SMALL_BACKBONE });
    await useSampleData(a);
    await keepClasses(a, CLASSES);
    await setNumber(a, 'Epochs', 2);
    await setNumber(a, 'Batch size', 40);
    await app(a).getByText('Advanced').click();
    await setNumber(a, 'Checkpoint every (steps)', 2);
    await setNumber(a, 'Seed', 7);
    await app(a).getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => progressValue(a), { timeout: 240_000 }).toBeGreaterThanOrEqual(2);
    await app(a).getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => runStatus(a), { timeout: 60_000 }).toMatch(/^Paused\./);
    const pausedAt = await progressValue(a);
    expect(pausedAt).toBeLessThan(6);
    await expect.poll(async () => app(a).getByTestId('checkpoint').first().textContent(), { timeout: 30_000 }).toContain(`step ${pausedAt} of 6`);
    phase('A paused');
    const project = await saveProject(a);
    const projectPath = artifact('projects-paused.zip');
    writeFileSync(projectPath, project);
    const entries = unzipSync(project);
    const manifest = validateProject(JSON.parse(new TextDecoder().decode(entries['project.json'])));
    expect(manifest.classes.map((c) => c.name)).toEqual(CLASSES);
    expect(manifest.classes.map((c) => c.files.length)).toEqual([50, 50, 50]);
    expect(manifest.validationShare).toBe(0.2);
    expect(manifest.settings).toMatchObject({ method: 'clora', epochs: 2, batchSize: 40, checkpointEvery: 2, seed: 7 });
    expect(manifest.backbone.url).toContain(SMALL_BACKBONE);
    expect(manifest.checkpoint).toMatchObject({ step: pausedAt, totalSteps: 6, reason: 'pause', checkpointEvery: 2, quick: false });
    const images = Object.keys(entries).filter((p) => p.startsWith('images/'));
    expect(images).toHaveLength(150);
    expect(images.every((p) => /^images\/(tshirt-top|trouser|bag)\/\d{9}\.png$/.test(p))).toBe(true);
    const pausedCheckpoint = await checkpointOf(project);
    expect(pausedCheckpoint.state.step).toBe(pausedAt);
    expect(pausedCheckpoint.state.optimizer.m.some((v) => v !== 0)).toBe(true);
    expect(pausedCheckpoint.state.history.map((m) => m.step)).toEqual(Array.from({ length: pausedAt }, (_, i) => i + 1));
    const samplesA = await storedSamples(a);
    phase('A saved');

    // The first machine carries on: the uninterrupted run.
    await app(a).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => runStatus(a), { timeout: 240_000 }).toMatch(/^Done\./);
    const adapterA = await download(a, 'Export adapter');
    const finalA = await checkpointOf(await saveProject(a));
    phase('A done');

    // Another machine: a fresh context with empty storage opens the paused project and resumes it.
    const contextB = await env.browser.newContext({ acceptDownloads: true });
    const b = await contextB.newPage();
    const problemsB = watchPage(b);
    await openApp(b, env.baseUrl, { backbone: SMALL_BACKBONE });
    expect(await app(b).getByTestId('checkpoint').count()).toBe(0);
    const opened = await openProject(b, projectPath);
    expect(opened).toMatch(new RegExp(`^Opened projects-paused\\.zip: 150 images in 3 classes, the settings and its checkpoint at step ${pausedAt} of 6: press Resume to go on training\\.`));
    await expect.poll(async () => app(b).getByTestId('data-summary').textContent()).toMatch(/150 images in 3 classes, 30 held out for validation/);
    sameSamples(samplesA, await storedSamples(b));
    expect(await app(b).getByLabel('Seed', { exact: true }).inputValue()).toBe('7');
    await expect.poll(() => runStatus(b), { timeout: 30_000 }).toContain(`A saved run can continue from step ${pausedAt} of 6`);
    await b.screenshot({ path: artifact('projects-opened.png'), fullPage: true });
    await app(b).locator('section[aria-labelledby="h-project"]').screenshot({ path: artifact('projects-opened-panel.png'), scale: 'css' });
    phase('B opened');
    await app(b).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => runStatus(b), { timeout: 240_000 }).toMatch(/^Done\./);
    const adapterB = await download(b, 'Export adapter');
    const projectB = await saveProject(b);
    const finalB = await checkpointOf(projectB);
    phase('B resumed to the end');

    // The same adapter and the same curve as the run that was never interrupted.
    await sameRun(adapterA, adapterB, finalA, finalB);
    expect(finalB.state.step).toBe(6);
    const accuracyOf = (zip: Uint8Array) => validateProject(JSON.parse(new TextDecoder().decode(unzipSync(zip)['project.json']))).checkpoint!.accuracy;
    const accuracyA = accuracyOf(await saveProject(a));
    expect(accuracyOf(projectB)).toEqual(accuracyA);
    expect(accuracyA.length).toBe(2);

    // Refused, with a sentence, and nothing changes: a project from a newer format, and a damaged zip.
    const checkpointsBefore = await app(b).getByTestId('checkpoint').allTextContents();
    const samplesB = await storedSamples(b);
    const newer = { ...entries, 'project.json': new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(entries['project.json'])), format_version: 3 })) };
    const newerPath = artifact('projects-newer.zip');
    writeFileSync(newerPath, zipSync(newer));
    expect(await openProject(b, newerPath)).toMatch(/^This project was saved by a newer version of clora-web \(project format version 3; this page reads version 2\)\. .*Nothing here was changed\.$/);
    expect(await app(b).getByTestId('project-message').getAttribute('role')).toBe('alert');
    const damagedPath = artifact('projects-damaged.zip');
    writeFileSync(damagedPath, project.subarray(0, Math.floor(project.length * 0.6)));
    expect(await openProject(b, damagedPath)).toMatch(/damaged|could not be read|truncated/);
    expect(await openProject(b, damagedPath)).toMatch(/Nothing here was changed\.$/);
    const missing = { ...entries };
    delete missing['images/bag/000000150.png'];
    delete missing[Object.keys(entries).find((p) => p.startsWith('images/bag/'))!];
    const missingPath = artifact('projects-missing-image.zip');
    writeFileSync(missingPath, zipSync(missing));
    expect(await openProject(b, missingPath)).toMatch(/^This project file is damaged: \d of its images are missing \(images\/bag\/.+\)\..*Nothing here was changed\.$/);
    sameSamples(samplesB, await storedSamples(b));
    expect(await app(b).getByTestId('checkpoint').allTextContents()).toEqual(checkpointsBefore);
    await b.screenshot({ path: artifact('projects-refused.png'), fullPage: true });
    phase('refusals checked');

    // Export data set: the labelled class folders, nothing else.
    const dataSet = unzipSync(await download(b, 'Export data set'));
    const paths = Object.keys(dataSet);
    expect(paths).toHaveLength(150);
    expect(new Set(paths.map((p) => p.split('/')[0]))).toEqual(new Set(CLASSES));
    expect(paths.every((p) => /^[a-z-]+\/\d{9}\.png$/.test(p))).toBe(true);

    process.stdout.write(`projects flow, seconds since start: ${JSON.stringify(phases)}\n`);
    expect(problemsA).toEqual([]);
    expect(problemsB).toEqual([]);
    await contextA.close();
    await contextB.close();
  });
  it('a point-cloud project: saved paused, opened in a fresh browser, resumed to the same adapter and curve; exported as class folders of .npy', { timeout: 300_000 }, async () => {
    const { phases, phase } = phaseTimer();
    // Three classes of the sample point set as a user drops them: a folder of class folders of .npy files.
    const folder = mkdtempSync(join(tmpdir(), 'clora-point-project-'));
    for (const c of POINT_CLASSES) cpSync(join('public/samples/points', c), join(folder, 'furniture', c), { recursive: true });
    const pointCfg = openBackbone(POINT_BACKBONE.slice(1)).then(async (b) => {
      await b.close();
      return b.cfg;
    });
    const contextA = await env.browser.newContext({ acceptDownloads: true });
    const a = await contextA.newPage();
    const problemsA = watchPage(a);
    await openApp(a, env.baseUrl, { backbone: POINT_BACKBONE });
    await app(a).getByLabel('Add a folder').setInputFiles(join(folder, 'furniture'));
    await expect.poll(async () => app(a).getByTestId('data-message').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/added 44 point clouds\./);
    await setNumber(a, 'Epochs', 2);
    await setNumber(a, 'Batch size', 12);
    await app(a).getByText('Advanced').click();
    await setNumber(a, 'Checkpoint every (steps)', 2);
    await setNumber(a, 'Seed', 5);
    // No dropout: the companion continues this run from the saved project (python/tests/test_point_project.py), and
    // dropout masks are the one thing the engine and PyTorch do not draw alike.
    await setNumber(a, 'Dropout', 0);
    await app(a).getByLabel('Scale and shift point clouds at random (Point-MAE)').check();
    phase('A ready');
    await app(a).getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => progressValue(a), { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
    await app(a).getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => runStatus(a), { timeout: 60_000 }).toMatch(/^Paused\./);
    const pausedAt = await progressValue(a);
    expect(pausedAt).toBeLessThan(6);
    await expect.poll(async () => app(a).getByTestId('checkpoint').first().textContent(), { timeout: 30_000 }).toContain(`step ${pausedAt} of 6`);
    const project = await saveProject(a);
    expect(await app(a).getByTestId('project-message').textContent()).toMatch(/: 44 point clouds in 3 classes, the settings, and the checkpoint at step \d of 6\.$/);
    const projectPath = artifact('projects-points-paused.zip');
    writeFileSync(projectPath, project);
    phase('A paused and saved');

    // What the zip holds: project.json of version 2 with the kind and the point settings, each stored cloud as
    // .npy float32 that reads back to exactly the 16-bit values the page stored.
    const entries = unzipSync(project);
    const json = JSON.parse(new TextDecoder().decode(entries['project.json'])) as Record<string, unknown>;
    expect(json).toMatchObject({ format_version: 2, kind: 'points', points: { count: 48, groups: 8, groupSize: 8 } });
    const manifest = validateProject(json);
    expect(manifest.classes.map((c) => [c.name, c.files.length]).sort()).toEqual([['armchair', 14], ['bed', 15], ['lamp', 15]]);
    expect(manifest.checkpoint).toMatchObject({ step: pausedAt, totalSteps: 6, reason: 'pause', quick: false });
    expect(manifest.settings).toMatchObject({ epochs: 2, batchSize: 12, seed: 5, dropout: 0, augment: true });
    const clouds = Object.keys(entries).filter((p) => p.startsWith('clouds/'));
    expect(clouds).toHaveLength(44);
    expect(Object.keys(entries).filter((p) => !p.startsWith('clouds/')).sort()).toEqual(['checkpoint.safetensors', 'project.json']);
    const storedA = await storedClouds(a);
    expect(storedA.samples).toHaveLength(44);
    for (const s of storedA.samples) {
      const path = `clouds/${storedA.classes[s.label]}/${s.key.slice(s.key.lastIndexOf('/') + 1)}.npy`;
      const back = await storedCloudOf(entries[path]!, path);
      expect(back.count, path).toBe(48);
      expect(Buffer.compare(Buffer.from(back.points.buffer), Buffer.from(s.points.buffer)), path).toBe(0);
    }
    const pausedCheckpoint = await checkpointOf(project, pointCfg);
    expect(pausedCheckpoint.state.step).toBe(pausedAt);

    // The first machine carries on: the uninterrupted run.
    await app(a).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => runStatus(a), { timeout: 240_000 }).toMatch(/^Done\./);
    const adapterA = await download(a, 'Export adapter');
    const doneProject = await saveProject(a);
    // The two projects are the companion's point-project fixtures too (tests/fixtures/project/points-*.zip).
    writeFileSync(artifact('projects-points-done.zip'), doneProject);
    const finalA = await checkpointOf(doneProject, pointCfg);
    phase('A done');

    // Another machine: empty storage, the point backbone, Open project, Resume.
    const contextB = await env.browser.newContext({ acceptDownloads: true });
    const b = await contextB.newPage();
    const problemsB = watchPage(b);
    await openApp(b, env.baseUrl, { backbone: POINT_BACKBONE });
    const opened = await openProject(b, projectPath);
    expect(opened).toMatch(new RegExp(`^Opened projects-points-paused\\.zip: 44 point clouds in 3 classes, the settings and its checkpoint at step ${pausedAt} of 6: press Resume to go on training\\.`));
    await expect.poll(async () => app(b).getByTestId('data-summary').textContent()).toMatch(/^44 point clouds in 3 classes/);
    const storedB = await storedClouds(b);
    expect(storedB.classes).toEqual(storedA.classes);
    expect(storedB.samples.map((s) => [s.key, s.label, s.validation, s.count])).toEqual(storedA.samples.map((s) => [s.key, s.label, s.validation, s.count]));
    storedA.samples.forEach((s, i) => expect(Buffer.compare(Buffer.from(storedB.samples[i]!.points.buffer), Buffer.from(s.points.buffer)), s.key).toBe(0));
    expect(await app(b).getByLabel('Scale and shift point clouds at random (Point-MAE)').isChecked()).toBe(true);
    await expect.poll(() => runStatus(b), { timeout: 30_000 }).toContain(`A saved run can continue from step ${pausedAt} of 6`);
    phase('B opened');
    await app(b).getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => runStatus(b), { timeout: 240_000 }).toMatch(/^Done\./);
    const adapterB = await download(b, 'Export adapter');
    const projectB = await saveProject(b);
    await sameRun(adapterA, adapterB, finalA, await checkpointOf(projectB, pointCfg));
    const accuracyOf = (zip: Uint8Array) => validateProject(JSON.parse(new TextDecoder().decode(unzipSync(zip)['project.json']))).checkpoint!.accuracy;
    expect(accuracyOf(projectB)).toEqual(accuracyOf(await saveProject(a)));
    phase('B resumed to the end');

    // Export data set: the class folders of .npy files, which the point readers read as the stored clouds.
    const dataSet = unzipSync(await download(b, 'Export data set'));
    expect(await app(b).getByTestId('project-message').textContent()).toMatch(/: 44 point clouds in 3 class folders\.$/);
    const paths = Object.keys(dataSet);
    expect(paths).toHaveLength(44);
    expect(paths.every((p) => /^(armchair|bed|lamp)\/\d{9}\.npy$/.test(p))).toBe(true);
    const first = storedB.samples[0]!;
    const firstPath = `${storedB.classes[first.label]}/${first.key.slice(first.key.lastIndexOf('/') + 1)}.npy`;
    const reread = await loadPointCloud(bytesSource(dataSet[firstPath]!, firstPath), { points: 48, seed: 0 });
    reread.points.forEach((v, i) => expect(Math.abs(v - first.points[i]! / 32767), `${firstPath}[${i}]`).toBeLessThan(2e-3));

    process.stdout.write(`point project flow, seconds since start: ${JSON.stringify(phases)}\n`);
    expect(problemsA).toEqual([]);
    expect(problemsB).toEqual([]);
    await contextA.close();
    await contextB.close();
    rmSync(folder, { recursive: true, force: true });
  });
});
