// A training step that stays on the GPU, and the memory plan: one queue submission per step, metrics read
// back with a step's own submission, no pool growth after warm-up, every pipeline compiled before step 1;
// dry runs that measure a step without running it; activation recomputation that gives the same gradients
// with less memory; the micro-batch and recomputation the plan picks under a budget.
import { describe, expect, it } from 'vitest';
import { crossEntropy } from '../../src/autodiff/ops/loss';
import { Tape } from '../../src/autodiff/tape';
import { Tensor } from '../../src/autodiff/tensor';
import type { GpuContext } from '../../src/gpu/context';
import { Trainer, type TrainOptions } from '../../src/train/trainer';
import { freshGpu } from '../helpers/gpu';
import { TINY_VIT, tinyDataset, tinyModel } from '../helpers/tiny-model';

const CFG = TINY_VIT;
const dataset = tinyDataset;
const model = tinyModel;

const OPTIONS: TrainOptions = { optimizer: 'adamw', lr: 1e-3, weightDecay: 1e-4, steps: 12, batchSize: 4, warmup: 0, labelSmoothing: 0, seed: 1, shuffle: true, logEvery: 4 };

describe('a training step that stays on the GPU', () => {
  it('one submission per step, reads only with report steps, no pool growth after warm-up, nothing compiled after prepare()', async () => {
    const ctx = await freshGpu();
    const m = await model(ctx);
    const trainer = await Trainer.create(m, dataset(10, 1), { ...OPTIONS, steps: 24 });
    const prepared = await trainer.prepare();
    expect(prepared.kernels).toBeGreaterThan(20);
    expect(ctx.pipelines.has({ shader: 'adamw', entry: 'adamw' })).toBe(true);
    const compiledOnDispatch = ctx.pipelines.compiledOnDispatch;
    const before = { ...ctx.stats };
    let allocationsAtStep12 = -1;
    const steps: number[] = [];
    await trainer.run((metrics) => {
      steps.push(metrics.step);
      if (metrics.step === 12) allocationsAtStep12 = ctx.pool.allocations;
    });
    expect(steps).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    // Batches of 4 from 10 images: full and short (2) batches both had their pipelines prepared.
    expect(ctx.pipelines.compiledOnDispatch).toBe(compiledOnDispatch);
    // run() reads the starting state once (2 reads); then each step is one submission, and each of the 6
    // reports reads losses, adapter and optimizer state with its step's submission.
    expect(ctx.stats.submissions - before.submissions).toBe(24 + 2);
    expect(ctx.stats.reads - before.reads).toBe(2 + 6 * 3);
    // Batches of 4, 4, 2 and reports every 4 steps repeat every 12 steps: the pool is steady after one cycle.
    expect(allocationsAtStep12).toBeGreaterThan(0);
    expect(ctx.pool.allocations).toBe(allocationsAtStep12);
    ctx.destroy();
  });

  it('a dry run compiles and allocates nothing, leaves the pool as it was, and measures the peak a real step reaches', async () => {
    const ctx = await freshGpu();
    const m = await model(ctx);
    const trainer = await Trainer.create(m, dataset(4, 2), { ...OPTIONS, steps: 1, logEvery: 1 });
    const plan = trainer.planMemory();
    expect(plan.microBatchSize).toBe(4);
    expect(plan.recompute).toBe(false);
    expect(ctx.pipelines.compiled).toBe(0);
    const inUse = ctx.pool.inUseBytes;
    const allocations = ctx.pool.allocations;
    expect(ctx.pool.allocatedBytes).toBe(inUse);
    expect(ctx.stats.dispatches).toBe(0);

    await trainer.run();
    expect(ctx.pool.inUseBytes).toBe(inUse);
    expect(ctx.pool.allocations).toBeGreaterThan(allocations);
    // The real step's peak (pool accounting) is the one the dry run recorded.
    expect(ctx.pool.peakInUseBytes).toBe(plan.plannedPeakBytes);
    ctx.destroy();
  });
});

describe('recomputing activations', () => {
  async function gradients(ctx: GpuContext, recompute: boolean, dropout: number) {
    const m = await model(ctx, { dropout });
    m.recompute = recompute;
    const data = dataset(5, 4);
    const x = Tensor.fromData(ctx, [5, 3, CFG.imageSize, CFG.imageSize], data.inputs);
    const y = Tensor.fromData(ctx, [5], Float32Array.from(data.labels));
    m.parts.trainable.zeroGrad();
    const tape = new Tape(ctx);
    const loss = crossEntropy(m.forward(x, { training: true, seed: 77 }), y);
    const sade = m.sade()!;
    tape.backward([loss, sade]);
    const [value] = await ctx.readMany([loss]);
    tape.dispose();
    x.dispose();
    y.dispose();
    const grads = await ctx.readMany([m.parts.trainable.gradRange]);
    m.dispose();
    return { loss: value![0]!, grads: grads[0]! };
  }

  it('gives the same loss and gradients as keeping them (CLoRA with dropout, SADE on the same tape)', async () => {
    const ctx = await freshGpu();
    const kept = await gradients(ctx, false, 0.3);
    const again = await gradients(ctx, true, 0.3);
    expect(again.loss).toBe(kept.loss);
    const scale = kept.grads.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    const err = kept.grads.reduce((a, v, i) => Math.max(a, Math.abs(v - again.grads[i]!)), 0);
    expect(err / scale).toBeLessThan(1e-5);
    ctx.destroy();
  });

  it('gives the same gradients for LoRA and for full fine-tuning', async () => {
    const ctx = await freshGpu();
    for (const method of ['lora', 'full'] as const) {
      const m1 = await gradientsFor(ctx, method, false);
      const m2 = await gradientsFor(ctx, method, true);
      const scale = m1.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const err = m1.reduce((a, v, i) => Math.max(a, Math.abs(v - m2[i]!)), 0);
      expect(err / scale, method).toBeLessThan(1e-5);
    }
    ctx.destroy();
  });

  async function gradientsFor(ctx: GpuContext, method: 'lora' | 'full', recompute: boolean): Promise<Float32Array> {
    const m = await model(ctx, { method, dropout: 0 });
    m.recompute = recompute;
    const data = dataset(3, 6);
    const x = Tensor.fromData(ctx, [3, 3, CFG.imageSize, CFG.imageSize], data.inputs);
    const y = Tensor.fromData(ctx, [3], Float32Array.from(data.labels));
    m.parts.trainable.zeroGrad();
    const tape = new Tape(ctx);
    tape.backward(crossEntropy(m.forward(x, { training: true, seed: 1 }), y));
    tape.dispose();
    x.dispose();
    y.dispose();
    const [grads] = await ctx.readMany([m.parts.trainable.gradRange]);
    m.dispose();
    return grads!;
  }

  it('lowers the peak of a step, and the plan turns it on (or cuts the micro-batch) when the budget is tight', async () => {
    const ctx = await freshGpu();
    const m = await model(ctx);
    const trainer = await Trainer.create(m, dataset(16, 5), { ...OPTIONS, batchSize: 16 });
    const roomy = trainer.planMemory();
    expect(roomy).toMatchObject({ microBatchSize: 16, recompute: false, fits: true });
    const keep16 = roomy.tried.find((t) => t.microBatchSize === 16 && !t.recompute)!;
    expect(roomy.bytesPerSample.keep).toBeGreaterThan(roomy.bytesPerSample.recompute);

    // Just under what the whole batch needs: the largest micro-batch ≥ 8 that keeps its activations.
    const halved = await Trainer.create(m, dataset(16, 5), { ...OPTIONS, batchSize: 16, memoryBudget: keep16.peakBytes - 1 });
    const plan8 = halved.planMemory();
    expect(plan8).toMatchObject({ microBatchSize: 8, recompute: false, fits: true });
    expect(plan8.plannedPeakBytes).toBeLessThan(keep16.peakBytes);

    // Under what micro-batches of 8 need: recompute, with the largest micro-batch that then fits.
    const keep8 = plan8.tried.find((t) => t.microBatchSize === 8 && !t.recompute)!;
    const tight = await Trainer.create(m, dataset(16, 5), { ...OPTIONS, batchSize: 16, memoryBudget: keep8.peakBytes - 1 });
    const planR = tight.planMemory();
    expect(planR.recompute).toBe(true);
    expect(planR.fits).toBe(true);
    expect(planR.plannedPeakBytes).toBeLessThan(keep8.peakBytes);

    // Nothing fits: the smallest plan, said so.
    const none = await Trainer.create(m, dataset(16, 5), { ...OPTIONS, batchSize: 16, memoryBudget: 1024 });
    expect(none.planMemory()).toMatchObject({ microBatchSize: 1, recompute: true, fits: false });

    // A fixed micro-batch is kept; recompute follows the option.
    const fixed = await Trainer.create(m, dataset(16, 5), { ...OPTIONS, batchSize: 16, microBatchSize: 4, recompute: true });
    expect(fixed.planMemory()).toMatchObject({ microBatchSize: 4, recompute: true });
    ctx.destroy();
  });

  it('trains with recomputation to the same adapter as without', async () => {
    const ctx = await freshGpu();
    const results: Map<string, Float32Array>[] = [];
    for (const recompute of [false, true]) {
      const m = await model(ctx);
      const trainer = await Trainer.create(m, dataset(8, 7), { ...OPTIONS, steps: 3, logEvery: 3, recompute });
      expect((await trainer.prepare()).plan.recompute).toBe(recompute);
      await trainer.run();
      results.push(await m.parts.trainable.readAll());
      trainer.dispose();
      m.dispose();
    }
    for (const [name, data] of results[0]!) {
      const other = results[1]!.get(name)!;
      const err = data.reduce((a, v, i) => Math.max(a, Math.abs(v - other[i]!)), 0);
      expect(err, name).toBeLessThan(1e-6);
    }
    ctx.destroy();
  });
});
