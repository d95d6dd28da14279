// Mixed-precision training (precision 'f16'): f16 activations, f32 master weights and adapter, dynamic loss
// scaling on the GPU. A seeded tiny ViT (depth 3, width 32, 2 heads, 17 tokens) with a CLoRA adapter on q,
// v and fc1 (tests/helpers/tiny-model.ts).
import { describe, expect, it } from 'vitest';
import { createFineTuneModel, initialTensors } from '../../src/clora/model';
import { DEFAULT_ADAPTER_SETTINGS, SettingsError, type AdapterSettings } from '../../src/clora/settings';
import type { Dataset } from '../../src/data/dataset';
import type { GpuContext } from '../../src/gpu/context';
import { vitShapes, type VitConfig } from '../../src/nn/vit';
import { Rng } from '../../src/train/rng';
import { checkPrecision, Trainer, type TrainMetrics, type TrainOptions } from '../../src/train/trainer';
import { freshGpu, gpu } from '../helpers/gpu';
import { seededTensor } from '../helpers/seeded-weights';
import { TINY_CLASSES, TINY_VIT, tinyDataset, tinyModel } from '../helpers/tiny-model';

const CFG = TINY_VIT;
const CLASSES = TINY_CLASSES;
const dataset = tinyDataset;

function model(ctx: GpuContext, settings: Partial<AdapterSettings> = {}) {
  return tinyModel(ctx, { targets: ['q', 'v', 'fc1'], dropout: 0, ...settings });
}

const OPTIONS: TrainOptions = { optimizer: 'adamw', lr: 3e-3, weightDecay: 1e-4, steps: 12, batchSize: 4, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: true, logEvery: 1 };

async function train(ctx: GpuContext, options: Partial<TrainOptions>) {
  const m = await model(ctx);
  const trainer = await Trainer.create(m, dataset(8, 1), { ...OPTIONS, ...options });
  const metrics: TrainMetrics[] = [];
  await trainer.run((x) => metrics.push(x));
  const adapter = await m.parts.trainable.readAll();
  return { m, trainer, metrics, adapter };
}

describe('f16 mixed-precision training', () => {
  it('tracks the f32 run: losses within 2% (absolute 0.02), the change of the adapter within 5% (L2), and it stays f32', async () => {
    const ctx = await gpu();
    const full = await train(ctx, {});
    const mixed = await train(ctx, { precision: 'f16' });
    expect(mixed.m.precision).toBe('f16');
    expect(full.m.precision).toBe('f32');
    expect(full.trainer.lossScaler).toBeUndefined();
    expect(mixed.metrics.map((x) => x.step)).toEqual(full.metrics.map((x) => x.step));
    mixed.metrics.forEach((x, i) => {
      const ref = full.metrics[i]!.loss;
      expect(Math.abs(x.loss - ref), `step ${x.step}: f16 ${x.loss} vs f32 ${ref}`).toBeLessThanOrEqual(Math.max(0.02 * ref, 0.02));
      expect(x.skippedSteps).toBe(0);
      expect(x.lossScale).toBe(2 ** 15);
    });
    // It learned: the loss fell as in f32.
    expect(mixed.metrics.at(-1)!.loss).toBeLessThan(mixed.metrics[0]!.loss);
    // Master weights stay f32 in the one flat f32 buffer, and moved like the f32 run's.
    const start = initialTensors(CFG, { ...DEFAULT_ADAPTER_SETTINGS, rank: 4, spaces: 2, targets: ['q', 'v', 'fc1'], dropout: 0 }, CLASSES.length, new Rng(3));
    for (const name of mixed.m.parts.trainable.names()) {
      expect(mixed.m.parts.trainable.get(name).dtype).toBe('f32');
      const a = mixed.adapter.get(name)!;
      const b = full.adapter.get(name)!;
      expect(a).toBeInstanceOf(Float32Array);
      // AdamW normalises each update, so single near-zero gradients may differ in sign between the runs:
      // compare the whole tensor's change (L2) rather than each element.
      const s = name.startsWith('clora.up.') ? seededTensor(name, [1, b.length], 9) : start.get(name)!;
      let change = 0;
      let diff = 0;
      for (let i = 0; i < b.length; i++) {
        change += (b[i]! - s[i]!) ** 2;
        diff += (a[i]! - b[i]!) ** 2;
      }
      expect(Math.sqrt(diff), name).toBeLessThanOrEqual(0.05 * Math.sqrt(change) + 1e-6);
    }
    full.trainer.dispose();
    mixed.trainer.dispose();
    full.m.dispose();
    mixed.m.dispose();
  });

  it('keeps activations in f16: the planned activation bytes per sample drop by at least 30%', async () => {
    // Recorded and not run (a dry run), so a wider model costs nothing to measure: 65 tokens, width 96.
    const cfg: VitConfig = { depth: 2, dim: 96, heads: 2, patch: 4, imageSize: 32, channels: 3, mlpDim: 384, tokens: 65, classes: 0 };
    const ctx = await gpu();
    const shapes = vitShapes(cfg);
    const data: Dataset = { classes: CLASSES, sampleShape: [3, 32, 32], count: 8, inputs: new Float32Array(8 * 3 * 32 * 32), labels: Int32Array.from({ length: 8 }, (_, i) => i % 3), skipped: [] };
    const perSample: number[] = [];
    for (const precision of ['f32', 'f16'] as const) {
      const s: AdapterSettings = { ...DEFAULT_ADAPTER_SETTINGS, rank: 4, spaces: 2 };
      const m = await createFineTuneModel(ctx, cfg, s, CLASSES, async (name) => new Float32Array(shapes.get(name)!.reduce((a, b) => a * b, 1)), initialTensors(cfg, s, 3, new Rng(1)));
      const trainer = await Trainer.create(m, data, { ...OPTIONS, batchSize: 8, precision });
      perSample.push(trainer.planMemory().bytesPerSample.keep);
      trainer.dispose();
      m.dispose();
    }
    // Not half: statistics, logsumexps, the f32 copies the CLoRA branch reads, and the f32 tensors before the
    // first and after the last block stay f32 (about ×0.65 here, ×0.63 for ViT-S/16: bench/f16.ts).
    expect(perSample[1]!).toBeLessThan(0.7 * perSample[0]!);
  });

  it('an overflowing loss scale skips the update (weights unchanged), halves the scale, and training goes on', async () => {
    const ctx = await gpu();
    const m = await model(ctx);
    const trainer = await Trainer.create(m, dataset(8, 1), { ...OPTIONS, steps: 30, precision: 'f16', lossScale: { initialScale: 2 ** 40 } });
    const before = await m.parts.trainable.readAll();
    const metrics: TrainMetrics[] = [];
    expect(await trainer.run((x) => metrics.push(x), (step) => step === 1)).toBe('paused');
    expect(metrics.map((x) => [x.step, x.lossScale, x.skippedSteps])).toEqual([[1, 2 ** 39, 1]]);
    const afterSkip = await m.parts.trainable.readAll();
    for (const [name, data] of before) expect([...afterSkip.get(name)!], name).toEqual([...data]);
    expect((await trainer.lossScaleState())!.appliedSteps).toBe(0);
    expect((await trainer.optimizer.state()).step).toBe(0);

    expect(await trainer.run((x) => metrics.push(x))).toBe('done');
    const last = metrics.at(-1)!;
    // Each skip halved the scale until the gradients fit in f16; then the updates were applied.
    const skipped = last.skippedSteps!;
    expect(skipped).toBeGreaterThan(1);
    expect(skipped).toBeLessThan(30);
    expect(last.lossScale).toBe(2 ** (40 - skipped));
    metrics.forEach((x, i) => {
      if (i > 0) expect(x.skippedSteps! - metrics[i - 1]!.skippedSteps!).toBeLessThanOrEqual(1);
      expect(Number.isFinite(x.loss)).toBe(true);
    });
    const state = (await trainer.lossScaleState())!;
    expect(state.appliedSteps).toBe(30 - skipped);
    const after = await m.parts.trainable.readAll();
    expect([...after.get('head.weight')!]).not.toEqual([...before.get('head.weight')!]);
    trainer.dispose();
    m.dispose();
  });

  it('is refused, with a sentence, on an adapter without shader-f16', async () => {
    expect(() => checkPrecision('f16', new Set(['subgroups']))).toThrow(SettingsError);
    expect(() => checkPrecision('f16', new Set())).toThrow(/shader-f16.*train with f32 precision instead\./);
    expect(() => checkPrecision('f32', new Set())).not.toThrow();
    // The trainer asks the context's own feature list.
    const ctx = await gpu();
    const m = await model(ctx);
    const features = ctx.features;
    (ctx as { features: ReadonlySet<string> }).features = new Set([...features].filter((f) => f !== 'shader-f16'));
    try {
      await expect(Trainer.create(m, dataset(8, 1), { ...OPTIONS, precision: 'f16' })).rejects.toThrow(SettingsError);
    } finally {
      (ctx as { features: ReadonlySet<string> }).features = features;
    }
    expect(m.precision).toBe('f32');
    m.dispose();
  });

  it('one submission per step, reads only with report steps, no pool growth after warm-up, nothing compiled after prepare()', async () => {
    const ctx = await freshGpu();
    const m = await model(ctx);
    const trainer = await Trainer.create(m, dataset(10, 1), { ...OPTIONS, steps: 24, logEvery: 4, precision: 'f16' });
    await trainer.prepare();
    expect(ctx.pipelines.has({ shader: 'adamw', entry: 'adamw_scaled' })).toBe(true);
    expect(ctx.pipelines.has({ shader: 'adamw', entry: 'check_finite' })).toBe(true);
    const compiledOnDispatch = ctx.pipelines.compiledOnDispatch;
    const before = { ...ctx.stats };
    let allocationsAtStep12 = -1;
    await trainer.run((metrics) => {
      if (metrics.step === 12) allocationsAtStep12 = ctx.pool.allocations;
    });
    expect(ctx.pipelines.compiledOnDispatch).toBe(compiledOnDispatch);
    // run() reads the starting state once: adapter, loss-scale state twice (its own and the optimizer's
    // applied-step count) and the moments, 4 reads of one submission each. Then each step is one
    // submission; each of the 6 reports reads losses, adapter, the optimizer (2) and the loss scale with
    // its step's submission.
    expect(ctx.stats.submissions - before.submissions).toBe(24 + 4);
    expect(ctx.stats.reads - before.reads).toBe(4 + 6 * 5);
    expect(allocationsAtStep12).toBeGreaterThan(0);
    expect(ctx.pool.allocations).toBe(allocationsAtStep12);
    ctx.destroy();
  });
});
