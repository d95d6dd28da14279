// The trainer as users drive it: bad settings refused before any GPU work, folders with unusable files,
// gradient accumulation, evaluation output, pause/resume and the NaN guard.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { readAdapterFile } from '../../src/clora/files';
import { createFineTuneModel } from '../../src/clora/model';
import { loadTensorDataset } from '../../src/data/load-node';
import { bytesSource, openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { vitConfigFromShapes } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import { Trainer, TrainingDiverged, type TrainOptions } from '../../src/train/trainer';
import { freshGpu } from '../helpers/gpu';

const root = new URL('../../', import.meta.url).pathname;
const backbone = join(root, 'tests/fixtures/train/backbone.safetensors');
const data = join(root, 'tests/fixtures/train/data.safetensors');

/** Runs the CLI in-process, capturing what it prints. */
async function clora(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  try {
    const code = await main(args);
    return { code, stderr, stdout };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

const base = (out: string) => ['train', '--model', backbone, '--data', data, '--steps', '1', '--batch-size', '6', '--out', out];

describe('bad settings are refused with the reason, before training', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'clora-bad-')), 'a.safetensors');
  const cases: [string[], RegExp][] = [
    [['--rank', '0'], /rank must be a whole number ≥ 1 \(got 0\)/],
    [['--spaces', '0'], /spaces must be a whole number ≥ 1/],
    [['--lr', '0'], /learning rate must be greater than 0/],
    [['--lr=-1'], /learning rate must be greater than 0/],
    [['--targets', 'q,attn'], /Unknown target "attn"/],
    [['--batch-size', '7'], /batch size 7 is larger than the data set \(6 images\)/],
    [['--method', 'prefix'], /Unknown method "prefix"/],
    [['--optimizer', 'adam'], /Unknown optimizer "adam"/],
    [['--rank', 'eight'], /--rank must be a whole number, got "eight"/],
    [['--precision', 'f8'], /Unknown precision "f8": use f32 or f16/],
  ];
  for (const [extra, message] of cases) {
    it(extra.join(' '), async () => {
      const r = await clora([...base(out), ...extra]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/training clora on/);
    });
  }

  it('a data set with one class only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-one-'));
    const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(data))));
    writeFileSync(join(dir, 'one.safetensors'), writeSafetensors([{ name: 'pixel_values', shape: [6, 3, 8, 8], data: await file.readF32('pixel_values') }, { name: 'labels', shape: [6], data: new Int32Array(6) }]));
    const r = await clora(['train', '--model', backbone, '--data', join(dir, 'one.safetensors'), '--steps', '1', '--batch-size', '2', '--out', join(dir, 'a.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/only one class .* at least two/);
  });

  it('an --init adapter for another method or class count', async () => {
    const r = await clora([...base(out), '--method', 'lora', '--init', join(root, 'tests/fixtures/train/init_clora.safetensors')]);
    expect(r.stderr).toMatch(/trained with method "clora", not "lora"/);
  });
});

describe('adapter options that do not apply to the method', () => {
  const fixture = (name: string): string => join(root, `tests/fixtures/train/${name}.safetensors`);
  const out = (): string => join(mkdtempSync(join(tmpdir(), 'clora-unused-')), 'a.safetensors');

  it('--method head --init head.safetensors --targets q,v trains, noting that --targets is ignored', async () => {
    const r = await clora([...base(out()), '--method', 'head', '--init', fixture('init_head'), '--targets', 'q,v']);
    expect(r.stderr).not.toMatch(/differs/);
    expect(r.stderr).toMatch(/note: --targets does not apply to --method head \(it trains only the classifier head\); ignored\./);
    expect(r.stderr).toMatch(/training head on 6 images/);
    expect(r.code).toBe(0);
  });

  it('each LoRA/CLoRA option given to head or full gets its note, and training goes on', async () => {
    const r = await clora([...base(out()), '--method', 'full', '--rank', '4', '--spaces', '2', '--targets', 'q', '--scale', '2', '--sade-weight', '0.5', '--dropout', '0.2']);
    for (const option of ['rank', 'spaces', 'targets', 'scale', 'sade-weight', 'dropout']) {
      expect(r.stderr).toMatch(new RegExp(`note: --${option} does not apply to --method full \\(it trains every weight`));
    }
    expect(r.code).toBe(0);
  });

  it('LoRA ignores --spaces and --sade-weight, and still compares --rank and --targets with its --init adapter', async () => {
    const ignored = await clora([...base(out()), '--method', 'lora', '--init', fixture('init_lora'), '--spaces', '3', '--sade-weight', '1']);
    expect(ignored.stderr).toMatch(/note: --spaces does not apply to --method lora/);
    expect(ignored.stderr).toMatch(/note: --sade-weight does not apply to --method lora/);
    expect(ignored.code).toBe(0);
    const rank = await clora([...base(out()), '--method', 'lora', '--init', fixture('init_lora'), '--rank', '8']);
    expect(rank.code).toBe(1);
    expect(rank.stderr).toMatch(/--rank 8 differs from the --init adapter's rank 4: leave --rank out to continue with the adapter's own\./);
    const targets = await clora([...base(out()), '--method', 'clora', '--init', fixture('init_clora'), '--targets', 'q,k,v']);
    expect(targets.code).toBe(1);
    expect(targets.stderr).toMatch(/--targets q,k,v differs from the --init adapter's targets q,v/);
    const same = await clora([...base(out()), '--method', 'clora', '--init', fixture('init_clora'), '--targets', 'v,q', '--rank', '4', '--spaces', '2']);
    expect(same.stderr).not.toMatch(/differs|does not apply/);
    expect(same.code).toBe(0);
  });
});

describe('a folder of images', () => {
  it('trains on the usable files and lists the rest with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clora-folder-'));
    const rng = new Rng(5);
    for (const [k, name] of ['circles', 'squares'].entries()) {
      mkdirSync(join(dir, name));
      for (let i = 0; i < 4; i++) {
        const png = new PNG({ width: 11, height: 9 });
        for (let p = 0; p < 11 * 9 * 4; p++) png.data[p] = p % 4 === 3 ? 255 : Math.floor(rng.next() * 128 + 100 * k);
        writeFileSync(join(dir, name, `${i}.png`), PNG.sync.write(png));
      }
    }
    writeFileSync(join(dir, 'circles', 'notes.txt'), 'not an image');
    writeFileSync(join(dir, 'squares', 'empty.png'), '');
    writeFileSync(join(dir, 'squares', 'broken.png'), PNG.sync.write(new PNG({ width: 4, height: 4 })).subarray(0, 40));
    const out = join(dir, 'adapter.safetensors');
    const r = await clora(['train', '--model', backbone, '--data', dir, '--method', 'head', '--steps', '2', '--batch-size', '4', '--out', out]);
    expect(r.stderr).toMatch(/skipped .*notes\.txt: /);
    expect(r.stderr).toMatch(/skipped .*empty\.png: /);
    expect(r.stderr).toMatch(/skipped .*broken\.png: /);
    expect(r.stderr).toMatch(/training head on 8 images of 2 classes/);
    expect(r.code).toBe(0);
    const e = await clora(['eval', '--model', backbone, '--adapter', out, '--data', dir, '--json']);
    const result = JSON.parse(e.stdout) as { count: number; classes: string[]; perClass: unknown[]; confusion: number[][] };
    expect(result.count).toBe(8);
    expect(result.classes).toEqual(['circles', 'squares']);
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(8);
    expect(result.perClass).toHaveLength(2);
  });
});

describe('the trainer', () => {
  async function setup(options: Partial<TrainOptions> = {}) {
    const ctx = await freshGpu();
    const file = await openSafetensors(bytesSource(new Uint8Array(readFileSync(backbone))));
    const cfg = vitConfigFromShapes(new Map([...file.tensors].map(([n, t]) => [n, t.shape] as const)), 3);
    const init = await readAdapterFile(await openSafetensors(bytesSource(new Uint8Array(readFileSync(join(root, 'tests/fixtures/train/init_clora.safetensors'))))), cfg);
    const dataset = await loadTensorDataset(data);
    const model = await createFineTuneModel(ctx, cfg, { ...init.settings, dropout: 0 }, init.classes, (n) => file.readF32(n), init.tensors);
    const trainer = await Trainer.create(model, dataset, { optimizer: 'adamw', lr: 0.01, weightDecay: 0.05, steps: 4, batchSize: 6, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: false, logEvery: 1, ...options });
    return { ctx, model, trainer };
  }

  it('accumulating micro-batches of 2 gives the same update as the full batch of 6', async () => {
    const full = await setup();
    await full.trainer.run();
    const micro = await setup({ microBatchSize: 2 });
    await micro.trainer.run();
    const a = await full.model.parts.trainable.readAll();
    const b = await micro.model.parts.trainable.readAll();
    for (const [name, data] of a) {
      const other = b.get(name)!;
      const err = data.reduce((m, v, i) => Math.max(m, Math.abs(v - other[i]!)), 0);
      expect(err, name).toBeLessThan(2e-5);
    }
    full.ctx.destroy();
    micro.ctx.destroy();
  });

  it('pauses, saves its state, and a new trainer resumes to the same result as an uninterrupted run', async () => {
    const straight = await setup();
    const losses: number[] = [];
    await straight.trainer.run((m) => losses.push(m.loss));
    expect(losses).toHaveLength(4);
    const paused = await setup();
    let seen = 0;
    const first = await paused.trainer.run(() => {
      if (++seen === 2) paused.trainer.pause();
    });
    expect(first).toBe('paused');
    expect(paused.trainer.currentStep).toBe(2);
    const state = await paused.trainer.state();
    const resumed = await setup();
    resumed.trainer.loadState(state);
    expect(await resumed.trainer.run()).toBe('done');
    expect(resumed.trainer.history.map((m) => m.loss)).toEqual(losses.map((l, i) => (i < 2 ? l : expect.closeTo(l, 5))));
    const a = await straight.model.parts.trainable.readAll();
    const b = await resumed.model.parts.trainable.readAll();
    for (const [name, data] of a) expect([...b.get(name)!], name).toEqual([...data]);
    for (const t of [straight, paused, resumed]) t.ctx.destroy();
  });

  it('pauses exactly after the steps pauseAfter names, with their metrics reported, even with reports every 3 steps', async () => {
    const run = await setup({ steps: 7, logEvery: 3 });
    const reported: number[] = [];
    const stops: number[] = [];
    const due = (step: number) => step === 2 || step === 5;
    for (;;) {
      const result = await run.trainer.run((m) => reported.push(m.step), due);
      stops.push(run.trainer.currentStep);
      if (result === 'done') break;
      expect(result).toBe('paused');
    }
    expect(stops).toEqual([2, 5, 7]);
    // Each pause reports its own step, so a checkpoint saved there carries its metrics.
    expect(reported).toEqual(expect.arrayContaining([2, 5, 7]));
    expect(run.trainer.history.map((m) => m.step)).toEqual([...reported].sort((a, b) => a - b));
    run.ctx.destroy();
  });

  it('stops with a message and restores the last good state when the loss becomes NaN', async () => {
    const run = await setup({ lr: 1e30, optimizer: 'sgd', steps: 6 });
    const before = await run.model.parts.trainable.readAll();
    const error = await run.trainer.run().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDiverged);
    expect((error as Error).message).toMatch(/diverged at step \d+: the loss became (NaN|Infinity|-Infinity)\. The adapter was restored to step \d+; lower the learning rate/);
    const after = await run.model.parts.trainable.readAll();
    for (const data of after.values()) expect(data.every(Number.isFinite)).toBe(true);
    expect(after.size).toBe(before.size);
    run.ctx.destroy();
  });
});

